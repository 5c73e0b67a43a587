// q1, currency conversion: every bid with its price in euros.
//   SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid;
// The price is DECIMAL(23, 3) in Flink: here an integer number of thousandths (price * 908),
// printed with 3 decimals. One chained flat_map from the events: no exchange.
#include "qa_util.h"

namespace nexmark {
namespace {

struct Q1Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price_milli = 0;  // 0.908 * price, in thousandths
  int64_t date_time = 0;
  Text extra;  // a view of the generator's pool while it is one (no copy per row)
};
WEIR_SERDE(Q1Row, auction, bidder, price_milli, date_time, extra)

Q1Row q1_of(const Bid& b) { return Q1Row{b.auction, b.bidder, b.price * 908, b.date_time, b.extra}; }

std::string q1_row(const Q1Row& r) { return row(r.auction, r.bidder, qa::decimal3(r.price_milli), r.date_time, r.extra); }

NEXMARK_QUERY(QueryDef{
    "q1", "currency conversion: every bid, price * 0.908 (DECIMAL, 3 digits)",
    [](QueryContext& ctx) {
      auto rows = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q1Row>& out) {
                        if (const Bid* b = e.bid()) out.collect(q1_of(*b));
                      })
                      .name("q1-convert");
      ctx.sink(rows, q1_row, [](const Q1Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events) {
        if (const Bid* b = e.bid()) {
          // 0.908 * price with exact decimal arithmetic: whole part and thousandths apart.
          const int64_t milli = b->price * 908;
          std::string price = std::to_string(milli / 1000) + ".";
          const std::string frac = std::to_string(milli % 1000);
          price += std::string(3 - frac.size(), '0') + frac;
          out.push_back(row(b->auction, b->bidder, price, b->date_time, b->extra));
        }
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
