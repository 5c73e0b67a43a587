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

namespace nexmark::qa {

/// The bids of one auction (the current key) that arrived before the auction, for the joins of
/// bids with the auction they name whose bid time must lie in [auction dateTime, expires] (q4,
/// q9). An early bid can only match an auction made no later than the bid: once the watermark
/// has passed the bid's time every such auction has arrived, so an event-time timer (rounded up
/// to the next second, one timer per key and second) drops it. `B` has `date_time`.
template <class B>
class EarlyBids {
 public:
  static constexpr int64_t kTimerStep = 1'000;
  void open(weir::RuntimeContext& rc) { bids_ = rc.get_list_state(weir::ListStateDescriptor<B>("early-bids")); }
  template <class Ctx>
  void add(const B& b, Ctx& ctx) {
    bids_.add(b);
    ctx.timer_service().register_event_time_timer(round_up(b.date_time));
  }
  /// Every early bid, then none.
  std::vector<B> take() {
    std::vector<B> out = bids_.get();
    if (!out.empty()) bids_.clear();
    return out;
  }
  /// Drops the bids not after the watermark `t`.
  void on_timer(int64_t t) {
    std::vector<B> bids = bids_.get();
    if (bids.empty()) return;
    const std::size_t n = bids.size();
    std::erase_if(bids, [&](const B& b) { return b.date_time <= t; });
    if (bids.size() != n) bids_.update(bids);
  }

 private:
  static int64_t round_up(int64_t t) { return window_start(t, kTimerStep) + kTimerStep - 1; }
  weir::ListState<B> bids_;
};

}  // namespace nexmark::qa
