// q11, user sessions: bids per bidder and session (a gap of 10 s without bids ends it).
//   SELECT B.bidder, count(*) AS bid_count, SESSION_START(B.dateTime, INTERVAL '10' SECOND),
//          SESSION_END(B.dateTime, INTERVAL '10' SECOND)
//   FROM bid B GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND);
// In Weir: the bids' bidder ids keyed by bidder into event-time session windows (gap 10 s) with
// a counting aggregate; the window function adds the session's start and end (the last bid's
// time + 10 s, as SESSION_END).
#include <algorithm>
#include <unordered_map>

#include "weir/windows/windowed_stream.hpp"
#include "qa_util.h"

namespace nexmark {
namespace {

constexpr int64_t kGap = 10'000;

struct Q11Row {
  int64_t bidder = 0;
  int64_t bid_count = 0;
  int64_t starttime = 0;
  int64_t endtime = 0;
};
WEIR_SERDE(Q11Row, bidder, bid_count, starttime, endtime)

struct CountBids {
  int64_t create_accumulator() const { return 0; }
  int64_t add(const int64_t&, int64_t acc) const { return acc + 1; }
  int64_t get_result(const int64_t& acc) const { return acc; }
  int64_t merge(int64_t a, int64_t b) const { return a + b; }
};

class SessionRow final : public weir::ProcessWindowFunction<int64_t, Q11Row, int64_t, weir::TimeWindow> {
 public:
  void process(const int64_t& bidder, Context& ctx, const std::vector<int64_t>& counts,
               weir::Collector<Q11Row>& out) override {
    for (int64_t n : counts) out.collect(Q11Row{bidder, n, ctx.window().start(), ctx.window().end()});
  }
};

std::vector<std::string> q11_reference(const std::vector<Event>& events, const Config&) {
  std::unordered_map<int64_t, std::vector<int64_t>> times;
  for (const Event& e : events)
    if (const Bid* b = e.bid()) times[b->bidder].push_back(b->date_time);
  std::vector<std::string> out;
  for (auto& [bidder, ts] : times) {
    std::sort(ts.begin(), ts.end());
    std::size_t first = 0;
    for (std::size_t i = 1; i <= ts.size(); ++i) {
      // Windows [t, t + gap) that overlap or touch are one session.
      if (i == ts.size() || ts[i] > ts[i - 1] + kGap) {
        out.push_back(row(bidder, static_cast<int64_t>(i - first), ts[first], ts[i - 1] + kGap));
        first = i;
      }
    }
  }
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q11", "user sessions: bids per bidder and 10 s-gap session",
    [](QueryContext& ctx) {
      auto sessions = ctx.events
                          .flat_map([](const Event& e, weir::Collector<int64_t>& out) {
                            if (const Bid* b = e.bid()) out.collect(b->bidder);
                          })
                          .name("q11-bidder")
                          .key_by([](const int64_t& bidder) { return bidder; })
                          .window(weir::EventTimeSessionWindows::with_gap(std::chrono::milliseconds(kGap)))
                          .aggregate(CountBids{}, SessionRow{})
                          .name("q11-sessions");
      ctx.sink(sessions, [](const Q11Row& r) { return row(r.bidder, r.bid_count, r.starttime, r.endtime); },
               [](const Q11Row& r) { return r.endtime; });
    },
    q11_reference});

}  // namespace
}  // namespace nexmark
