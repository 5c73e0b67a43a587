#pragma once
/// Keyed state handles and their descriptors, as Flink's: ValueState, ListState, MapState,
/// ReducingState, AggregatingState, each scoped to the current key, with optional time-to-live
/// (StateTtlConfig). Obtained from `RuntimeContext` in `open()`; default-constructible so
/// functions can hold them as members. Used from the task thread only.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/state/internal/keyed_backend.hpp"

namespace weir {

// ---- time to live ----------------------------------------------------------------------------

/// When a state entry's time to live restarts.
enum class TtlUpdateType { on_create_and_write, on_read_and_write };
/// Whether an expired entry that was not cleaned up yet may still be read.
enum class TtlStateVisibility { never_return_expired, return_expired_if_not_cleaned_up };

class StateTtlConfigBuilder;

/// Time to live of keyed state entries, in processing time (Flink's StateTtlConfig). Expired
/// entries are removed when accessed and, on the heap backend, by a periodic sweep (a
/// processing-time timer of the keyed operator).
class StateTtlConfig {
 public:
  using Builder = StateTtlConfigBuilder;
  static StateTtlConfigBuilder new_builder(std::chrono::milliseconds ttl);

  int64_t ttl_ms() const { return ttl_ms_; }
  TtlUpdateType update_type() const { return update_; }
  TtlStateVisibility visibility() const { return visibility_; }
  /// Milliseconds between background sweeps; 0: none.
  int64_t sweep_interval_ms() const { return sweep_ms_; }

 private:
  friend class StateTtlConfigBuilder;
  int64_t ttl_ms_ = 0;
  TtlUpdateType update_ = TtlUpdateType::on_create_and_write;
  TtlStateVisibility visibility_ = TtlStateVisibility::never_return_expired;
  int64_t sweep_ms_ = -1;
};

class StateTtlConfigBuilder {
 public:
  explicit StateTtlConfigBuilder(std::chrono::milliseconds ttl) { c_.ttl_ms_ = ttl.count(); }
  StateTtlConfigBuilder& set_update_type(TtlUpdateType t) {
    c_.update_ = t;
    return *this;
  }
  StateTtlConfigBuilder& update_ttl_on_create_and_write() { return set_update_type(TtlUpdateType::on_create_and_write); }
  StateTtlConfigBuilder& update_ttl_on_read_and_write() { return set_update_type(TtlUpdateType::on_read_and_write); }
  StateTtlConfigBuilder& set_state_visibility(TtlStateVisibility v) {
    c_.visibility_ = v;
    return *this;
  }
  StateTtlConfigBuilder& never_return_expired() { return set_state_visibility(TtlStateVisibility::never_return_expired); }
  StateTtlConfigBuilder& return_expired_if_not_cleaned_up() {
    return set_state_visibility(TtlStateVisibility::return_expired_if_not_cleaned_up);
  }
  /// Sweep expired entries every `interval` of processing time (default: the TTL).
  StateTtlConfigBuilder& cleanup_in_background(std::chrono::milliseconds interval) {
    c_.sweep_ms_ = interval.count();
    return *this;
  }
  StateTtlConfigBuilder& disable_cleanup_in_background() {
    c_.sweep_ms_ = 0;
    return *this;
  }
  StateTtlConfig build() const {
    if (c_.ttl_ms_ <= 0) throw GraphError("StateTtlConfig: the time to live must be positive");
    StateTtlConfig c = c_;
    if (c.sweep_ms_ < 0) c.sweep_ms_ = c.ttl_ms_;
    return c;
  }

 private:
  StateTtlConfig c_;
};

inline StateTtlConfigBuilder StateTtlConfig::new_builder(std::chrono::milliseconds ttl) { return StateTtlConfigBuilder(ttl); }

/// Name and TTL of a state; the base of every descriptor.
class StateDescriptor {
 public:
  explicit StateDescriptor(std::string name) : name_(std::move(name)) {
    if (name_.empty()) throw GraphError("state descriptor: the name must not be empty");
  }
  const std::string& get_name() const { return name_; }
  void enable_time_to_live(const StateTtlConfig& ttl) { ttl_ = ttl; }
  const std::optional<StateTtlConfig>& get_ttl_config() const { return ttl_; }
  /// The kind of state ("ValueState", "ListState", ...), recorded with its type in
  /// snapshots; empty for internal tables, whose type is not recorded.
  const char* state_kind() const { return kind_; }

 protected:
  StateDescriptor(std::string name, const char* kind) : StateDescriptor(std::move(name)) { kind_ = kind; }

 private:
  std::string name_;
  std::optional<StateTtlConfig> ttl_;
  const char* kind_ = "";
};

template <class T>
class ValueStateDescriptor : public StateDescriptor {
 public:
  using value_type = T;
  explicit ValueStateDescriptor(std::string name) : StateDescriptor(std::move(name), "ValueState") {}
};

template <class T>
class ListStateDescriptor : public StateDescriptor {
 public:
  using value_type = T;
  explicit ListStateDescriptor(std::string name) : StateDescriptor(std::move(name), "ListState") {}
};

template <class K, class V>
class MapStateDescriptor : public StateDescriptor {
 public:
  using key_type = K;
  using value_type = V;
  explicit MapStateDescriptor(std::string name) : StateDescriptor(std::move(name), "MapState") {}
};

/// `reduce_fn(const T& acc, const T& value) -> T` folds what is added.
template <class T>
class ReducingStateDescriptor : public StateDescriptor {
 public:
  using value_type = T;
  template <class F>
  ReducingStateDescriptor(std::string name, F reduce_fn)
      : StateDescriptor(std::move(name), "ReducingState"), reduce_(std::move(reduce_fn)) {
    static_assert(std::is_invocable_r_v<T, const F&, const T&, const T&>,
                  "ReducingStateDescriptor: the function must be callable as T(const T&, const T&)");
  }
  const std::function<T(const T&, const T&)>& reduce_function() const { return reduce_; }

 private:
  std::function<T(const T&, const T&)> reduce_;
};

/// An AggregateFunction (`create_accumulator`, `add(const IN&, ACC) -> ACC`,
/// `get_result(const ACC&) -> OUT`) folds what is added.
template <class IN, class ACC, class OUT>
class AggregatingStateDescriptor : public StateDescriptor {
 public:
  template <class A>
  AggregatingStateDescriptor(std::string name, A agg) : StateDescriptor(std::move(name), "AggregatingState") {
    auto shared = std::make_shared<A>(std::move(agg));
    create_ = [shared] { return ACC(shared->create_accumulator()); };
    add_ = [shared](const IN& v, ACC acc) { return ACC(shared->add(v, std::move(acc))); };
    result_ = [shared](const ACC& acc) { return OUT(shared->get_result(acc)); };
  }
  std::function<ACC()> create_;
  std::function<ACC(const IN&, ACC)> add_;
  std::function<OUT(const ACC&)> result_;
};

namespace detail {

/// A value with the processing time its time to live counts from.
template <class V>
struct Stamped {
  V value;
  int64_t stamp = 0;
};

/// The stamp of a state entry written without TTL.
inline constexpr int64_t kUnstamped = std::numeric_limits<int64_t>::min();

/// TTL rules of one table.
class TtlRules {
 public:
  explicit TtlRules(const std::optional<StateTtlConfig>& ttl) : ttl_(ttl) {}
  bool enabled() const { return ttl_.has_value(); }
  /// An entry written while its state had no TTL (restored into a state that has one) has no
  /// stamp: it does not expire before it is written again.
  bool expired(int64_t stamp, int64_t now) const {
    return ttl_ && stamp != kUnstamped && now - stamp >= ttl_->ttl_ms();
  }
  bool refresh_on_read() const { return ttl_ && ttl_->update_type() == TtlUpdateType::on_read_and_write; }
  bool return_expired() const { return ttl_ && ttl_->visibility() == TtlStateVisibility::return_expired_if_not_cleaned_up; }

 private:
  std::optional<StateTtlConfig> ttl_;
};

/// Encodes the entry types of keyed tables for checkpoints: a stamped value is the value then
/// its stamp; lists and maps are a count then their elements.
template <class E>
struct EntryCodec {
  static constexpr bool kSupported = SerdeType<E>;
  static void write(ByteWriter& w, const E& e) { Serde<E>::write(w, e); }
  static E read(ByteReader& r) { return Serde<E>::read(r); }
};
template <class V>
struct EntryCodec<Stamped<V>> {
  static constexpr bool kSupported = EntryCodec<V>::kSupported;
  static void write(ByteWriter& w, const Stamped<V>& e) {
    EntryCodec<V>::write(w, e.value);
    w.write_fixed(e.stamp);
  }
  static Stamped<V> read(ByteReader& r) {
    Stamped<V> e{EntryCodec<V>::read(r), 0};
    e.stamp = r.read_fixed<int64_t>();
    return e;
  }
};
template <class V>
struct EntryCodec<std::vector<Stamped<V>>> {
  static constexpr bool kSupported = EntryCodec<V>::kSupported;
  static void write(ByteWriter& w, const std::vector<Stamped<V>>& e) {
    w.write_varint(e.size());
    for (const auto& x : e) EntryCodec<Stamped<V>>::write(w, x);
  }
  static std::vector<Stamped<V>> read(ByteReader& r) {
    std::vector<Stamped<V>> e(r.read_length(sizeof(int64_t)));  // each element ends with its stamp
    for (auto& x : e) x = EntryCodec<Stamped<V>>::read(r);
    return e;
  }
};
template <class K, class V, class H>
struct EntryCodec<absl::flat_hash_map<K, Stamped<V>, H>> {
  using M = absl::flat_hash_map<K, Stamped<V>, H>;
  static constexpr bool kSupported = SerdeType<K> && EntryCodec<V>::kSupported;
  static void write(ByteWriter& w, const M& m) {
    w.write_varint(m.size());
    for (const auto& [k, v] : m) {
      Serde<K>::write(w, k);
      EntryCodec<Stamped<V>>::write(w, v);
    }
  }
  static M read(ByteReader& r) {
    M m;
    for (uint64_t n = r.read_varint(); n > 0; --n) {
      K k = Serde<K>::read(r);
      m.insert_or_assign(std::move(k), EntryCodec<Stamped<V>>::read(r));
    }
    return m;
  }
};

/// One entry per key slot (value, list, map, reducing and aggregating state all use it), with
/// TTL on the entry or on its elements.
template <class E>
class KeyedTable final : public StateTableBase {
 public:
  KeyedTable(KeyedBackendBase* backend, const std::optional<StateTtlConfig>& ttl, std::string_view name = {})
      : backend_(backend), rules_(ttl), name_(KeyedBackendBase::name_part(name)), state_name_(name) {}
  std::size_t size() const override { return count_; }
  E* find() {
    if (backend_->store()) return rocks_find();
    const uint32_t s = backend_->current_slot();
    if (s >= slots_.size() || !slots_[s].present) return nullptr;
    return &slots_[s].value;
  }
  E& get_or_create() {
    if (backend_->store()) {
      Cached& c = rocks_entry();
      if (!c.present) {
        if constexpr (requires { c.value.clear(); }) {
          c.value.clear();  // (assigning a fresh absl::InlinedVector trips GCC 12's -Wmaybe-uninitialized)
        } else {
          c.value = E{};
        }
        c.present = true;
      }
      c.dirty = true;
      return c.value;
    }
    const uint32_t s = backend_->current_slot();
    if (s >= slots_.size()) slots_.resize(s + 1);
    Slot& e = slots_[s];
    if (!e.present) {
      e.present = true;
      ++count_;
      backend_->ref(s);
    }
    return e.value;
  }
  void erase() {
    if (backend_->store()) {
      Cached& c = rocks_entry();
      if (c.present) {
        c.present = false;
        c.dirty = true;
      }
      return;
    }
    erase_slot(backend_->current_slot());
  }
  /// RocksDB mode: writes every changed cached entry back to the store (before a snapshot);
  /// they stay cached.
  void flush() override {
    for (const uint32_t slot : ring_) write_back(*cache_[slot]);
  }
  void erase_slot(uint32_t slot) {
    if (slot >= slots_.size() || !slots_[slot].present) return;
    Slot& e = slots_[slot];
    e.present = false;
    // Frees what the entry held (destroyed and made anew rather than assigned: assigning a
    // fresh absl::InlinedVector trips GCC 12's -Wmaybe-uninitialized).
    std::destroy_at(&e.value);
    std::construct_at(&e.value);
    --count_;
    backend_->unref(slot);
  }
  template <class F>
  void for_each_slot(F&& f) {
    // f(slot, entry) returns true to erase the entry
    std::vector<uint32_t> dead;
    for (uint32_t s = 0; s < slots_.size(); ++s) {
      if (slots_[s].present && f(s, slots_[s].value)) dead.push_back(s);
    }
    for (uint32_t s : dead) erase_slot(s);
  }
  const TtlRules& rules() const { return rules_; }
  /// The stamp of an entry written now: the processing time under TTL; without TTL, no stamp
  /// (reading the clock for every state write costs more than the write itself).
  int64_t now() const { return rules_.enabled() ? backend_->now() : kUnstamped; }

  void snapshot(const std::function<void(uint32_t, std::string_view)>& emit) override {
    if constexpr (EntryCodec<E>::kSupported) {
      std::string buf;
      for (uint32_t s = 0; s < slots_.size(); ++s) {
        if (!slots_[s].present) continue;
        buf.clear();
        ByteWriter w(buf);
        EntryCodec<E>::write(w, slots_[s].value);
        emit(s, buf);
      }
    } else {
      if (count_ != 0) no_serde("keyed state");
    }
  }
  void restore_current(std::string_view payload) override {
    if constexpr (EntryCodec<E>::kSupported) {
      E e = decode(payload);
      get_or_create() = std::move(e);
    } else {
      no_serde("keyed state");
    }
  }

 private:
  // ---- RocksDB mode: a bounded write-back cache of entries --------------------------------
  // Entries of recently used keys stay in memory, decoded, and reach the store when evicted
  // (CLOCK: an entry used since the hand last passed gets a second chance) or when a snapshot
  // flushes them. A cached entry holds its key's slot, so the slot keeps meaning that key.
  // Whatever is handed out may be changed, so it is marked changed (written back).
  struct Cached {
    E value{};
    std::string key;       ///< the store key: key group | key | state name
    bool present = false;  ///< the key has an entry (false: none, or erased)
    bool dirty = false;    ///< differs from the store
    bool used = false;     ///< CLOCK: used since the hand last passed
  };

  E* rocks_find() {
    Cached& c = rocks_entry();
    if (!c.present) return nullptr;
    c.dirty = true;
    return &c.value;
  }

  /// The current key's cache entry, read from the store on a miss.
  Cached& rocks_entry() {
    const uint32_t slot = backend_->current_slot();
    if (last_ != nullptr && last_slot_ == slot) {
      last_->used = true;
      return *last_;
    }
    if (slot < cache_.size() && cache_[slot]) {
      Cached& c = *cache_[slot];
      c.used = true;
      last_slot_ = slot;
      last_ = &c;
      return c;
    }
    // Read first: when the read or the decoding fails, nothing has changed.
    std::string key = backend_->current_prefix();
    key += name_;
    bool present = false;
    E value{};
    if constexpr (EntryCodec<E>::kSupported) {
      present = backend_->store()->get(key, buf_);
      if (present) value = decode(buf_);
    } else {
      no_serde("keyed state");
    }
    const std::size_t capacity = std::max<std::size_t>(backend_->cache_entries(), 1);
    std::size_t pos = ring_.size();
    if (ring_.size() >= capacity) pos = evict_one(slot);
    if (slot >= cache_.size()) cache_.resize(std::size_t{slot} + 1);
    cache_[slot] = std::make_unique<Cached>();
    Cached& c = *cache_[slot];
    backend_->ref(slot);
    if (pos == ring_.size()) {
      ring_.push_back(slot);
    } else {
      ring_[pos] = slot;
    }
    c.key = std::move(key);
    c.present = present;
    if (present) c.value = std::move(value);
    last_slot_ = slot;
    last_ = &c;
    return c;
  }

  /// Writes back and drops one cached entry (never the current key's); returns its place in
  /// the ring.
  std::size_t evict_one(uint32_t current) {
    for (;;) {
      if (hand_ >= ring_.size()) hand_ = 0;
      const std::size_t pos = hand_++;
      const uint32_t slot = ring_[pos];
      Cached& c = *cache_[slot];
      if (slot == current || c.used) {
        c.used = false;
        continue;
      }
      write_back(c);
      if (last_ == &c) last_ = nullptr;
      cache_[slot].reset();
      backend_->unref(slot);
      return pos;
    }
  }

  void write_back(Cached& c) {
    if (!c.dirty) return;
    if constexpr (requires { c.value.empty(); }) {
      if (c.present && c.value.empty()) c.present = false;  // an empty list or map is no state
    }
    if constexpr (EntryCodec<E>::kSupported) {
      if (c.present) {
        buf_.clear();
        ByteWriter w(buf_);
        EntryCodec<E>::write(w, c.value);
        backend_->store()->put(c.key, buf_);
      } else {
        backend_->store()->remove(c.key);
      }
      c.dirty = false;  // only once the store has it: a failed write leaves the entry changed
    } else {
      no_serde("keyed state");
    }
  }

  /// An entry as written by `snapshot` or `flush`; all of `bytes` must be consumed.
  E decode(std::string_view bytes) const {
    return decode_state_value(backend_->operator_uid(), state_name_, bytes, [](ByteReader& r) { return EntryCodec<E>::read(r); });
  }

  KeyedBackendBase* backend_;
  TtlRules rules_;
  // Heap mode: entries indexed by key slot. The backend keeps slots dense (a released slot is
  // reused first), so one array index replaces a second hash lookup per state access.
  struct Slot {
    E value{};
    bool present = false;
  };
  std::vector<Slot> slots_;
  std::size_t count_ = 0;
  std::string name_;
  std::string state_name_;
  // RocksDB mode: the cached entries, indexed by key slot (null: not cached). Entries are
  // separate allocations, so references to them stay valid while other keys come and go; an
  // index instead of a hash map keeps the lookup to one load (it was a third of the window
  // job's time on RocksDB).
  std::vector<std::unique_ptr<Cached>> cache_;
  std::vector<uint32_t> ring_;  ///< the cached slots, in CLOCK order (its size: how many)
  std::size_t hand_ = 0;
  uint32_t last_slot_ = KeyedBackendBase::kNoSlot;
  Cached* last_ = nullptr;  ///< the entry of `last_slot_`
  std::string buf_;
};

/// The serialised types inside a table entry, as "V" or "K,V", and the version of V.
template <class E>
struct EntryTypes;
template <class V>
struct EntryTypes<Stamped<V>> {
  static std::string names() { return serde_type_id<V>(); }
  static constexpr uint32_t version = serde_type_version<V>();
};
template <class V>
struct EntryTypes<std::vector<Stamped<V>>> : EntryTypes<Stamped<V>> {};
template <class K, class V, class H>
struct EntryTypes<absl::flat_hash_map<K, Stamped<V>, H>> {
  static std::string names() {
    std::string s = serde_type_id<K>();
    if constexpr (serde_type_version<K>() != 1) s += "@v" + std::to_string(serde_type_version<K>());
    return s + "," + serde_type_id<V>();
  }
  static constexpr uint32_t version = serde_type_version<V>();
};

/// The recorded type of a table registered through descriptor `d`: its kind and entry types,
/// e.g. "MapState<string,int64>"; none for internal tables and types without Serde.
template <class E>
std::optional<runtime::StateType> table_state_type(const StateDescriptor& d) {
  if constexpr (EntryCodec<E>::kSupported && requires { EntryTypes<E>::names(); }) {
    if (*d.state_kind() == '\0') return std::nullopt;
    return runtime::StateType{runtime::StateScope::keyed, d.get_name(),
                              std::string(d.state_kind()) + "<" + EntryTypes<E>::names() + ">", EntryTypes<E>::version};
  } else {
    return std::nullopt;
  }
}

template <class E>
KeyedTable<E>* keyed_table(KeyedBackendBase* backend, const StateDescriptor& d) {
  const auto type = table_state_type<E>(d);
  auto* t = static_cast<KeyedTable<E>*>(backend->table(
      d.get_name(), typeid(KeyedTable<E>),
      [&] { return std::make_unique<KeyedTable<E>>(backend, d.get_ttl_config(), d.get_name()); },
      type ? &*type : nullptr));
  return t;
}

/// Registers the periodic sweep of a table whose entry is a single stamped value.
template <class V>
void sweep_single(KeyedBackendBase* backend, KeyedTable<Stamped<V>>* t, int64_t interval) {
  backend->add_sweeper(interval, [t](int64_t now) {
    t->for_each_slot([&](uint32_t, Stamped<V>& e) { return t->rules().expired(e.stamp, now); });
  });
}

/// Reads a stamped single value under the TTL rules (expired: removed, not returned).
template <class V>
V* read_single(KeyedTable<Stamped<V>>* t) {
  auto* e = t->find();
  if (!e) return nullptr;
  if (t->rules().enabled()) {
    const int64_t now = t->now();
    if (t->rules().expired(e->stamp, now)) {
      if (t->rules().return_expired()) return &e->value;
      t->erase();
      return nullptr;
    }
    if (t->rules().refresh_on_read()) e->stamp = now;
  }
  return &e->value;
}

template <class V, class U>
void write_single(KeyedTable<Stamped<V>>* t, U&& v) {
  auto& e = t->get_or_create();
  e.value = std::forward<U>(v);
  e.stamp = t->now();
}

inline void check_bound(const void* p, const char* what) {
  if (!p) throw std::logic_error(std::string(what) + " used before it was assigned from the RuntimeContext in open()");
}

}  // namespace detail

/// One value per key.
template <class T>
class ValueState {
 public:
  ValueState() = default;
  explicit ValueState(detail::KeyedTable<detail::Stamped<T>>* t) : t_(t) {}
  std::optional<T> value() const {
    detail::check_bound(t_, "ValueState");
    const T* v = detail::read_single(t_);
    return v ? std::optional<T>(*v) : std::nullopt;
  }
  void update(T v) {
    detail::check_bound(t_, "ValueState");
    detail::write_single(t_, std::move(v));
  }
  void clear() {
    detail::check_bound(t_, "ValueState");
    t_->erase();
  }

 private:
  detail::KeyedTable<detail::Stamped<T>>* t_ = nullptr;
};

/// A list per key; TTL applies to each element.
template <class T>
class ListState {
 public:
  ListState() = default;
  explicit ListState(detail::KeyedTable<std::vector<detail::Stamped<T>>>* t) : t_(t) {}
  /// The elements (empty, never null).
  std::vector<T> get() const {
    detail::check_bound(t_, "ListState");
    std::vector<T> out;
    auto* e = t_->find();
    if (!e) return out;
    expire(*e);
    for (auto& s : *e) out.push_back(s.value);
    if (e->empty()) t_->erase();
    return out;
  }
  void add(T v) {
    detail::check_bound(t_, "ListState");
    t_->get_or_create().push_back({std::move(v), t_->now()});
  }
  void add_all(const std::vector<T>& vs) {
    detail::check_bound(t_, "ListState");
    if (vs.empty()) return;
    auto& e = t_->get_or_create();
    for (const auto& v : vs) e.push_back({v, t_->now()});
  }
  /// Replaces the list; an empty list clears it.
  void update(const std::vector<T>& vs) {
    detail::check_bound(t_, "ListState");
    t_->erase();
    add_all(vs);
  }
  void clear() {
    detail::check_bound(t_, "ListState");
    t_->erase();
  }

 private:
  void expire(std::vector<detail::Stamped<T>>& e) const {
    if (!t_->rules().enabled() || t_->rules().return_expired()) return;
    const int64_t now = t_->now();
    std::erase_if(e, [&](const auto& s) { return t_->rules().expired(s.stamp, now); });
    if (t_->rules().refresh_on_read()) {
      for (auto& s : e) s.stamp = now;
    }
  }
  detail::KeyedTable<std::vector<detail::Stamped<T>>>* t_ = nullptr;
};

/// A map per key; TTL applies to each entry.
template <class K, class V>
class MapState {
 public:
  using Map = absl::flat_hash_map<K, detail::Stamped<V>, detail::KeyHash<K>>;
  MapState() = default;
  explicit MapState(detail::KeyedTable<Map>* t) : t_(t) {}

  std::optional<V> get(const K& k) const {
    detail::check_bound(t_, "MapState");
    auto* m = t_->find();
    if (!m) return std::nullopt;
    auto it = m->find(k);
    if (it == m->end() || !live(*m, it)) return std::nullopt;
    return it->second.value;
  }
  void put(const K& k, V v) {
    detail::check_bound(t_, "MapState");
    t_->get_or_create().insert_or_assign(k, detail::Stamped<V>{std::move(v), t_->now()});
  }
  void put_all(const std::vector<std::pair<K, V>>& entries) {
    for (const auto& [k, v] : entries) put(k, v);
  }
  template <class M>
    requires requires(const M& m) { m.begin()->first; m.begin()->second; }
  void put_all(const M& map) {
    for (const auto& [k, v] : map) put(k, v);
  }
  bool contains(const K& k) const { return get(k).has_value(); }
  void remove(const K& k) {
    detail::check_bound(t_, "MapState");
    if (auto* m = t_->find()) {
      m->erase(k);
      if (m->empty()) t_->erase();
    }
  }
  std::vector<std::pair<K, V>> entries() const {
    std::vector<std::pair<K, V>> out;
    for_live([&](const K& k, const V& v) { out.emplace_back(k, v); });
    return out;
  }
  std::vector<K> keys() const {
    std::vector<K> out;
    for_live([&](const K& k, const V&) { out.push_back(k); });
    return out;
  }
  std::vector<V> values() const {
    std::vector<V> out;
    for_live([&](const K&, const V& v) { out.push_back(v); });
    return out;
  }
  bool is_empty() const {
    bool any = false;
    for_live([&](const K&, const V&) { any = true; });
    return !any;
  }
  void clear() {
    detail::check_bound(t_, "MapState");
    t_->erase();
  }

 private:
  bool live(Map& m, typename Map::iterator it) const {
    if (!t_->rules().enabled()) return true;
    const int64_t now = t_->now();
    if (t_->rules().expired(it->second.stamp, now)) {
      if (t_->rules().return_expired()) return true;
      m.erase(it);
      return false;
    }
    if (t_->rules().refresh_on_read()) it->second.stamp = now;
    return true;
  }
  template <class F>
  void for_live(F&& f) const {
    detail::check_bound(t_, "MapState");
    auto* m = t_->find();
    if (!m) return;
    if (t_->rules().enabled() && !t_->rules().return_expired()) {
      const int64_t now = t_->now();
      absl::erase_if(*m, [&](const auto& kv) { return t_->rules().expired(kv.second.stamp, now); });
    }
    for (auto& [k, s] : *m) f(k, s.value);
    if (m->empty()) t_->erase();
  }
  detail::KeyedTable<Map>* t_ = nullptr;
};

/// Folds added values with a reduce function; one result per key.
template <class T>
class ReducingState {
 public:
  ReducingState() = default;
  ReducingState(detail::KeyedTable<detail::Stamped<T>>* t, std::function<T(const T&, const T&)> f) : t_(t), f_(std::move(f)) {}
  std::optional<T> get() const {
    detail::check_bound(t_, "ReducingState");
    const T* v = detail::read_single(t_);
    return v ? std::optional<T>(*v) : std::nullopt;
  }
  void add(const T& v) {
    detail::check_bound(t_, "ReducingState");
    const T* cur = detail::read_single(t_);
    detail::write_single(t_, cur ? f_(*cur, v) : v);
  }
  void clear() {
    detail::check_bound(t_, "ReducingState");
    t_->erase();
  }

 private:
  detail::KeyedTable<detail::Stamped<T>>* t_ = nullptr;
  std::function<T(const T&, const T&)> f_;
};

/// Folds added values with an AggregateFunction; `get()` is its result.
template <class IN, class OUT>
class AggregatingState {
 public:
  AggregatingState() = default;
  template <class ACC>
  AggregatingState(detail::KeyedTable<detail::Stamped<ACC>>* t, const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
    get_ = [t, r = d.result_]() -> std::optional<OUT> {
      const ACC* acc = detail::read_single(t);
      return acc ? std::optional<OUT>(r(*acc)) : std::nullopt;
    };
    add_ = [t, c = d.create_, a = d.add_](const IN& v) {
      const ACC* acc = detail::read_single(t);
      detail::write_single(t, a(v, acc ? *acc : c()));
    };
    clear_ = [t] { t->erase(); };
  }
  std::optional<OUT> get() const {
    detail::check_bound(get_ ? &get_ : nullptr, "AggregatingState");
    return get_();
  }
  void add(const IN& v) {
    detail::check_bound(add_ ? &add_ : nullptr, "AggregatingState");
    add_(v);
  }
  void clear() {
    detail::check_bound(clear_ ? &clear_ : nullptr, "AggregatingState");
    clear_();
  }

 private:
  std::function<std::optional<OUT>()> get_;
  std::function<void(const IN&)> add_;
  std::function<void()> clear_;
};

}  // namespace weir
