#pragma once
/// Keyed state on the heap. A keyed operator owns one `HeapKeyedBackend<K>`; before each record
/// or timer it sets the current key, and every state handle then reads and writes that key's
/// entry. Keys are mapped to dense slots once per record, so state tables are indexed by slot,
/// not by key; a slot is recycled when its key holds no state and no timer. Each slot knows its
/// key group, so state and timers can be written and restored per key group.
///
/// Threading: the operator's task thread only.
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

#include "weir/api/errors.hpp"
#include "weir/runtime/checkpoint.hpp"
#include "weir/runtime/partition.hpp"
#include "weir/serde/serde.hpp"

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
};

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
  StateTableBase* table(const std::string& name, std::type_index type,
                        const std::function<std::unique_ptr<StateTableBase>()>& make) {
    for (auto& t : tables_) {
      if (t.name == name) {
        if (t.type != type) throw GraphError("keyed state '" + name + "' was already registered with another type");
        return t.table.get();
      }
    }
    tables_.push_back(Entry{name, type, make()});
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

  /// The serialised key of a slot, and making a serialised key current.
  virtual std::string key_bytes(uint32_t slot) const = 0;
  virtual void set_current_key_bytes(std::string_view key) = 0;

  /// Writes every state entry into the key-group streams of `ctx` (checkpoints), including
  /// restored entries of states not registered (again) since.
  void snapshot_tables(runtime::SnapshotContext& ctx) {
    std::string key;
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
  /// Number of keys with state or timers.
  std::size_t live_keys() const { return live_; }

  /// Processing time, for state TTL (set by the operator that owns the backend).
  void set_time_source(std::function<int64_t()> now) { now_ = std::move(now); }
  int64_t now() const { return now_ ? now_() : 0; }
  /// Tables with TTL register a sweep of their expired entries, run in the background every
  /// `interval_ms` of processing time (the smallest interval asked for).
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
    const uint32_t prev = current_;
    current_ = slot;
    if (prev != kNoSlot && prev != slot && refs_[prev] == 0) release(prev);
  }
  void release(uint32_t slot) {
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
};

/// The key-typed part: key → slot.
template <class K>
class HeapKeyedBackend final : public KeyedBackendBase {
 public:
  explicit HeapKeyedBackend(int max_parallelism) : max_parallelism_(max_parallelism) {}
  void set_current_key(const K& key) {
    auto it = slots_.find(key);
    if (it == slots_.end()) {
      const uint32_t s = allocate_slot(runtime::key_group_of(key, max_parallelism_));
      if (keys_.size() <= s) keys_.resize(s + 1);
      keys_[s] = key;
      it = slots_.emplace(key, s).first;
    }
    switch_to(it->second);
  }
  void set_current_slot(uint32_t slot) { switch_to(slot); }
  const K& current_key() const { return *keys_[current_]; }
  std::string key_bytes(uint32_t slot) const override {
    if constexpr (SerdeType<K>) {
      return serialize(*keys_[slot]);
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
  explicit ValueTable(KeyedBackendBase* backend) : backend_(backend) {}
  std::size_t size() const override { return map_.size(); }
  V* get(const N& ns = N{}) {
    auto it = map_.find(Key{backend_->current_slot(), ns});
    return it == map_.end() ? nullptr : &it->second;
  }
  template <class U>
  V& put(U&& v, const N& ns = N{}) {
    auto [it, inserted] = map_.try_emplace(Key{backend_->current_slot(), ns}, std::forward<U>(v));
    if (inserted) {
      backend_->ref(backend_->current_slot());
    } else {
      it->second = std::forward<U>(v);
    }
    return it->second;
  }
  void erase(const N& ns = N{}) {
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
      ByteReader r(payload);
      N ns = Serde<N>::read(r);
      V v = Serde<V>::read(r);
      put(std::move(v), ns);
    } else {
      no_serde("keyed state");
    }
  }

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
