// q15, bidding statistics per day: bids, distinct bidders and distinct auctions, in total and
// per price rank (below 10,000; below 1,000,000; above), an unbounded aggregate upserted by day.
//   SELECT DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
//          count(*), count(*) FILTER (WHERE price < 10000), ... (three ranks),
//          count(DISTINCT bidder), ... FILTER per rank, count(DISTINCT auction), ... FILTER per rank
//   FROM bid GROUP BY DATE_FORMAT(dateTime, 'yyyy-MM-dd');
// Weir: bids projected to (day, bidder, auction, rank), keyed by day; a KeyedProcessFunction
// keeps the counters and, per distinct bidder/auction, the ranks it was seen in (MapState), and
// emits the group's new counts for every bid (as Flink's GroupAggregate emits an update).
#include "../query.h"
#include "qb_util.h"

namespace nexmark {
namespace {

struct Q15In {
  int64_t day = 0;
  int64_t bidder = 0;
  int64_t auction = 0;
  int32_t rank = 0;
};
WEIR_SERDE(Q15In, day, bidder, auction, rank)

struct Q15Out {
  int64_t day = 0;
  qb::RankedCounts counts;
};
WEIR_SERDE(Q15Out, day, counts)

struct Q15Agg : weir::KeyedProcessFunction<int64_t, Q15In, Q15Out> {
  qb::RankedCountState state;
  void open(weir::RuntimeContext& rc) override { state.open(rc, "q15"); }
  void process_element(const Q15In& b, Context&, weir::Collector<Q15Out>& out) override {
    out.collect(Q15Out{b.day, state.add(b.bidder, b.auction, b.rank)});
  }
};

std::string q15_row(const Q15Out& r) { return qb::day_string(r.day) + "," + qb::counts_text(r.counts); }

NEXMARK_QUERY(QueryDef{
    "q15", "per day: bids, distinct bidders and auctions, in total and per price rank",
    [](QueryContext& ctx) {
      auto in = ctx.events
                    .flat_map([](const Event& e, weir::Collector<Q15In>& out) {
                      if (const Bid* b = e.bid())
                        out.collect(Q15In{qb::day_number(b->date_time), b->bidder, b->auction, qb::price_rank(b->price)});
                    })
                    .name("q15-project");
      auto rows = in.key_by([](const Q15In& b) { return b.day; }).process(Q15Agg{}).name("q15-aggregate");
      ctx.upsert_sink(rows, q15_row, [](const Q15Out&) { return INT64_MAX; },
                      [](const Q15Out& r) { return qb::day_string(r.day); });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::map<std::string, qb::RankedCountReference> groups;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        const int rank = b->price < 10'000 ? 1 : b->price < 1'000'000 ? 2 : 3;
        groups[qb::day_string(qb::day_number(b->date_time))].add(b->bidder, b->auction, rank);
      }
      std::vector<std::string> out;
      for (const auto& [day, g] : groups) out.push_back(day + "," + qb::counts_text(g.counts));
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
