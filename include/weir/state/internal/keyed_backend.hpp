#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Keyed state on the heap. A keyed operator owns one `HeapKeyedBackend<K>`; before each record
/// or timer it sets the current key, and every state handle then reads and writes that key's
/// entry. Keys are mapped to dense slots once per record, so state tables are indexed by slot,
/// not by key; a slot is recycled when its key holds no state and no timer. Each slot knows its
/// key group, so state and timers can be written and restored per key group.
///
/// Threading: the operator's task thread only.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/common/errors.hpp"
#include "weir/state/snapshot.hpp"
#include "weir/common/key_groups.hpp"
#include "weir/serde/serde.hpp"
#include "weir/state/kv_store.hpp"

namespace weir {
namespace detail {

/// Hashes keys for operator-local key maps: absl::Hash where it applies, else the serialised form.
template <class K>
struct KeyHash {
  std::size_t operator()(const K& k) const {
    if constexpr (requires { absl::Hash<K>{}(k); }) {
      return absl::Hash<K>{}(k);
    } else {
      thread_local std::string buf;
      buf.clear();
      serialize_into(buf, k);
      return absl::Hash<std::string_view>{}(std::string_view(buf));
    }
  }
};

/// The per-key tables of one state name.
class StateTableBase {
 public:
  virtual ~StateTableBase() = default;
  virtual std::size_t size() const = 0;
  /// Calls `emit(slot, payload)` for every entry (checkpoints). Throws StateError when the
  /// value type cannot be serialised.
  virtual void snapshot(const std::function<void(uint32_t slot, std::string_view payload)>& emit) = 0;
  /// Restores one entry of the current key from a payload `snapshot` wrote.
  virtual void restore_current(std::string_view payload) = 0;
  /// RocksDB mode: writes back the cached entry of the current key (before the key changes).
  virtual void flush() {}
};

/// Decodes one stored value of keyed state `state` (of operator `uid`, empty if unknown) with
/// `read(ByteReader&)`, which must consume all of `bytes`: a value that does not decode, or
/// leaves bytes over, was written as another type. Throws IncompatibleStateError naming both.
template <class Read>
auto decode_state_value(const std::string& uid, const std::string& state, std::string_view bytes, Read&& read) {
  const auto what = [&] { return (uid.empty() ? std::string() : "operator uid '" + uid + "', ") + "keyed state '" + state + "': "; };
  ByteReader r(bytes);
  try {
    auto v = read(r);
    if (!r.at_end()) {
      throw IncompatibleStateError(what() + "a stored value of " + std::to_string(bytes.size()) + " bytes has " +
                                   std::to_string(r.remaining()) +
                                   " bytes left over after decoding; it was written as another type: restore it with "
                                   "the type it was saved with");
    }
    return v;
  } catch (const SerdeError& e) {
    throw IncompatibleStateError(what() + "a stored value does not decode (" + e.what() +
                                 "); it was written as another type or is corrupt: restore it with the type it was "
                                 "saved with");
  }
}

/// Says which state cannot be checkpointed and why.
[[noreturn]] inline void no_serde(const std::string& what) {
  throw StateError(what + " cannot be checkpointed: its type has no weir::Serde; declare the type with "
                          "WEIR_SERDE(Type, fields...) or specialise weir::Serde<Type>");
}

/// Slots and current key, independent of the key type.
class KeyedBackendBase {
 public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  virtual ~KeyedBackendBase() = default;

  uint32_t current_slot() const { return current_; }
  int key_group_of_slot(uint32_t slot) const { return key_groups_[slot]; }
  /// A table, created by `make` on first use. Throws when the name is used with another type.
  /// Entries restored for this name before it was registered are handed to it now.
  /// `state_type`, when given, is recorded in snapshots; a restore refuses
  /// (IncompatibleStateError) a table whose saved type differs.
  StateTableBase* table(const std::string& name, std::type_index type,
                        const std::function<std::unique_ptr<StateTableBase>()>& make,
                        const runtime::StateType* state_type = nullptr) {
    for (auto& t : tables_) {
      if (t.name == name) {
        if (t.type != type) throw GraphError("keyed state '" + name + "' was already registered with another type");
        return t.table.get();
      }
    }
    if (state_type) runtime::check_state_type(uid_, saved_type(name), *state_type);
    tables_.push_back(Entry{name, type, make(), state_type ? std::optional<runtime::StateType>(*state_type) : std::nullopt});
    StateTableBase* t = tables_.back().table.get();
    auto it = pending_.find(name);
    if (it != pending_.end()) {
      auto entries = std::move(it->second);
      pending_.erase(it);
      const uint32_t saved = current_;
      for (auto& [slot, payload] : entries) {
        current_ = slot;
        t->restore_current(payload);
        unref(slot);
      }
      current_ = saved;
    }
    return t;
  }

  /// Before restored records are applied: the operator's uid (for messages) and the types its
  /// states were saved with. Throws IncompatibleStateError when the key type or the type of an
  /// already registered state differs from what was saved.
  void begin_restore(const runtime::StateRestore& r) {
    uid_ = r.operator_uid();
    saved_types_.clear();
    for (const auto& t : r.state_types()) {
      if (t.scope == runtime::StateScope::keyed || t.scope == runtime::StateScope::key) saved_types_.push_back(t);
    }
    if (auto kt = key_type()) runtime::check_state_type(uid_, r.saved_type(runtime::StateScope::key, ""), *kt);
    for (const auto& t : tables_) {
      if (t.state_type) runtime::check_state_type(uid_, saved_type(t.name), *t.state_type);
    }
  }
  /// The saved type of keyed state `name`, or null.
  const runtime::StateType* saved_type(std::string_view name) const {
    for (const auto& t : saved_types_) {
      if (t.scope == runtime::StateScope::keyed && t.name == name) return &t;
    }
    return nullptr;
  }
  /// The operator's uid, once a restore named it (for messages).
  const std::string& operator_uid() const { return uid_; }
  /// The key type, as recorded in snapshots (none when the key has no Serde).
  virtual std::optional<runtime::StateType> key_type() const = 0;

  /// The serialised key of a slot, and making a serialised key current.
  virtual std::string key_bytes(uint32_t slot) const = 0;
  virtual void set_current_key_bytes(std::string_view key) = 0;
  /// The length of the serialised key at the start of `bytes`.
  virtual std::size_t key_length(std::string_view bytes) const = 0;

  // ---- RocksDB mode ---------------------------------------------------------------------------
  // Tables keep only the current key's entry in memory and read and write the store, under
  // keys laid out as key group (2 bytes, big-endian) | serialised key | state name | namespace,
  // so a key group's state is one contiguous range. Entries do not hold their key's slot.

  KvStore* store() const { return store_.get(); }
  /// RocksDB mode: how many entries each table keeps cached in memory (at least 1).
  std::size_t cache_entries() const { return cache_entries_; }
  void set_cache_entries(std::size_t n) { cache_entries_ = n; }
  void attach_store(std::unique_ptr<KvStore> store) { store_ = std::move(store); }
  std::unique_ptr<KvStore>& store_ptr() { return store_; }
  /// Store key prefix of the current key: key group | key.
  const std::string& current_prefix() {
    if (prefix_slot_ != current_) {
      prefix_.clear();
      const int kg = key_groups_[current_];
      prefix_.push_back(static_cast<char>((kg >> 8) & 0xff));
      prefix_.push_back(static_cast<char>(kg & 0xff));
      prefix_ += key_bytes(current_);
      prefix_slot_ = current_;
    }
    return prefix_;
  }
  static std::string name_part(std::string_view name) {
    std::string out;
    ByteWriter w(out);
    w.write_varint(name.size());
    w.write_bytes(name.data(), name.size());
    return out;
  }
  static std::string key_group_start(int kg) {
    return std::string{static_cast<char>((kg >> 8) & 0xff), static_cast<char>(kg & 0xff)};
  }
  /// A table that holds an operator's own state in RocksDB mode: savepoints write its entries
  /// as that operator's records named `record_name` (what the heap mode writes), so both
  /// modes read each other's savepoints.
  void mark_operator_table(const std::string& table, const std::string& record_name) {
    operator_tables_.emplace_back(name_part(table), record_name);
  }
  void flush_tables() {
    for (auto& t : tables_) t.table->flush();
  }
  /// Savepoints from the store: every entry as a canonical record (payload: the namespace,
  /// then the value).
  void snapshot_store(runtime::SnapshotContext& ctx) {
    store_->scan({}, {}, [&](std::string_view k, std::string_view v) {
      if (k.size() < 2) throw StateError("RocksDB state: a key is shorter than its key group");
      const int kg = (static_cast<unsigned char>(k[0]) << 8) | static_cast<unsigned char>(k[1]);
      std::string_view rest = k.substr(2);
      const std::size_t kl = key_length(rest);
      const std::string_view key = rest.substr(0, kl);
      ByteReader r(rest.substr(kl));
      const auto nl = r.read_varint();
      const std::string_view name = r.read_view(nl);
      const std::string_view ns = r.read_view(r.remaining());
      std::string payload(ns);
      payload.append(v);
      auto op = std::find_if(operator_tables_.begin(), operator_tables_.end(),
                             [&](const auto& t) { return name_part(name) == t.first; });
      if (op != operator_tables_.end()) {
        runtime::write_keyed_record(ctx.key_group(kg), runtime::KeyedRecord::kOperator, op->second, key, payload);
      } else {
        runtime::write_keyed_record(ctx.key_group(kg), runtime::KeyedRecord::kState, name, key, payload);
      }
      return true;
    });
  }

  /// Writes every state entry into the key-group streams of `ctx` (checkpoints), including
  /// restored entries of states not registered (again) since.
  void snapshot_tables(runtime::SnapshotContext& ctx) {
    if (auto kt = key_type()) ctx.add_state_type(std::move(*kt));
    for (const auto& t : tables_) {
      if (t.state_type) ctx.add_state_type(*t.state_type);
    }
    // Saved types of states not registered (again) since go on with their records.
    for (const auto& t : saved_types_) {
      if (t.scope == runtime::StateScope::keyed) ctx.add_state_type(t);
    }
    std::string key;
    if (store_) {
      flush_tables();
      // Savepoints are canonical records; checkpoints are the store's own files, uploaded
      // incrementally after the synchronous part.
      if (ctx.is_savepoint()) {
        snapshot_store(ctx);
      } else {
        ctx.snapshot().kv = std::shared_ptr<KvSnapshot>(store_->snapshot());
      }
    }
    for (auto& t : tables_) {
      t.table->snapshot([&](uint32_t slot, std::string_view payload) {
        key = key_bytes(slot);
        runtime::write_keyed_record(ctx.key_group(key_groups_[slot]), runtime::KeyedRecord::kState, t.name, key, payload);
      });
    }
    for (auto& [name, entries] : pending_) {
      for (auto& [slot, payload] : entries) {
        key = key_bytes(slot);
        runtime::write_keyed_record(ctx.key_group(key_groups_[slot]), runtime::KeyedRecord::kState, name, key, payload);
      }
    }
  }
  /// Restores one state record (the key must be current): into its table if registered, else
  /// kept until it is.
  void restore_state_record(std::string_view name, std::string_view payload) {
    for (auto& t : tables_) {
      if (t.name == name) {
        t.table->restore_current(payload);
        return;
      }
    }
    ref(current_);
    pending_[std::string(name)].emplace_back(current_, std::string(payload));
  }
  /// A state entry or timer now holds / no longer holds `slot`.
  void ref(uint32_t slot) { ++refs_[slot]; }
  void unref(uint32_t slot) {
    if (--refs_[slot] == 0 && slot != current_) release(slot);
  }
  /// Number of keys with state or timers, plus the current key.
  std::size_t live_keys() const { return live_; }

  /// Processing time, for state TTL (set by the operator that owns the backend).
  void set_time_source(std::function<int64_t()> now) { now_ = std::move(now); }
  int64_t now() const { return now_ ? now_() : 0; }
  /// Tables with TTL register a sweep of their expired entries, run every `interval_ms` of
  /// processing time (the smallest interval asked for) from a processing-time timer of the
  /// owning operator, on its task thread. Sweeps reach heap entries only.
  void add_sweeper(int64_t interval_ms, std::function<void(int64_t now)> sweep) {
    sweepers_.push_back(std::move(sweep));
    if (interval_ms > 0 && (sweep_interval_ == 0 || interval_ms < sweep_interval_)) {
      const bool first = sweep_interval_ == 0;
      sweep_interval_ = interval_ms;
      if (first && schedule_sweep_) schedule_sweep_();
    }
  }
  /// How the owner schedules sweeps (a processing-time timer); set by the operator.
  void set_sweep_scheduler(std::function<void()> f) { schedule_sweep_ = std::move(f); }
  int64_t sweep_interval() const { return sweep_interval_; }
  void sweep_expired() {
    const int64_t t = now();
    for (auto& s : sweepers_) s(t);
  }


 protected:
  uint32_t allocate_slot(int key_group) {
    uint32_t s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
      refs_[s] = 0;
      key_groups_[s] = key_group;
    } else {
      s = static_cast<uint32_t>(refs_.size());
      refs_.push_back(0);
      key_groups_.push_back(key_group);
    }
    ++live_;
    return s;
  }
  void switch_to(uint32_t slot) {
    // RocksDB mode: tables keep entries of recent keys cached (each holding its slot) and
    // write them back when evicted or before a snapshot, not on every change of key.
    const uint32_t prev = current_;
    current_ = slot;
    if (prev != kNoSlot && prev != slot && refs_[prev] == 0) release(prev);
  }
  void release(uint32_t slot) {
    if (prefix_slot_ == slot) prefix_slot_ = kNoSlot;
    forget_key(slot);
    free_.push_back(slot);
    --live_;
  }
  virtual void forget_key(uint32_t slot) = 0;

  uint32_t current_ = kNoSlot;

 private:
  struct Entry {
    std::string name;
    std::type_index type;
    std::unique_ptr<StateTableBase> table;
    std::optional<runtime::StateType> state_type;
  };
  std::vector<uint32_t> refs_;
  std::vector<int> key_groups_;
  std::vector<uint32_t> free_;
  std::vector<Entry> tables_;
  std::map<std::string, std::vector<std::pair<uint32_t, std::string>>> pending_;  // restored, not yet registered
  std::size_t live_ = 0;
  std::function<int64_t()> now_;
  std::vector<std::function<void(int64_t)>> sweepers_;
  int64_t sweep_interval_ = 0;
  std::function<void()> schedule_sweep_;
  std::unique_ptr<KvStore> store_;
  std::vector<std::pair<std::string, std::string>> operator_tables_;  ///< (name part, record name)
  std::string uid_;                                ///< the operator's, from the restore
  std::vector<runtime::StateType> saved_types_;  ///< keyed state and key types of the restore
  std::string prefix_;
  uint32_t prefix_slot_ = kNoSlot;
  std::size_t cache_entries_ = 1;
};

/// The key-typed part: key → slot.
template <class K>
class HeapKeyedBackend final : public KeyedBackendBase {
 public:
  explicit HeapKeyedBackend(int max_parallelism) : max_parallelism_(max_parallelism) {}
  void set_current_key(const K& key) {
    auto it = slots_.find(key);
    if (it == slots_.end()) {
      const uint32_t s = allocate_slot(key_group_of(key, max_parallelism_));
      if (keys_.size() <= s) keys_.resize(s + 1);
      keys_[s] = key;
      it = slots_.emplace(key, s).first;
    }
    switch_to(it->second);
  }
  void set_current_slot(uint32_t slot) { switch_to(slot); }
  /// Brings the key's map entry towards the cache (an operator looking ahead in a batch).
  void prefetch_key(const K& key) const { slots_.prefetch(key); }
  /// The key's slot, or kNoSlot when it has none; changes nothing.
  uint32_t find_slot(const K& key) const {
    auto it = slots_.find(key);
    return it == slots_.end() ? kNoSlot : it->second;
  }
  /// Whether `slot` is the slot of `key` (a slot found earlier may since have been released
  /// and given to another key).
  bool slot_holds(uint32_t slot, const K& key) const {
    return slot < keys_.size() && keys_[slot].has_value() && *keys_[slot] == key;
  }
  const K& current_key() const { return *keys_[current_]; }
  std::string key_bytes(uint32_t slot) const override {
    if constexpr (SerdeType<K>) {
      return serialize(*keys_[slot]);
    } else {
      no_serde("a key");
    }
  }
  std::size_t key_length(std::string_view bytes) const override {
    if constexpr (SerdeType<K>) {
      ByteReader r(bytes);
      (void)Serde<K>::read(r);
      return r.offset();
    } else {
      no_serde("a key");
    }
  }
  void set_current_key_bytes(std::string_view key) override {
    if constexpr (SerdeType<K>) {
      try {
        set_current_key(deserialize<K>(key));
      } catch (const SerdeError& e) {
        throw StateError(std::string("restoring keyed state: a key does not decode: ") + e.what());
      }
    } else {
      no_serde("a key");
    }
  }
  const K& key_of_slot(uint32_t slot) const { return *keys_[slot]; }
  std::optional<runtime::StateType> key_type() const override {
    if constexpr (SerdeType<K>) {
      return runtime::StateType{runtime::StateScope::key, "", serde_type_id<K>(), serde_type_version<K>()};
    } else {
      return std::nullopt;
    }
  }

 private:
  void forget_key(uint32_t slot) override {
    slots_.erase(*keys_[slot]);
    keys_[slot].reset();
  }
  int max_parallelism_;
  absl::flat_hash_map<K, uint32_t, KeyHash<K>> slots_;
  std::vector<std::optional<K>> keys_;
};

/// Values per key (and namespace N; `VoidNamespace` for plain keyed state).
struct VoidNamespace {
  bool operator==(const VoidNamespace&) const = default;
  auto operator<=>(const VoidNamespace&) const = default;
  template <class H>
  friend H AbslHashValue(H h, const VoidNamespace&) {
    return h;
  }
};

template <class V, class N = VoidNamespace>
class ValueTable final : public StateTableBase {
 public:
  ValueTable(KeyedBackendBase* backend, std::string name = {})
      : name_(KeyedBackendBase::name_part(name)), state_name_(std::move(name)), backend_(backend) {}
  std::size_t size() const override { return map_.size(); }
  V* get(const N& ns = N{}) {
    if (backend_->store()) return rocks_get(ns);
    auto it = map_.find(Key{backend_->current_slot(), ns});
    return it == map_.end() ? nullptr : &it->second;
  }
  template <class U>
  V& put(U&& v, const N& ns = N{}) {
    if (backend_->store()) {
      if constexpr (SerdeType<V> && SerdeType<N>) {
        cache_ = std::forward<U>(v);
        backend_->store()->put(rocks_key(ns), serialize(cache_));
        return cache_;
      } else {
        no_serde("keyed state");
      }
    }
    auto [it, inserted] = map_.try_emplace(Key{backend_->current_slot(), ns}, std::forward<U>(v));
    if (inserted) {
      backend_->ref(backend_->current_slot());
    } else {
      it->second = std::forward<U>(v);
    }
    return it->second;
  }
  void erase(const N& ns = N{}) {
    if (backend_->store()) {
      if constexpr (SerdeType<N>) backend_->store()->remove(rocks_key(ns));
      return;
    }
    const uint32_t s = backend_->current_slot();
    if (map_.erase(Key{s, ns})) backend_->unref(s);
  }
  /// Payload: the namespace, then the value.
  void snapshot(const std::function<void(uint32_t, std::string_view)>& emit) override {
    if constexpr (SerdeType<V> && SerdeType<N>) {
      std::string buf;
      for (const auto& [k, v] : map_) {
        buf.clear();
        serialize_into(buf, k.ns);
        serialize_into(buf, v);
        emit(k.slot, buf);
      }
    } else {
      if (!map_.empty()) no_serde("keyed state");
    }
  }
  void restore_current(std::string_view payload) override {
    if constexpr (SerdeType<V> && SerdeType<N>) {
      auto entry = decode_state_value(backend_->operator_uid(), state_name_, payload, [](ByteReader& r) {
        N ns = Serde<N>::read(r);
        V v = Serde<V>::read(r);
        return std::pair<N, V>(std::move(ns), std::move(v));
      });
      put(std::move(entry.second), entry.first);
    } else {
      no_serde("keyed state");
    }
  }

 private:
  // RocksDB mode: written through at once (namespaced values are small: trigger counters).
  std::string rocks_key(const N& ns) {
    std::string k = backend_->current_prefix();
    k += name_;
    if constexpr (SerdeType<N>) serialize_into(k, ns);
    return k;
  }
  V* rocks_get(const N& ns) {
    if constexpr (SerdeType<V> && SerdeType<N>) {
      if (!backend_->store()->get(rocks_key(ns), buf_)) return nullptr;
      cache_ = decode_state_value(backend_->operator_uid(), state_name_, buf_, [](ByteReader& r) { return Serde<V>::read(r); });
      return &cache_;
    } else {
      no_serde("keyed state");
    }
  }
  std::string name_;
  std::string state_name_;
  std::string buf_;
  V cache_{};

 public:

 private:
  struct Key {
    uint32_t slot;
    N ns;
    bool operator==(const Key&) const = default;
    template <class H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.slot, k.ns);
    }
  };
  KeyedBackendBase* backend_;
  absl::flat_hash_map<Key, V> map_;
};

}  // namespace detail

template <>
struct Serde<detail::VoidNamespace> {
  static void write(ByteWriter&, const detail::VoidNamespace&) {}
  static detail::VoidNamespace read(ByteReader&) { return {}; }
};

}  // namespace weir
