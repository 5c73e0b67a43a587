#pragma once
/// Window types: TimeWindow [start, end) and the one GlobalWindow.
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

#include "weir/serde/serde.hpp"

namespace weir {

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

template <>
struct Serde<GlobalWindow> {
  static void write(ByteWriter&, const GlobalWindow&) {}
  static GlobalWindow read(ByteReader&) { return GlobalWindow{}; }
};

}  // namespace weir
