// q5, hot items: per hopping window (10 s, every 2 s), the auctions with the most bids.
//   SELECT auction, num FROM (count(*) per auction and HOP window) AuctionBids
//   JOIN (max of those counts per window) MaxBids
//   ON same window AND AuctionBids.num >= MaxBids.maxn;
// In Weir: the bids' auction ids, keyed by auction, a sliding event-time window (10 s / 2 s,
// sliced: one count per element) counting bids, each count stamped with its window's end; then
// keyed by window end, a KeyedProcessFunction keeps the window's largest count and the auctions
// that have it, and emits them when the watermark passes the window (an event-time timer at the
// window's last millisecond, which the counts carry as their timestamp).
#include <map>
#include <unordered_map>

#include "weir/windows/windowed_stream.hpp"
#include "qa_util.h"

namespace nexmark {
namespace {

constexpr int64_t kSize = 10'000, kSlide = 2'000;

struct Q5Count {
  int64_t auction = 0;
  int64_t num = 0;
  int64_t window_end = 0;
};
WEIR_SERDE(Q5Count, auction, num, window_end)

struct CountBids {
  int64_t create_accumulator() const { return 0; }
  int64_t add(const int64_t&, int64_t acc) const { return acc + 1; }
  int64_t get_result(const int64_t& acc) const { return acc; }
  int64_t merge(int64_t a, int64_t b) const { return a + b; }
};

class StampWindow final : public weir::ProcessWindowFunction<int64_t, Q5Count, int64_t, weir::TimeWindow> {
 public:
  void process(const int64_t& auction, Context& ctx, const std::vector<int64_t>& counts,
               weir::Collector<Q5Count>& out) override {
    for (int64_t n : counts) out.collect(Q5Count{auction, n, ctx.window().end()});
  }
};

/// Keyed by window end: the largest count and the auctions with it; emitted at the window's end.
class MaxPerWindow final : public weir::KeyedProcessFunction<int64_t, Q5Count, Q5Count> {
 public:
  void open(weir::RuntimeContext& rc) override {
    max_ = rc.get_state(weir::ValueStateDescriptor<int64_t>("max"));
    top_ = rc.get_list_state(weir::ListStateDescriptor<int64_t>("top"));
  }
  void process_element(const Q5Count& c, Context& ctx, weir::Collector<Q5Count>&) override {
    const std::optional<int64_t> m = max_.value();
    if (!m) {
      ctx.timer_service().register_event_time_timer(c.window_end - 1);
    } else if (c.num < *m) {
      return;
    } else if (c.num == *m) {
      top_.add(c.auction);
      return;
    } else {
      top_.clear();
    }
    max_.update(c.num);
    top_.add(c.auction);
  }
  void on_timer(int64_t, OnTimerContext& ctx, weir::Collector<Q5Count>& out) override {
    const int64_t end = ctx.get_current_key();
    const int64_t num = max_.value().value_or(0);
    for (int64_t a : top_.get()) out.collect(Q5Count{a, num, end});
    max_.clear();
    top_.clear();
  }

 private:
  weir::ValueState<int64_t> max_;
  weir::ListState<int64_t> top_;
};

std::vector<std::string> q5_reference(const std::vector<Event>& events, const Config&) {
  std::map<int64_t, std::unordered_map<int64_t, int64_t>> counts;  // window start -> auction -> bids
  for (const Event& e : events) {
    const Bid* b = e.bid();
    if (!b) continue;
    for (int64_t s = qa::window_start(b->date_time, kSlide); s > b->date_time - kSize; s -= kSlide) ++counts[s][b->auction];
  }
  std::vector<std::string> out;
  for (const auto& [start, per_auction] : counts) {
    int64_t maxn = 0;
    for (const auto& [a, n] : per_auction) maxn = std::max(maxn, n);
    for (const auto& [a, n] : per_auction)
      if (n >= maxn) out.push_back(row(a, n));
  }
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q5", "hot items: per 10 s window every 2 s, the auctions with the most bids",
    [](QueryContext& ctx) {
      auto counts = ctx.events
                        .flat_map([](const Event& e, weir::Collector<int64_t>& out) {
                          if (const Bid* b = e.bid()) out.collect(b->auction);
                        })
                        .name("q5-bid-auction")
                        .key_by([](const int64_t& auction) { return auction; })
                        .window(weir::SlidingEventTimeWindows::of(std::chrono::milliseconds(kSize),
                                                                  std::chrono::milliseconds(kSlide)))
                        .aggregate(CountBids{}, StampWindow{})
                        .name("q5-count");
      auto hot = counts.key_by([](const Q5Count& c) { return c.window_end; }).process(MaxPerWindow{}).name("q5-max");
      ctx.sink(hot, [](const Q5Count& c) { return row(c.auction, c.num); }, [](const Q5Count& c) { return c.window_end; });
    },
    q5_reference});

}  // namespace
}  // namespace nexmark
