#pragma once
// Shared by q1-q11 (this worktree's queries): small row structs' formatting and the event-time
// helpers their jobs and references use.
#include <cstdint>
#include <limits>
#include <string>

#include "../query.h"

namespace nexmark::qa {

/// A latency time that no generator reaches: rows stamped with it take no latency sample
/// (queries whose README latency time is "none").
inline constexpr int64_t kNoLatencyTime = std::numeric_limits<int64_t>::max();

/// A DECIMAL with 3 digits of scale held as an integer number of thousandths, as Flink prints
/// it ("11209.260"; a negative value keeps its sign in front).
inline std::string decimal3(int64_t thousandths) {
  std::string out;
  uint64_t v = static_cast<uint64_t>(thousandths);
  if (thousandths < 0) {
    out.push_back('-');
    v = 0 - v;
  }
  out += std::to_string(v / 1000);
  out.push_back('.');
  const unsigned frac = static_cast<unsigned>(v % 1000);
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
  return out;
}

/// Start of the tumbling (or hopping: size = slide) window of `size` ms holding `ts`, aligned to
/// the epoch as Flink's TUMBLE/HOP without offset.
inline int64_t window_start(int64_t ts, int64_t size) {
  const int64_t r = ts % size;
  return r < 0 ? ts - (r + size) : ts - r;
}

}  // namespace nexmark::qa
