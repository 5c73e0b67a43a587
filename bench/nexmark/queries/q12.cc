// q12, bids per bidder in tumbling windows of 10 s of processing time.
//   SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
//   FROM TABLE(TUMBLE(TABLE (SELECT *, PROCTIME() AS p_time FROM bid), DESCRIPTOR(p_time), INTERVAL '10' SECOND))
//   GROUP BY bidder, window_start, window_end;
// Weir: bidders keyed by id into TumblingProcessingTimeWindows of 10 s with a counting
// AggregateFunction and a ProcessWindowFunction that adds the window's bounds. The windows are
// those of the job's clock (a ManualClock in queries_qb_test.cc); as in Flink, windows still open
// when a bounded input ends do not fire. No reference: the rows depend on processing time.
#include <chrono>

#include "../query.h"
#include "qb_util.h"

namespace nexmark {
namespace qb {
namespace {

struct Count {
  int64_t create_accumulator() const { return 0; }
  int64_t add(const int64_t&, int64_t acc) const { return acc + 1; }
  int64_t get_result(const int64_t& acc) const { return acc; }
  int64_t merge(int64_t a, int64_t b) const { return a + b; }
};

struct WithWindow : weir::ProcessWindowFunction<int64_t, Q12Row, int64_t, weir::TimeWindow> {
  void process(const int64_t& bidder, Context& ctx, const std::vector<int64_t>& counts, weir::Collector<Q12Row>& out) override {
    for (int64_t n : counts) out.collect(Q12Row{bidder, n, ctx.window().start(), ctx.window().end()});
  }
};

}  // namespace

weir::DataStream<Q12Row> q12_bid_counts(const weir::DataStream<Event>& events) {
  using namespace std::chrono_literals;
  return events
      .flat_map([](const Event& e, weir::Collector<int64_t>& out) {
        if (const Bid* b = e.bid()) out.collect(b->bidder);
      })
      .name("q12-bidder")
      .key_by([](const int64_t& bidder) { return bidder; })
      .window(weir::TumblingProcessingTimeWindows::of(10'000ms))
      .aggregate(Count{}, WithWindow{})
      .name("q12-window");
}

}  // namespace qb

namespace {

std::string q12_row(const qb::Q12Row& r) { return row(r.bidder, r.bid_count, r.starttime, r.endtime); }

NEXMARK_QUERY(QueryDef{
    "q12", "bids per bidder in tumbling windows of 10 s of processing time",
    [](QueryContext& ctx) { ctx.sink(qb::q12_bid_counts(ctx.events), q12_row, [](const qb::Q12Row&) { return INT64_MAX; }); },
    nullptr});

}  // namespace
}  // namespace nexmark
