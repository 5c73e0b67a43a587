#pragma once
/// The broadcast state pattern, as Flink's: `rules.broadcast(descriptor)` sends every element of
/// a (usually small) stream to all subtasks of the operator it is connected to, where
/// `process_broadcast_element` may write it into broadcast state (the same in every subtask);
/// the other input reads that state (`process_element`, read-only), keyed
/// (`KeyedBroadcastProcessFunction`, with keyed state and timers) or not
/// (`BroadcastProcessFunction`).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/api/datastream.hpp"
#include "weir/api/internal/keyed_process_operator.hpp"

namespace weir {

namespace detail {
/// The broadcast states of one operator instance, by descriptor name.
class BroadcastStates {
 public:
  template <class K, class V>
  absl::flat_hash_map<K, V, KeyHash<K>>& get(const MapStateDescriptor<K, V>& d) {
    using M = absl::flat_hash_map<K, V, KeyHash<K>>;
    for (auto& s : states_) {
      if (s.name == d.get_name()) {
        if (s.type != std::type_index(typeid(M))) throw std::logic_error("broadcast state '" + d.get_name() + "' has another type");
        return *static_cast<M*>(s.map.get());
      }
    }
    auto m = std::make_shared<M>();
    std::function<std::vector<std::string>()> encode;
    std::optional<runtime::StateType> type;
    if constexpr (SerdeType<K> && SerdeType<V>) {
      type = runtime::StateType{runtime::StateScope::broadcast, d.get_name(), "BroadcastState<" + serde_type_id<K>() + "," + serde_type_id<V>() + ">",
                                serde_type_version<V>()};
      runtime::check_state_type(uid_, saved_type(d.get_name()), *type);
      encode = [m] {
        std::vector<std::string> out;
        for (const auto& [k, v] : *m) out.push_back(serialize(std::pair<K, V>(k, v)));
        return out;
      };
      auto it = restored_.find(d.get_name());
      if (it != restored_.end()) {
        for (const auto& e : it->second) {
          auto kv = [&] {
            try {
              return deserialize<std::pair<K, V>>(e);
            } catch (const SerdeError& err) {
              throw IncompatibleStateError("operator uid '" + uid_ + "', broadcast state '" + d.get_name() + "': an entry does not decode (" +
                               err.what() + "); restore it with the type it was saved with");
            }
          }();
          m->insert_or_assign(std::move(kv.first), std::move(kv.second));
        }
        restored_.erase(it);
      }
    } else {
      encode = [m, name = d.get_name()]() -> std::vector<std::string> {
        if (!m->empty()) no_serde("broadcast state '" + name + "'");
        return {};
      };
    }
    states_.push_back({d.get_name(), typeid(M), m, std::move(encode), std::move(type)});
    return *m;
  }

  /// Every subtask holds the same broadcast state, so subtask 0 writes it; on restore every
  /// subtask reads it (a union list per state).
  void snapshot(runtime::SnapshotContext& ctx, int subtask) const {
    if (subtask != 0) return;
    for (const auto& s : states_) {
      ctx.add_list("broadcast." + s.name, runtime::Redistribution::union_, s.encode());
      if (s.state_type) ctx.add_state_type(*s.state_type);
    }
    for (const auto& [name, elems] : restored_) {
      ctx.add_list("broadcast." + name, runtime::Redistribution::union_, elems);
      if (const auto* t = saved_type(name)) ctx.add_state_type(*t);
    }
  }
  void set_restore(const runtime::StateRestore& r) {
    uid_ = r.operator_uid();
    for (const auto& t : r.state_types()) {
      if (t.scope == runtime::StateScope::broadcast) saved_types_.push_back(t);
    }
    for (const auto& [name, elems] : r.lists_) {
      if (name.rfind("broadcast.", 0) == 0) restored_[name.substr(10)] = elems;
    }
  }

 private:
  struct Entry {
    std::string name;
    std::type_index type;
    std::shared_ptr<void> map;
    std::function<std::vector<std::string>()> encode;
    std::optional<runtime::StateType> state_type;
  };
  const runtime::StateType* saved_type(const std::string& name) const {
    for (const auto& t : saved_types_) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  std::vector<Entry> states_;
  std::string uid_;
  std::vector<runtime::StateType> saved_types_;  ///< of the restore
  std::map<std::string, std::vector<std::string>> restored_;  ///< not yet asked for
};
}  // namespace detail

/// Broadcast state seen from the non-broadcast input: read only.
template <class K, class V>
class ReadOnlyBroadcastState {
 public:
  explicit ReadOnlyBroadcastState(const absl::flat_hash_map<K, V, detail::KeyHash<K>>* m) : m_(m) {}
  std::optional<V> get(const K& k) const {
    auto it = m_->find(k);
    return it == m_->end() ? std::nullopt : std::optional<V>(it->second);
  }
  bool contains(const K& k) const { return m_->contains(k); }
  std::vector<std::pair<K, V>> entries() const { return {m_->begin(), m_->end()}; }
  bool is_empty() const { return m_->empty(); }

 private:
  const absl::flat_hash_map<K, V, detail::KeyHash<K>>* m_;
};

/// Broadcast state seen from the broadcast input: read and write. Every subtask sees the same
/// broadcast elements, so writing only from them keeps all copies equal.
template <class K, class V>
class BroadcastState {
 public:
  explicit BroadcastState(absl::flat_hash_map<K, V, detail::KeyHash<K>>* m) : m_(m) {}
  std::optional<V> get(const K& k) const { return ReadOnlyBroadcastState<K, V>(m_).get(k); }
  bool contains(const K& k) const { return m_->contains(k); }
  void put(const K& k, V v) { m_->insert_or_assign(k, std::move(v)); }
  void remove(const K& k) { m_->erase(k); }
  void clear() { m_->clear(); }
  std::vector<std::pair<K, V>> entries() const { return {m_->begin(), m_->end()}; }
  bool is_empty() const { return m_->empty(); }

 private:
  absl::flat_hash_map<K, V, detail::KeyHash<K>>* m_;
};

/// The side contexts of broadcast functions.
class BroadcastContextBase {
 public:
  virtual ~BroadcastContextBase() = default;
  virtual std::optional<int64_t> timestamp() const = 0;
  virtual int64_t current_processing_time() const = 0;
  virtual int64_t current_watermark() const = 0;
  template <class U>
  void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) {
    detail::emit_side_output(op(), tag, value, timestamp().value_or(kNoTimestamp));
  }

 protected:
  virtual const runtime::StreamOperator& op() const = 0;
  virtual detail::BroadcastStates& states() const = 0;
};

/// Context of `process_broadcast_element`: writable broadcast state.
class BroadcastWriteContext : public BroadcastContextBase {
 public:
  template <class K, class V>
  BroadcastState<K, V> get_broadcast_state(const MapStateDescriptor<K, V>& d) {
    return BroadcastState<K, V>(&states().get(d));
  }
};

/// Context of `process_element`: read-only broadcast state.
class BroadcastReadContext : public BroadcastContextBase {
 public:
  template <class K, class V>
  ReadOnlyBroadcastState<K, V> get_broadcast_state(const MapStateDescriptor<K, V>& d) {
    return ReadOnlyBroadcastState<K, V>(&states().get(d));
  }
};

/// Keyed input IN1 (keyed state, timers, the key) and broadcast input IN2.
template <class KS, class IN1, class IN2, class OUT>
class KeyedBroadcastProcessFunction {
 public:
  using key_type = KS;
  using output_type = OUT;
  class ReadOnlyContext : public BroadcastReadContext {
   public:
    virtual TimerService& timer_service() = 0;
    virtual const KS& get_current_key() const = 0;
  };
  using Context = BroadcastWriteContext;
  class OnTimerContext : public ReadOnlyContext {
   public:
    virtual TimeDomain time_domain() const = 0;
  };
  virtual ~KeyedBroadcastProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process_element(const IN1& value, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void process_broadcast_element(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void on_timer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {}
};

/// Non-keyed input IN1 and broadcast input IN2.
template <class IN1, class IN2, class OUT>
class BroadcastProcessFunction {
 public:
  using output_type = OUT;
  using ReadOnlyContext = BroadcastReadContext;
  using Context = BroadcastWriteContext;
  virtual ~BroadcastProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process_element(const IN1& value, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void process_broadcast_element(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
};

namespace detail {

/// Runs a (Keyed)BroadcastProcessFunction: input 0 the regular stream, input 1 the broadcast one.
template <class K, class IN1, class IN2, class OUT, class PF, bool kKeyed>
class BroadcastProcessOperator final : public runtime::TwoInputOperator<IN1, IN2> {
 public:
  BroadcastProcessOperator(std::function<K(const IN1&)> key, PF f) : key_(std::move(key)), f_(std::move(f)) {}

  void open() override {
    collector_.set(this->template typed_output<OUT>(), kNoTimestamp);
    if constexpr (kKeyed) {
      core_.init(*this);
      timers_ = std::make_unique<KeyedTimerService<K>>(this, &core_.timers());
      core_.timers().set_processing_time_callback([this](int64_t) {
        core_.timers().advance_processing_time(this->processing_time_service().now(),
                                               [this](const auto& t) { fire(t, TimeDomain::processing_time); });
      });
      core_.restore();
    }
    RuntimeContext rc(this->task_info(), this->name(), kKeyed ? &core_.backend() : nullptr, &this->metric_group());
    this->call_user([&] { f_.open(rc); });
  }
  void close() override { f_.close(); }
  std::size_t keyed_state_keys() const override { return kKeyed ? core_.live_keys() : 0; }
  void initialize_state(const runtime::StateRestore& r) override {
    states_.set_restore(r);
    if constexpr (kKeyed) core_.set_restore(r);
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    states_.snapshot(ctx, this->task_info().subtask);
    if constexpr (kKeyed) core_.snapshot(ctx);
  }

  void process1(const IN1& v, int64_t ts) override {
    if constexpr (kKeyed) core_.backend().set_current_key(this->call_user([&]() -> K { return key_(v); }));
    read_.ts = ts;
    collector_.set_timestamp(ts);
    this->call_user([&] { f_.process_element(v, read_, collector_); });
  }
  void process2(const IN2& v, int64_t ts) override {
    write_.ts = ts;
    collector_.set_timestamp(ts);
    this->call_user([&] { f_.process_broadcast_element(v, write_, collector_); });
  }

 protected:
  void on_watermark(int64_t wm) override {
    if constexpr (kKeyed) core_.timers().advance_watermark(wm, [this](const auto& t) { fire(t, TimeDomain::event_time); });
    this->output_->emit_watermark(wm);
  }

 private:
  template <class Timer>
  void fire(const Timer& t, TimeDomain domain) {
    if constexpr (kKeyed) {
      core_.backend().set_current_slot(t.slot);
      read_.ts = t.time;
      read_.domain = domain;
      collector_.set_timestamp(domain == TimeDomain::event_time ? t.time : kNoTimestamp);
      this->call_user([&] { f_.on_timer(t.time, read_, collector_); });
    }
  }

  template <class Base>
  struct CtxCommon : Base {
    explicit CtxCommon(BroadcastProcessOperator* o) : op_(o) {}
    std::optional<int64_t> timestamp() const override { return ts == kNoTimestamp ? std::nullopt : std::optional<int64_t>(ts); }
    int64_t current_processing_time() const override { return op_->processing_time_service().now(); }
    int64_t current_watermark() const override { return op_->current_watermark(); }
    const runtime::StreamOperator& op() const override { return *op_; }
    BroadcastStates& states() const override { return op_->states_; }
    BroadcastProcessOperator* op_;
    int64_t ts = kNoTimestamp;
  };
  struct KeyedReadCtx final : CtxCommon<typename KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>::OnTimerContext> {
    using CtxCommon<typename KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>::OnTimerContext>::CtxCommon;
    TimerService& timer_service() override { return *this->op_->timers_; }
    const K& get_current_key() const override { return this->op_->core_.backend().current_key(); }
    TimeDomain time_domain() const override { return domain; }
    TimeDomain domain = TimeDomain::event_time;
  };
  struct PlainReadCtx final : CtxCommon<BroadcastReadContext> {
    using CtxCommon<BroadcastReadContext>::CtxCommon;
    TimeDomain domain = TimeDomain::event_time;
  };
  using ReadCtx = std::conditional_t<kKeyed, KeyedReadCtx, PlainReadCtx>;
  struct WriteCtx final : CtxCommon<BroadcastWriteContext> {
    using CtxCommon<BroadcastWriteContext>::CtxCommon;
  };

  std::function<K(const IN1&)> key_;
  PF f_;
  BroadcastStates states_;
  KeyedOperatorCore<K> core_;
  std::unique_ptr<KeyedTimerService<K>> timers_;
  TimestampedCollector<OUT> collector_;
  ReadCtx read_{this};
  WriteCtx write_{this};
};

}  // namespace detail

/// A stream broadcast with the state descriptors its consumers use (`stream.broadcast(d)`).
template <class T>
class BroadcastStream {
 public:
  explicit BroadcastStream(DataStream<T> s) : stream_(std::move(s)) {}
  const DataStream<T>& stream() const { return stream_; }

 private:
  DataStream<T> stream_;
};

/// A stream connected with a broadcast stream; finish with `process(f)`.
template <class IN1, class IN2, class K>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(DataStream<IN1> first, BroadcastStream<IN2> second, std::function<K(const IN1&)> key)
      : first_(std::move(first)), second_(std::move(second)), key_(std::move(key)) {}

  template <class PF>
  auto process(PF f) const {
    using OUT = typename PF::output_type;
    constexpr bool kKeyed = !std::is_same_v<K, void*>;
    if constexpr (kKeyed) {
      static_assert(std::is_base_of_v<KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>, PF>,
                    "process: on a keyed stream connected with a broadcast stream, the function must derive from "
                    "weir::KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>");
    } else {
      static_assert(std::is_base_of_v<BroadcastProcessFunction<IN1, IN2, OUT>, PF>,
                    "process: the function must derive from weir::BroadcastProcessFunction<IN1, IN2, OUT>");
    }
    auto key = key_;
    using Op = detail::BroadcastProcessOperator<K, IN1, IN2, OUT, PF, kKeyed>;
    auto s = ConnectedStreams<IN1, IN2>(first_, second_.stream()).template add_public<OUT>(
        kKeyed ? "Keyed Broadcast Process" : "Broadcast Process", [key, f] { return std::make_unique<Op>(key, f); });
    first_.get_execution_environment_state().graph.at(s.get_id()).side_outputs_allowed = true;
    return s;
  }

 private:
  DataStream<IN1> first_;
  BroadcastStream<IN2> second_;
  std::function<K(const IN1&)> key_;
};

}  // namespace weir
