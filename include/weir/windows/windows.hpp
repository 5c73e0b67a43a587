#pragma once
/// Windows as in Flink: window types, assigners, triggers, evictors, and the window functions'
/// interfaces. Semantics follow Flink's "Windows" documentation.
#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/api/functions.hpp"
#include "weir/serde/serde.hpp"
#include "weir/state/internal/keyed_backend.hpp"

namespace weir {

// ---- window types ------------------------------------------------------------------------------

/// The time interval [start, end).
class TimeWindow {
 public:
  TimeWindow() = default;
  constexpr TimeWindow(int64_t start, int64_t end) : start_(start), end_(end) {}
  constexpr int64_t start() const { return start_; }
  constexpr int64_t end() const { return end_; }
  constexpr int64_t get_start() const { return start_; }
  constexpr int64_t get_end() const { return end_; }
  /// The largest timestamp inside the window: end - 1. Window results carry it.
  constexpr int64_t max_timestamp() const { return end_ - 1; }
  /// True when the windows overlap or touch (what session windows merge).
  constexpr bool intersects(const TimeWindow& o) const { return start_ <= o.end_ && end_ >= o.start_; }
  constexpr TimeWindow cover(const TimeWindow& o) const {
    return TimeWindow(std::min(start_, o.start_), std::max(end_, o.end_));
  }
  /// The start of the window of size `size` (and `offset`) that holds `timestamp`.
  static constexpr int64_t get_window_start_with_offset(int64_t timestamp, int64_t offset, int64_t size) {
    const int64_t rem = (timestamp - offset) % size;
    return rem < 0 ? timestamp - (rem + size) : timestamp - rem;
  }
  auto operator<=>(const TimeWindow&) const = default;
  bool operator==(const TimeWindow&) const = default;
  template <class H>
  friend H AbslHashValue(H h, const TimeWindow& w) {
    return H::combine(std::move(h), w.start_, w.end_);
  }

  int64_t start_ = 0;
  int64_t end_ = 0;
};

/// The one window of GlobalWindows; its max timestamp is the largest int64.
class GlobalWindow {
 public:
  static GlobalWindow get() { return GlobalWindow(); }
  constexpr int64_t max_timestamp() const { return std::numeric_limits<int64_t>::max(); }
  auto operator<=>(const GlobalWindow&) const = default;
  bool operator==(const GlobalWindow&) const = default;
  template <class H>
  friend H AbslHashValue(H h, const GlobalWindow&) {
    return h;
  }
};

template <>
struct Serde<TimeWindow> {
  static void write(ByteWriter& w, const TimeWindow& v) {
    w.write_fixed(v.start());
    w.write_fixed(v.end());
  }
  static TimeWindow read(ByteReader& r) {
    const auto s = r.read_fixed<int64_t>();
    const auto e = r.read_fixed<int64_t>();
    return TimeWindow(s, e);
  }
};

namespace detail {
inline int64_t saturating_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}
}  // namespace detail

// ---- triggers ------------------------------------------------------------------------------------

/// What a trigger decides for a window.
enum class TriggerResult { CONTINUE, FIRE, PURGE, FIRE_AND_PURGE };
inline bool is_fire(TriggerResult r) { return r == TriggerResult::FIRE || r == TriggerResult::FIRE_AND_PURGE; }
inline bool is_purge(TriggerResult r) { return r == TriggerResult::PURGE || r == TriggerResult::FIRE_AND_PURGE; }

/// What a trigger may do for the current key and window: timers, time, per-window state.
template <class W>
class TriggerContext {
 public:
  virtual ~TriggerContext() = default;
  virtual int64_t get_current_processing_time() const = 0;
  virtual int64_t get_current_watermark() const = 0;
  virtual void register_event_time_timer(int64_t time) = 0;
  virtual void register_processing_time_timer(int64_t time) = 0;
  virtual void delete_event_time_timer(int64_t time) = 0;
  virtual void delete_processing_time_timer(int64_t time) = 0;
  /// A counter per key and window (what count-based triggers keep); `merge_counter` adds the
  /// counters of merged windows (session windows) into the current one.
  virtual int64_t get_counter(const std::string& name) = 0;
  virtual void set_counter(const std::string& name, int64_t value) = 0;
  virtual void clear_counter(const std::string& name) = 0;
  virtual void merge_counter(const std::string& name, const std::vector<W>& merged) = 0;
};

/// Decides when a window fires and purges, as Flink's Trigger. Subclass for a user trigger.
template <class T, class W>
class Trigger {
 public:
  virtual ~Trigger() = default;
  virtual TriggerResult on_element(const T& element, int64_t timestamp, const W& window, TriggerContext<W>& ctx) = 0;
  virtual TriggerResult on_event_time(int64_t time, const W& window, TriggerContext<W>& ctx) = 0;
  virtual TriggerResult on_processing_time(int64_t time, const W& window, TriggerContext<W>& ctx) = 0;
  virtual bool can_merge() const { return false; }
  /// The windows in `merged` were merged into `window`.
  virtual void on_merge(const W& window, const std::vector<W>& merged, TriggerContext<W>& ctx) {}
  /// The window is gone: delete its timers and state.
  virtual void clear(const W& window, TriggerContext<W>& ctx) = 0;
};

/// Fires once the watermark passes the window's end (and again for each late element within
/// the allowed lateness). Default of event-time assigners.
class EventTimeTrigger {
 public:
  static EventTimeTrigger create() { return {}; }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    TriggerResult on_element(const T&, int64_t, const W& w, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() <= ctx.get_current_watermark()) return TriggerResult::FIRE;  // late, within lateness
      ctx.register_event_time_timer(w.max_timestamp());
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t time, const W& w, TriggerContext<W>&) override {
      return time == w.max_timestamp() ? TriggerResult::FIRE : TriggerResult::CONTINUE;
    }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    bool can_merge() const override { return true; }
    void on_merge(const W& w, const std::vector<W>&, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() > ctx.get_current_watermark()) ctx.register_event_time_timer(w.max_timestamp());
    }
    void clear(const W& w, TriggerContext<W>& ctx) override { ctx.delete_event_time_timer(w.max_timestamp()); }
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>();
  }
};

/// Fires when processing time passes the window's end. Default of processing-time assigners.
class ProcessingTimeTrigger {
 public:
  static ProcessingTimeTrigger create() { return {}; }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    TriggerResult on_element(const T&, int64_t, const W& w, TriggerContext<W>& ctx) override {
      ctx.register_processing_time_timer(w.max_timestamp());
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::FIRE; }
    bool can_merge() const override { return true; }
    void on_merge(const W& w, const std::vector<W>&, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() > ctx.get_current_processing_time()) ctx.register_processing_time_timer(w.max_timestamp());
    }
    void clear(const W& w, TriggerContext<W>& ctx) override { ctx.delete_processing_time_timer(w.max_timestamp()); }
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>();
  }
};

/// Never fires (the default of GlobalWindows).
class NeverTrigger {
 public:
  static NeverTrigger create() { return {}; }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    TriggerResult on_element(const T&, int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    bool can_merge() const override { return true; }
    void clear(const W&, TriggerContext<W>&) override {}
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>();
  }
};

/// Fires when a window holds `count` elements (then counts again from zero).
class CountTrigger {
 public:
  static CountTrigger of(int64_t count) {
    if (count < 1) throw GraphError("CountTrigger::of: the count must be at least 1");
    return CountTrigger(count);
  }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    explicit For(int64_t n) : n_(n) {}
    TriggerResult on_element(const T&, int64_t, const W&, TriggerContext<W>& ctx) override {
      const int64_t c = ctx.get_counter("count") + 1;
      if (c >= n_) {
        ctx.clear_counter("count");
        return TriggerResult::FIRE;
      }
      ctx.set_counter("count", c);
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    bool can_merge() const override { return true; }
    void on_merge(const W&, const std::vector<W>& merged, TriggerContext<W>& ctx) override { ctx.merge_counter("count", merged); }
    void clear(const W&, TriggerContext<W>& ctx) override { ctx.clear_counter("count"); }

   private:
    int64_t n_;
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>(n_);
  }

 private:
  explicit CountTrigger(int64_t n) : n_(n) {}
  int64_t n_;
};

/// Fires periodically in event time, every `interval` (aligned to the epoch), and at the
/// window's end.
class ContinuousEventTimeTrigger {
 public:
  static ContinuousEventTimeTrigger of(std::chrono::milliseconds interval) {
    if (interval.count() <= 0) throw GraphError("ContinuousEventTimeTrigger::of: the interval must be positive");
    return ContinuousEventTimeTrigger(interval.count());
  }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    explicit For(int64_t i) : interval_(i) {}
    TriggerResult on_element(const T&, int64_t ts, const W& w, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() <= ctx.get_current_watermark()) return TriggerResult::FIRE;
      ctx.register_event_time_timer(w.max_timestamp());
      if (ctx.get_counter("fire-time") == 0) {
        const int64_t start = ts - (((ts % interval_) + interval_) % interval_);
        const int64_t next = start + interval_;
        ctx.register_event_time_timer(next);
        ctx.set_counter("fire-time", next);
      }
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t time, const W& w, TriggerContext<W>& ctx) override {
      if (time == w.max_timestamp()) return TriggerResult::FIRE;
      const int64_t fire = ctx.get_counter("fire-time");
      if (fire == time) {
        ctx.set_counter("fire-time", time + interval_);
        ctx.register_event_time_timer(time + interval_);
        return TriggerResult::FIRE;
      }
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    void clear(const W& w, TriggerContext<W>& ctx) override {
      const int64_t fire = ctx.get_counter("fire-time");
      if (fire != 0) ctx.delete_event_time_timer(fire);
      ctx.clear_counter("fire-time");
    }

   private:
    int64_t interval_;
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>(interval_);
  }

 private:
  explicit ContinuousEventTimeTrigger(int64_t i) : interval_(i) {}
  int64_t interval_;
};

/// A trigger wrapped by `PurgingTrigger::of`: every FIRE becomes FIRE_AND_PURGE.
template <class Inner>
class PurgingTriggerOf {
 public:
  explicit PurgingTriggerOf(Inner inner) : inner_(std::move(inner)) {}
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    explicit For(std::unique_ptr<Trigger<T, W>> in) : in_(std::move(in)) {}
    TriggerResult on_element(const T& e, int64_t ts, const W& w, TriggerContext<W>& ctx) override {
      return purge(in_->on_element(e, ts, w, ctx));
    }
    TriggerResult on_event_time(int64_t t, const W& w, TriggerContext<W>& ctx) override {
      return purge(in_->on_event_time(t, w, ctx));
    }
    TriggerResult on_processing_time(int64_t t, const W& w, TriggerContext<W>& ctx) override {
      return purge(in_->on_processing_time(t, w, ctx));
    }
    bool can_merge() const override { return in_->can_merge(); }
    void on_merge(const W& w, const std::vector<W>& m, TriggerContext<W>& ctx) override { in_->on_merge(w, m, ctx); }
    void clear(const W& w, TriggerContext<W>& ctx) override { in_->clear(w, ctx); }

   private:
    static TriggerResult purge(TriggerResult r) { return is_fire(r) ? TriggerResult::FIRE_AND_PURGE : r; }
    std::unique_ptr<Trigger<T, W>> in_;
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    if constexpr (std::is_base_of_v<Trigger<T, W>, Inner>) {
      return std::make_unique<For<T, W>>(std::make_unique<Inner>(inner_));
    } else {
      return std::make_unique<For<T, W>>(inner_.template make<T, W>());
    }
  }

 private:
  Inner inner_;
};

/// Turns every FIRE of the wrapped trigger into FIRE_AND_PURGE: `PurgingTrigger::of(CountTrigger::of(n))`.
class PurgingTrigger {
 public:
  template <class Inner>
  static PurgingTriggerOf<Inner> of(Inner inner) {
    return PurgingTriggerOf<Inner>(std::move(inner));
  }
};

namespace detail {
/// Makes a Trigger<T, W> from a built-in trigger factory, or copies a user Trigger<T, W> subclass.
template <class T, class W, class TR>
std::unique_ptr<Trigger<T, W>> make_trigger(const TR& t) {
  if constexpr (std::is_base_of_v<Trigger<T, W>, TR>) {
    return std::make_unique<TR>(t);
  } else {
    return t.template make<T, W>();
  }
}
}  // namespace detail

// ---- evictors ------------------------------------------------------------------------------------

/// An element of a window with its timestamp (what evictors see).
template <class T>
struct TimestampedValue {
  T value;
  int64_t timestamp;
};

/// Removes elements from a window before and/or after the window function runs.
template <class T, class W>
class Evictor {
 public:
  virtual ~Evictor() = default;
  virtual void evict_before(std::vector<TimestampedValue<T>>& elements, const W& window) = 0;
  virtual void evict_after(std::vector<TimestampedValue<T>>& elements, const W& window) = 0;
};

/// Keeps the last `max_count` elements (before the function, or after it).
class CountEvictor {
 public:
  static CountEvictor of(int64_t max_count, bool do_evict_after = false) {
    if (max_count < 0) throw GraphError("CountEvictor::of: the count must not be negative");
    return CountEvictor(max_count, do_evict_after);
  }
  template <class T, class W>
  class For final : public Evictor<T, W> {
   public:
    For(int64_t n, bool after) : n_(n), after_(after) {}
    void evict_before(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (!after_) evict(e);
    }
    void evict_after(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (after_) evict(e);
    }

   private:
    void evict(std::vector<TimestampedValue<T>>& e) const {
      if (static_cast<int64_t>(e.size()) > n_) e.erase(e.begin(), e.end() - n_);
    }
    int64_t n_;
    bool after_;
  };
  template <class T, class W>
  std::unique_ptr<Evictor<T, W>> make() const {
    return std::make_unique<For<T, W>>(n_, after_);
  }

 private:
  CountEvictor(int64_t n, bool after) : n_(n), after_(after) {}
  int64_t n_;
  bool after_;
};

/// Keeps the elements within `window_size` of the newest element's timestamp.
class TimeEvictor {
 public:
  static TimeEvictor of(std::chrono::milliseconds window_size, bool do_evict_after = false) {
    if (window_size.count() < 0) {
      throw GraphError("TimeEvictor::of(" + std::to_string(window_size.count()) +
                       "ms): the size must not be negative (it keeps the elements within that time of the newest)");
    }
    return TimeEvictor(window_size.count(), do_evict_after);
  }
  template <class T, class W>
  class For final : public Evictor<T, W> {
   public:
    For(int64_t size, bool after) : size_(size), after_(after) {}
    void evict_before(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (!after_) evict(e);
    }
    void evict_after(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (after_) evict(e);
    }

   private:
    void evict(std::vector<TimestampedValue<T>>& e) const {
      if (e.empty() || e.front().timestamp == kNoTimestamp) return;
      int64_t newest = std::numeric_limits<int64_t>::min();
      for (auto& v : e) newest = std::max(newest, v.timestamp);
      const int64_t cut = newest - size_;
      std::erase_if(e, [cut](const TimestampedValue<T>& v) { return v.timestamp <= cut; });
    }
    int64_t size_;
    bool after_;
  };
  template <class T, class W>
  std::unique_ptr<Evictor<T, W>> make() const {
    return std::make_unique<For<T, W>>(size_, after_);
  }

 private:
  TimeEvictor(int64_t s, bool after) : size_(s), after_(after) {}
  int64_t size_;
  bool after_;
};

// ---- assigners -------------------------------------------------------------------------------------

/// Fixed-size, non-overlapping event-time windows: `of(size[, offset])`.
class TumblingEventTimeWindows {
 public:
  using window_type = TimeWindow;
  static constexpr bool kMerging = false;
  static TumblingEventTimeWindows of(std::chrono::milliseconds size, std::chrono::milliseconds offset = std::chrono::milliseconds(0)) {
    check("TumblingEventTimeWindows", size, offset);
    return TumblingEventTimeWindows(size.count(), offset.count());
  }
  bool is_event_time() const { return true; }
  EventTimeTrigger default_trigger() const { return {}; }
  template <class T>
  void assign_windows(const T&, int64_t ts, int64_t, std::vector<TimeWindow>& out) const {
    const int64_t start = TimeWindow::get_window_start_with_offset(ts, offset_, size_);
    out.emplace_back(start, start + size_);
  }
  int64_t size() const { return size_; }
  int64_t slide() const { return size_; }
  int64_t offset() const { return offset_; }

 protected:
  TumblingEventTimeWindows(int64_t s, int64_t o) : size_(s), offset_(o) {}
  /// Throws GraphError naming `cls` (the event- or processing-time class the user called).
  static void check(const char* cls, std::chrono::milliseconds size, std::chrono::milliseconds offset) {
    if (size.count() <= 0) throw GraphError(std::string(cls) + "::of: the size must be positive, got " + std::to_string(size.count()) + "ms");
    if (std::abs(offset.count()) >= size.count()) {
      throw GraphError(std::string(cls) + "::of: |offset| must be below the size, got offset " + std::to_string(offset.count()) +
                       "ms for size " + std::to_string(size.count()) + "ms");
    }
  }
  int64_t size_;
  int64_t offset_;
};

/// Tumbling windows in processing time.
class TumblingProcessingTimeWindows : public TumblingEventTimeWindows {
 public:
  static TumblingProcessingTimeWindows of(std::chrono::milliseconds size, std::chrono::milliseconds offset = std::chrono::milliseconds(0)) {
    check("TumblingProcessingTimeWindows", size, offset);
    return TumblingProcessingTimeWindows(size.count(), offset.count());
  }
  bool is_event_time() const { return false; }
  ProcessingTimeTrigger default_trigger() const { return {}; }
  template <class T>
  void assign_windows(const T& v, int64_t, int64_t now, std::vector<TimeWindow>& out) const {
    TumblingEventTimeWindows::assign_windows(v, now, now, out);
  }

 private:
  TumblingProcessingTimeWindows(int64_t s, int64_t o) : TumblingEventTimeWindows(s, o) {}
};

/// Windows of `size` every `slide` (overlapping when slide < size): `of(size, slide[, offset])`.
class SlidingEventTimeWindows {
 public:
  using window_type = TimeWindow;
  static constexpr bool kMerging = false;
  static SlidingEventTimeWindows of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                                    std::chrono::milliseconds offset = std::chrono::milliseconds(0)) {
    check("SlidingEventTimeWindows", size, slide, offset);
    return SlidingEventTimeWindows(size.count(), slide.count(), offset.count());
  }
  bool is_event_time() const { return true; }
  EventTimeTrigger default_trigger() const { return {}; }
  template <class T>
  void assign_windows(const T&, int64_t ts, int64_t, std::vector<TimeWindow>& out) const {
    const int64_t last_start = TimeWindow::get_window_start_with_offset(ts, offset_, slide_);
    for (int64_t start = last_start; start > ts - size_; start -= slide_) out.emplace_back(start, start + size_);
  }
  int64_t size() const { return size_; }
  int64_t slide() const { return slide_; }
  int64_t offset() const { return offset_; }

 protected:
  SlidingEventTimeWindows(int64_t s, int64_t sl, int64_t o) : size_(s), slide_(sl), offset_(o) {}
  /// Throws GraphError naming `cls` (the event- or processing-time class the user called).
  static void check(const char* cls, std::chrono::milliseconds size, std::chrono::milliseconds slide,
                    std::chrono::milliseconds offset) {
    if (size.count() <= 0 || slide.count() <= 0) {
      throw GraphError(std::string(cls) + "::of: size and slide must be positive, got size " + std::to_string(size.count()) +
                       "ms and slide " + std::to_string(slide.count()) + "ms");
    }
    if (std::abs(offset.count()) >= slide.count()) {
      throw GraphError(std::string(cls) + "::of: |offset| must be below the slide, got offset " + std::to_string(offset.count()) +
                       "ms for slide " + std::to_string(slide.count()) + "ms");
    }
  }
  int64_t size_;
  int64_t slide_;
  int64_t offset_;
};

class SlidingProcessingTimeWindows : public SlidingEventTimeWindows {
 public:
  static SlidingProcessingTimeWindows of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                                         std::chrono::milliseconds offset = std::chrono::milliseconds(0)) {
    check("SlidingProcessingTimeWindows", size, slide, offset);
    return SlidingProcessingTimeWindows(size.count(), slide.count(), offset.count());
  }
  bool is_event_time() const { return false; }
  ProcessingTimeTrigger default_trigger() const { return {}; }
  template <class T>
  void assign_windows(const T& v, int64_t, int64_t now, std::vector<TimeWindow>& out) const {
    SlidingEventTimeWindows::assign_windows(v, now, now, out);
  }

 private:
  SlidingProcessingTimeWindows(int64_t s, int64_t sl, int64_t o) : SlidingEventTimeWindows(s, sl, o) {}
};

/// Session windows: a window per burst of activity, closed by a gap without elements. The gap
/// is fixed (`with_gap`) or computed per element (`with_dynamic_gap(f)`, f: int64_t(const T&) ms).
template <class GapFn = std::nullptr_t, bool kEventTime = true>
class SessionWindows {
 public:
  using window_type = TimeWindow;
  static constexpr bool kMerging = true;
  explicit SessionWindows(int64_t gap, GapFn f = {}) : gap_(gap), gap_fn_(std::move(f)) {}
  bool is_event_time() const { return kEventTime; }
  auto default_trigger() const {
    if constexpr (kEventTime) {
      return EventTimeTrigger{};
    } else {
      return ProcessingTimeTrigger{};
    }
  }
  template <class T>
  void assign_windows(const T& v, int64_t ts, int64_t now, std::vector<TimeWindow>& out) const {
    const int64_t t = kEventTime ? ts : now;
    int64_t gap = gap_;
    if constexpr (!std::is_same_v<GapFn, std::nullptr_t>) gap = gap_fn_(v);
    if (gap <= 0) throw std::invalid_argument("session window gap must be positive, got " + std::to_string(gap));
    out.emplace_back(t, t + gap);
  }

 private:
  int64_t gap_;
  GapFn gap_fn_;
};

class EventTimeSessionWindows {
 public:
  static SessionWindows<std::nullptr_t, true> with_gap(std::chrono::milliseconds gap) {
    if (gap.count() <= 0) throw GraphError("EventTimeSessionWindows::with_gap: the gap must be positive");
    return SessionWindows<std::nullptr_t, true>(gap.count());
  }
  /// `f(const T&)` returns the gap in milliseconds for the session the element opens.
  template <class F>
  static SessionWindows<F, true> with_dynamic_gap(F f) {
    return SessionWindows<F, true>(0, std::move(f));
  }
};

class ProcessingTimeSessionWindows {
 public:
  static SessionWindows<std::nullptr_t, false> with_gap(std::chrono::milliseconds gap) {
    if (gap.count() <= 0) throw GraphError("ProcessingTimeSessionWindows::with_gap: the gap must be positive");
    return SessionWindows<std::nullptr_t, false>(gap.count());
  }
  template <class F>
  static SessionWindows<F, false> with_dynamic_gap(F f) {
    return SessionWindows<F, false>(0, std::move(f));
  }
};

/// One window holding every element; fires only with a custom trigger (count windows use it).
class GlobalWindows {
 public:
  using window_type = GlobalWindow;
  static constexpr bool kMerging = false;
  static GlobalWindows create() { return {}; }
  bool is_event_time() const { return false; }
  NeverTrigger default_trigger() const { return {}; }
  template <class T>
  void assign_windows(const T&, int64_t, int64_t, std::vector<GlobalWindow>& out) const {
    out.push_back(GlobalWindow{});
  }
};

// ---- window functions --------------------------------------------------------------------------

/// Processes all elements of a window at once, with the window's metadata, as Flink's
/// ProcessWindowFunction. Copied per subtask.
template <class IN, class OUT, class K, class W>
class ProcessWindowFunction {
 public:
  using input_type = IN;
  using output_type = OUT;
  using key_type = K;
  using window_type = W;

  class Context {
   public:
    virtual ~Context() = default;
    virtual const W& window() const = 0;
    virtual int64_t current_processing_time() const = 0;
    virtual int64_t current_watermark() const = 0;
    template <class U>
    void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) {
      detail::emit_side_output(op(), tag, value, window().max_timestamp());
    }

   protected:
    virtual const runtime::StreamOperator& op() const = 0;
  };

  virtual ~ProcessWindowFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process(const K& key, Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
  /// Called when the window's state is cleared.
  virtual void clear(Context&) {}
};

/// ProcessWindowFunction for non-keyed windows (`window_all`).
template <class IN, class OUT, class W>
class ProcessAllWindowFunction {
 public:
  using input_type = IN;
  using output_type = OUT;
  using window_type = W;
  class Context {
   public:
    virtual ~Context() = default;
    virtual const W& window() const = 0;
    virtual int64_t current_processing_time() const = 0;
    virtual int64_t current_watermark() const = 0;
  };
  virtual ~ProcessAllWindowFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process(Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
};

// ---- checkpoint encodings ----------------------------------------------------------------------

template <>
struct Serde<GlobalWindow> {
  static void write(ByteWriter&, const GlobalWindow&) {}
  static GlobalWindow read(ByteReader&) { return GlobalWindow{}; }
};
template <SerdeType T>
struct Serde<TimestampedValue<T>> {
  static void write(ByteWriter& w, const TimestampedValue<T>& v) {
    Serde<T>::write(w, v.value);
    w.write_fixed(v.timestamp);
  }
  static TimestampedValue<T> read(ByteReader& r) {
    T v = Serde<T>::read(r);
    const auto ts = r.read_fixed<int64_t>();
    return TimestampedValue<T>{std::move(v), ts};
  }
};

}  // namespace weir
