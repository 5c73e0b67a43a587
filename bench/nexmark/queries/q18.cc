// q18, the latest bid per (bidder, auction): ROW_NUMBER over dateTime descending, rank 1 (Flink
// plans it as a deduplication keeping the last row by event time; an equal time replaces).
//   SELECT auction, bidder, price, channel, url, dateTime, extra
//   FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rank_number
//         FROM bid) WHERE rank_number <= 1;
// Weir: bids keyed by (bidder, auction); the state is the latest dateTime only (the row itself
// goes straight to the sink when it replaces the previous one), upserted by (bidder, auction).
#include <map>

#include "../query.h"

namespace nexmark {
namespace {

// bidder and auction ids stay far below 2^32.
int64_t q18_key(const Bid& b) { return (b.bidder << 32) | b.auction; }

struct Q18Dedup : weir::KeyedProcessFunction<int64_t, Bid, Bid> {
  weir::ValueState<int64_t> latest;
  void open(weir::RuntimeContext& rc) override { latest = rc.get_state(weir::ValueStateDescriptor<int64_t>("q18-latest")); }
  void process_element(const Bid& b, Context&, weir::Collector<Bid>& out) override {
    const std::optional<int64_t> t = latest.value();
    if (t && b.date_time < *t) return;
    latest.update(b.date_time);
    out.collect(b);
  }
};

std::string q18_row(const Bid& b) { return row(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra); }

NEXMARK_QUERY(QueryDef{
    "q18", "the latest bid of each bidder on each auction",
    [](QueryContext& ctx) {
      auto bids = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Bid>& out) {
                        if (const Bid* b = e.bid()) out.collect(*b);
                      })
                      .name("bid");
      auto rows = bids.key_by(q18_key).process(Q18Dedup{}).name("q18-dedup");
      ctx.upsert_sink(rows, q18_row, [](const Bid& b) { return b.date_time; },
                      [](const Bid& b) { return row(b.bidder, b.auction); });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::map<std::pair<int64_t, int64_t>, const Bid*> last;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        const Bid*& l = last[{b->bidder, b->auction}];
        if (!l || b->date_time >= l->date_time) l = b;
      }
      std::vector<std::string> out;
      for (const auto& [k, b] : last)
        out.push_back(row(b->auction, b->bidder, b->price, b->channel, b->url, b->date_time, b->extra));
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
