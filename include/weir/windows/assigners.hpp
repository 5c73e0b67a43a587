#pragma once
/// Window assigners: tumbling, sliding, session and global windows, in event or processing time.
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

#include "weir/windows/triggers.hpp"
#include "weir/windows/window.hpp"

namespace weir {

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

}  // namespace weir
