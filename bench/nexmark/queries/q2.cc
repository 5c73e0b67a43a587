// q2, selection: the bids on auctions whose id is a multiple of 123.
//   SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
// One chained flat_map from the events (no exchange); rows carry the bid's dateTime for latency
// only.
#include "qa_util.h"

namespace nexmark {
namespace {

struct Q2Row {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t date_time = 0;  // latency only
};
WEIR_SERDE(Q2Row, auction, price, date_time)

NEXMARK_QUERY(QueryDef{
    "q2", "selection: bids on auctions with id % 123 == 0",
    [](QueryContext& ctx) {
      auto rows = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q2Row>& out) {
                        const Bid* b = e.bid();
                        if (b && b->auction % 123 == 0) out.collect(Q2Row{b->auction, b->price, b->date_time});
                      })
                      .name("q2-select");
      ctx.sink(rows, [](const Q2Row& r) { return row(r.auction, r.price); },
               [](const Q2Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (b && b->auction % 123 == 0) out.push_back(row(b->auction, b->price));
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
