#pragma once
/// KeyedProcessFunction and KeyedCoProcessFunction (Flink's names): functions on a keyed stream
/// with keyed state and per-key timers (the operators that run them are in
/// weir/api/internal/keyed_process_operator.hpp).
#include <cstdint>
#include <cctype>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "weir/api/functions.hpp"
#include "weir/state/internal/keyed_backend.hpp"
#include "weir/time/timer_service.hpp"


namespace weir {

/// What a keyed function may ask while it processes an element or a timer: the timestamp, the
/// current key, timers, side outputs. Shared by KeyedProcessFunction and KeyedCoProcessFunction.
template <class K>
class KeyedContext {
 public:
  virtual ~KeyedContext() = default;
  /// The element's (or timer's) timestamp, if any.
  virtual std::optional<int64_t> timestamp() const = 0;
  virtual TimerService& timer_service() = 0;
  virtual const K& get_current_key() const = 0;
  template <class U>
  void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) {
    detail::emit_side_output(op(), tag, value, timestamp().value_or(kNoTimestamp));
  }

 protected:
  virtual const runtime::StreamOperator& op() const = 0;
};

/// The context of `on_timer`: also which kind of timer fired.
template <class K>
class KeyedOnTimerContext : public KeyedContext<K> {
 public:
  virtual TimeDomain time_domain() const = 0;
};

/// Processes each element of a keyed stream with the element's key, keyed state
/// (`rc.get_state(...)` in `open`) and timers. `on_timer` runs for each timer with the timer's
/// key current; what it emits carries the timer's timestamp (event time) or none (processing
/// time). An instance is copied once per parallel subtask.
template <class K, class IN, class OUT>
class KeyedProcessFunction {
 public:
  using key_type = K;
  using input_type = IN;
  using output_type = OUT;
  using Context = KeyedContext<K>;
  using OnTimerContext = KeyedOnTimerContext<K>;

  virtual ~KeyedProcessFunction() = default;
  virtual void open(RuntimeContext& ctx) {}
  virtual void close() {}
  virtual void process_element(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void on_timer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {}
};

/// Two keyed inputs with the same key type, sharing keyed state and timers per key (`connect`
/// of two keyed streams).
template <class K, class IN1, class IN2, class OUT>
class KeyedCoProcessFunction {
 public:
  using key_type = K;
  using output_type = OUT;
  using Context = KeyedContext<K>;
  using OnTimerContext = KeyedOnTimerContext<K>;

  virtual ~KeyedCoProcessFunction() = default;
  virtual void open(RuntimeContext& ctx) {}
  virtual void close() {}
  virtual void process_element1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void process_element2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void on_timer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {}
};

}  // namespace weir
