#pragma once
/// Event time: watermarks, watermark generators and strategies, as Flink's
/// `org.apache.flink.api.common.eventtime`. Timestamps are int64 milliseconds since the epoch.
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "weir/common/errors.hpp"
#include "weir/common/timestamps.hpp"

namespace weir {

/// A point in event time: no record with a timestamp at or below it is expected any more.
class Watermark {
 public:
  explicit constexpr Watermark(int64_t timestamp) : ts_(timestamp) {}
  constexpr int64_t get_timestamp() const { return ts_; }
  constexpr int64_t timestamp() const { return ts_; }
  static constexpr Watermark max() { return Watermark(std::numeric_limits<int64_t>::max()); }
  friend constexpr bool operator==(Watermark a, Watermark b) { return a.ts_ == b.ts_; }

 private:
  int64_t ts_;
};

/// Where a generator emits watermarks, or says that its input is idle.
class WatermarkOutput {
 public:
  virtual ~WatermarkOutput() = default;
  /// Emits a watermark; one not above the last one emitted is ignored.
  virtual void emit_watermark(const Watermark& watermark) = 0;
  /// No more records for now: downstream stops waiting for this input until it emits again.
  virtual void mark_idle() = 0;
  /// Records flow again (emitting a watermark also does this).
  virtual void mark_active() = 0;
};

/// Generates watermarks from the records (`on_event`) and periodically (`on_periodic_emit`,
/// every `auto_watermark_interval`). One instance per split (or per subtask).
template <class T>
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void on_event(const T& event, int64_t event_timestamp, WatermarkOutput& output) = 0;
  virtual void on_periodic_emit(WatermarkOutput& output) = 0;
};

namespace detail {

/// Watermark = highest timestamp seen - bound - 1 (Flink's BoundedOutOfOrdernessWatermarks).
template <class T>
class BoundedOutOfOrderness final : public WatermarkGenerator<T> {
 public:
  explicit BoundedOutOfOrderness(int64_t bound_ms)
      : bound_(bound_ms), max_ts_(std::numeric_limits<int64_t>::min() + bound_ms + 1) {}
  void on_event(const T&, int64_t ts, WatermarkOutput&) override { max_ts_ = std::max(max_ts_, ts); }
  void on_periodic_emit(WatermarkOutput& out) override { out.emit_watermark(Watermark(max_ts_ - bound_ - 1)); }

 private:
  int64_t bound_;
  int64_t max_ts_;
};

/// Wraps a generator: after `idle_ms` of processing time without records, marks the output idle
/// (Flink's WatermarksWithIdleness). Processing time comes from the `now` function.
template <class T>
class WithIdleness final : public WatermarkGenerator<T> {
 public:
  WithIdleness(std::unique_ptr<WatermarkGenerator<T>> inner, int64_t idle_ms, std::function<int64_t()> now)
      : inner_(std::move(inner)), idle_ms_(idle_ms), now_(std::move(now)), last_event_(now_()) {}
  void on_event(const T& e, int64_t ts, WatermarkOutput& out) override {
    inner_->on_event(e, ts, out);
    last_event_ = now_();
    if (idle_) {
      idle_ = false;
      out.mark_active();
    }
  }
  void on_periodic_emit(WatermarkOutput& out) override {
    if (now_() - last_event_ >= idle_ms_) {
      if (!idle_) {
        idle_ = true;
        out.mark_idle();
      }
    } else {
      inner_->on_periodic_emit(out);
    }
  }

 private:
  std::unique_ptr<WatermarkGenerator<T>> inner_;
  int64_t idle_ms_;
  std::function<int64_t()> now_;
  int64_t last_event_;
  bool idle_ = false;
};

/// What a `for_generator` factory returns: a generator by value, or a std::unique_ptr to one.
template <class R>
struct GeneratorResult {
  using type = R;
  static constexpr bool kPointer = false;
};
template <class G, class D>
struct GeneratorResult<std::unique_ptr<G, D>> {
  using type = G;
  static constexpr bool kPointer = true;
};

/// A type with the two members of a watermark generator for records of type T.
template <class G, class T>
concept watermark_generator_for = requires(G& g, const T& e, int64_t ts, WatermarkOutput& out) {
  g.on_event(e, ts, out);
  g.on_periodic_emit(out);
};

/// Makes a WatermarkGenerator<T> of any object with `on_event` and `on_periodic_emit`, held by
/// value or (when `Holder` is a pointer) through a pointer.
template <class T, class Holder>
class GeneratorAdapter final : public WatermarkGenerator<T> {
 public:
  explicit GeneratorAdapter(Holder g) : g_(std::move(g)) {}
  void on_event(const T& e, int64_t ts, WatermarkOutput& out) override { get().on_event(e, ts, out); }
  void on_periodic_emit(WatermarkOutput& out) override { get().on_periodic_emit(out); }

 private:
  auto& get() {
    if constexpr (GeneratorResult<Holder>::kPointer) {
      return *g_;
    } else {
      return g_;
    }
  }
  Holder g_;
};

}  // namespace detail

/// How a stream gets timestamps and watermarks: a generator factory, an optional timestamp
/// assigner, an optional idleness timeout. Copied into every subtask (and split).
template <class T>
class WatermarkStrategy {
 public:
  using GeneratorFactory = std::function<std::unique_ptr<WatermarkGenerator<T>>()>;
  using TimestampAssigner = std::function<int64_t(const T&, int64_t record_timestamp)>;

  /// Timestamps never decrease: watermark = highest timestamp - 1.
  static WatermarkStrategy for_monotonous_timestamps() { return for_bounded_out_of_orderness(std::chrono::milliseconds(0)); }
  /// Records are at most `max_out_of_orderness` late: watermark = highest timestamp - bound - 1.
  static WatermarkStrategy for_bounded_out_of_orderness(std::chrono::milliseconds max_out_of_orderness) {
    if (max_out_of_orderness.count() < 0) throw GraphError("for_bounded_out_of_orderness: the bound must not be negative");
    const int64_t b = max_out_of_orderness.count();
    return WatermarkStrategy([b] { return std::make_unique<detail::BoundedOutOfOrderness<T>>(b); });
  }
  /// A user generator, one per split or subtask: `factory()` returns either
  ///   - a generator by value: any object with `on_event(const T&, int64_t, WatermarkOutput&)`
  ///     and `on_periodic_emit(WatermarkOutput&)` (a WatermarkGenerator<T> subclass or not), or
  ///   - a `std::unique_ptr` to a WatermarkGenerator<T> subclass, or
  ///   - a `std::unique_ptr` to any type with those two members.
  template <class Factory>
  static WatermarkStrategy for_generator(Factory factory) {
    static_assert(std::is_invocable_v<const Factory&>, "for_generator: the factory must be callable with no arguments");
    using R = std::decay_t<std::invoke_result_t<const Factory&>>;
    using G = typename detail::GeneratorResult<R>::type;
    static_assert(detail::watermark_generator_for<G, T>,
                  "for_generator: factory() must return a generator (by value or in a std::unique_ptr) with "
                  "on_event(const T&, int64_t timestamp, weir::WatermarkOutput&) and "
                  "on_periodic_emit(weir::WatermarkOutput&)");
    return WatermarkStrategy([factory]() -> std::unique_ptr<WatermarkGenerator<T>> {
      if constexpr (detail::GeneratorResult<R>::kPointer) {
        std::unique_ptr<G> g = factory();
        if (!g) throw GraphError("for_generator: the factory returned an empty std::unique_ptr");
        if constexpr (std::is_base_of_v<WatermarkGenerator<T>, G>) {
          return std::unique_ptr<WatermarkGenerator<T>>(std::move(g));
        } else {
          return std::make_unique<detail::GeneratorAdapter<T, std::unique_ptr<G>>>(std::move(g));
        }
      } else if constexpr (std::is_base_of_v<WatermarkGenerator<T>, G>) {
        return std::make_unique<G>(factory());
      } else {
        return std::make_unique<detail::GeneratorAdapter<T, G>>(factory());
      }
    });
  }
  /// No watermarks at all (processing-time jobs).
  static WatermarkStrategy no_watermarks() {
    struct None final : WatermarkGenerator<T> {
      void on_event(const T&, int64_t, WatermarkOutput&) override {}
      void on_periodic_emit(WatermarkOutput&) override {}
    };
    return WatermarkStrategy([] { return std::make_unique<None>(); });
  }

  /// Extracts the event timestamp: `int64_t f(const T&, int64_t record_timestamp)`.
  template <class F>
  WatermarkStrategy with_timestamp_assigner(F f) const {
    static_assert(std::is_invocable_r_v<int64_t, const F&, const T&, int64_t>,
                  "with_timestamp_assigner: the function must be callable as int64_t(const T&, int64_t record_timestamp)");
    WatermarkStrategy s = *this;
    s.assigner_ = TimestampAssigner(std::move(f));
    return s;
  }
  /// Marks an input idle after `timeout` of processing time without records, so it does not hold
  /// back the watermark of the operators downstream.
  WatermarkStrategy with_idleness(std::chrono::milliseconds timeout) const {
    if (timeout.count() <= 0) throw GraphError("with_idleness: the timeout must be positive");
    WatermarkStrategy s = *this;
    s.idle_ms_ = timeout.count();
    return s;
  }

  /// A generator for one split or subtask. `now` reads the job's processing time.
  std::unique_ptr<WatermarkGenerator<T>> create_generator(std::function<int64_t()> now) const {
    auto g = factory_();
    if (idle_ms_ > 0) g = std::make_unique<detail::WithIdleness<T>>(std::move(g), idle_ms_, std::move(now));
    return g;
  }
  /// The event timestamp of a record (its current timestamp when no assigner is set).
  int64_t extract_timestamp(const T& v, int64_t record_ts) const { return assigner_ ? assigner_(v, record_ts) : record_ts; }
  bool has_timestamp_assigner() const { return static_cast<bool>(assigner_); }

 private:
  explicit WatermarkStrategy(GeneratorFactory f) : factory_(std::move(f)) {}
  GeneratorFactory factory_;
  TimestampAssigner assigner_;
  int64_t idle_ms_ = 0;
};

}  // namespace weir
