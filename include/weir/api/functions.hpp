#pragma once
/// User-facing function interfaces: Collector, OutputTag, RuntimeContext, ProcessFunction.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>

#include "weir/api/checkpointed.hpp"
#include "weir/runtime/internal/operator.hpp"
#include "weir/state/internal/keyed_backend.hpp"
#include "weir/state/keyed_state.hpp"
#include "weir/time/timer_service.hpp"

namespace weir {

/// Receives the records a function emits (`flat_map`, `process`). Valid only during the call
/// that received it.
template <class T>
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(const T& value) = 0;
  virtual void collect(T&& value) { collect(static_cast<const T&>(value)); }
};

/// Names a side output and its type: `weir::OutputTag<std::string>("late")`. Two tags are the
/// same side output when their ids are equal.
template <class T>
class OutputTag {
 public:
  using value_type = T;
  explicit OutputTag(std::string id) : id_(std::move(id)) {
    if (id_.empty()) throw GraphError("OutputTag: the id must not be empty");
  }
  const std::string& id() const { return id_; }
  const std::string& get_id() const { return id_; }

 private:
  std::string id_;
};

/// What a function may ask about the subtask it runs in. Passed to `open()`.
class RuntimeContext {
 public:
  RuntimeContext(const runtime::TaskInfo& info, std::string operator_name,
                 detail::KeyedBackendBase* keyed = nullptr, MetricGroup* metrics = nullptr)
      : info_(info), operator_name_(std::move(operator_name)), keyed_(keyed), metrics_(metrics) {}
  virtual ~RuntimeContext() = default;
  int get_index_of_this_subtask() const { return info_.subtask; }
  int get_number_of_parallel_subtasks() const { return info_.parallelism; }
  int get_max_number_of_parallel_subtasks() const { return info_.max_parallelism; }
  int get_attempt_number() const { return info_.attempt; }
  const std::string& get_task_name() const { return info_.task_name; }
  const std::string& get_operator_name() const { return operator_name_; }
  /// Milliseconds between the job's periodic checkpoints (0: checkpointing is off).
  int64_t get_checkpoint_interval() const { return info_.checkpoint_interval; }
  /// The operator subtask's metrics: `get_metric_group().counter("parsed").inc()`. Read with
  /// `JobClient::metrics()` (`TaskMetrics::operator_metrics`, "<operator>.<name>").
  MetricGroup& get_metric_group() {
    if (!metrics_) {
      own_metrics_ = std::make_unique<MetricGroup>();
      metrics_ = own_metrics_.get();
    }
    return *metrics_;
  }

  /// Keyed state, one per key, from its descriptor. Only on keyed streams (after key_by).
  template <class T>
  ValueState<T> get_state(const ValueStateDescriptor<T>& d) {
    return ValueState<T>(prepare<detail::Stamped<T>>(d, "get_state"));
  }
  template <class T>
  ListState<T> get_list_state(const ListStateDescriptor<T>& d) {
    auto* backend = keyed("get_list_state");
    auto* t = detail::keyed_table<std::vector<detail::Stamped<T>>>(backend, d);
    if (d.get_ttl_config() && d.get_ttl_config()->sweep_interval_ms() > 0) {
      backend->add_sweeper(d.get_ttl_config()->sweep_interval_ms(), [t](int64_t now) {
        t->for_each_slot([&](uint32_t, auto& list) {
          std::erase_if(list, [&](const auto& s) { return t->rules().expired(s.stamp, now); });
          return list.empty();
        });
      });
    }
    return ListState<T>(t);
  }
  template <class K, class V>
  MapState<K, V> get_map_state(const MapStateDescriptor<K, V>& d) {
    auto* backend = keyed("get_map_state");
    using Map = typename MapState<K, V>::Map;
    auto* t = detail::keyed_table<Map>(backend, d);
    if (d.get_ttl_config() && d.get_ttl_config()->sweep_interval_ms() > 0) {
      backend->add_sweeper(d.get_ttl_config()->sweep_interval_ms(), [t](int64_t now) {
        t->for_each_slot([&](uint32_t, Map& m) {
          absl::erase_if(m, [&](const auto& kv) { return t->rules().expired(kv.second.stamp, now); });
          return m.empty();
        });
      });
    }
    return MapState<K, V>(t);
  }
  template <class T>
  ReducingState<T> get_reducing_state(const ReducingStateDescriptor<T>& d) {
    return ReducingState<T>(prepare<detail::Stamped<T>>(d, "get_reducing_state"), d.reduce_function());
  }
  template <class IN, class ACC, class OUT>
  AggregatingState<IN, OUT> get_aggregating_state(const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
    return AggregatingState<IN, OUT>(prepare<detail::Stamped<ACC>>(d, "get_aggregating_state"), d);
  }

 protected:
  template <class E>
  detail::KeyedTable<E>* prepare(const StateDescriptor& d, const char* what) {
    auto* backend = keyed(what);
    auto* t = detail::keyed_table<E>(backend, d);
    if (d.get_ttl_config() && d.get_ttl_config()->sweep_interval_ms() > 0) {
      using V = decltype(std::declval<E&>().value);
      detail::sweep_single<V>(backend, t, d.get_ttl_config()->sweep_interval_ms());
    }
    return t;
  }

  detail::KeyedBackendBase* keyed(const char* what) const {
    if (!keyed_) {
      throw OperatorFailure(operator_name_, std::string(what) +
                                                ": keyed state is only available on a keyed stream; apply the "
                                                "function after key_by()");
    }
    return keyed_;
  }

 private:
  runtime::TaskInfo info_;
  std::string operator_name_;
  detail::KeyedBackendBase* keyed_ = nullptr;
  MetricGroup* metrics_ = nullptr;
  std::unique_ptr<MetricGroup> own_metrics_;
};

namespace detail {

/// A Collector writing into a typed output with the timestamp of the record being processed.
template <class T>
class TimestampedCollector final : public Collector<T> {
 public:
  void set(runtime::Output<T>* out, int64_t ts) {
    out_ = out;
    ts_ = ts;
  }
  void set_timestamp(int64_t ts) { ts_ = ts; }
  int64_t timestamp() const { return ts_; }
  void collect(const T& v) override { out_->emit(v, ts_); }
  void collect(T&& v) override { out_->emit(std::move(v), ts_); }

 private:
  runtime::Output<T>* out_ = nullptr;
  int64_t ts_ = kNoTimestamp;
};

/// Calls the optional rich-function hooks `open(RuntimeContext&)` and `close()` of a callable.
template <class F>
void open_function(F& f, RuntimeContext& rc) {
  if constexpr (requires { f.open(rc); }) f.open(rc);
}
template <class F>
void close_function(F& f) {
  if constexpr (requires { f.close(); }) f.close();
}

/// Emits a side-output record from inside an operator.
template <class U>
void emit_side_output(const runtime::StreamOperator& op, const OutputTag<U>& tag,
                      const std::type_identity_t<U>& value, int64_t ts) {
  if (auto* out = op.side_output(tag.id(), std::type_index(typeid(U)))) {
    static_cast<runtime::Output<U>*>(out)->emit(value, ts);
  }
}

}  // namespace detail

/// A function over each element of a stream with access to the record's timestamp and side
/// outputs, as Flink's ProcessFunction. Subclass it and override `process_element`; an
/// instance is copied once per parallel subtask.
template <class IN, class OUT>
class ProcessFunction {
 public:
  using input_type = IN;
  using output_type = OUT;

  /// What `process_element` may ask about the current element.
  class Context {
   public:
    virtual ~Context() = default;
    /// The element's event timestamp, if it has one.
    virtual std::optional<int64_t> timestamp() const = 0;
    /// Current processing time and watermark; timers need a keyed stream (KeyedProcessFunction).
    virtual TimerService& timer_service() = 0;
    /// Emits `value` to the side output `tag` (dropped when no stream consumes that tag).
    template <class U>
    void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) {
      detail::emit_side_output(op(), tag, value, timestamp().value_or(kNoTimestamp));
    }

   protected:
    virtual const runtime::StreamOperator& op() const = 0;
  };

  virtual ~ProcessFunction() = default;
  virtual void open(RuntimeContext& ctx) {}
  virtual void close() {}
  virtual void process_element(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
};

}  // namespace weir
