// q14, filter and compute: bids whose 0.908 * price lies in (1,000,000, 50,000,000), with the
// converted price (DECIMAL, 3 digits), the time of day of the bid (HOUR in UTC) and the number
// of 'c' bytes in `extra` (the suite's count_char).
//   SELECT auction, bidder, 0.908 * price AS price,
//          CASE WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
//               WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
//               ELSE 'otherTime' END AS bidTimeType,
//          dateTime, extra, count_char(extra, 'c') AS c_counts
//   FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
#include <algorithm>

#include "../query.h"
#include "qb_util.h"

namespace nexmark {
namespace {

struct Q14Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price_milli = 0;  // 0.908 * price in thousandths: price * 908
  int64_t date_time = 0;
  int64_t c_counts = 0;
  Text extra;  // a view of the generator's pool while it is one (no copy per row)
};
WEIR_SERDE(Q14Row, auction, bidder, price_milli, date_time, c_counts, extra)

const char* bid_time_type(int64_t ms) {
  const int h = qb::hour_of(ms);
  if (h >= 8 && h <= 18) return "dayTime";
  if (h <= 6 || h >= 20) return "nightTime";
  return "otherTime";
}

// 0.908 * price > 1,000,000 and < 50,000,000, in thousandths.
bool q14_keeps(int64_t price) {
  const int64_t milli = price * 908;
  return milli > 1'000'000'000 && milli < 50'000'000'000;
}

Q14Row q14_project(const Bid& b) {
  return Q14Row{b.auction, b.bidder, b.price * 908, b.date_time,
                static_cast<int64_t>(std::count(b.extra.begin(), b.extra.end(), 'c')), b.extra};
}

std::string q14_row(const Q14Row& r) {
  return row(r.auction, r.bidder, qb::decimal3(r.price_milli), std::string(bid_time_type(r.date_time)), r.date_time,
             r.extra, r.c_counts);
}

NEXMARK_QUERY(QueryDef{
    "q14", "filter bids by converted price; time of day and 'c' count of extra",
    [](QueryContext& ctx) {
      auto rows = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q14Row>& out) {
                        const Bid* b = e.bid();
                        if (b && q14_keeps(b->price)) out.collect(q14_project(*b));
                      })
                      .name("q14-filter-project");
      ctx.sink(rows, q14_row, [](const Q14Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        const int64_t milli = b->price * 908;
        if (milli <= 1'000'000'000 || milli >= 50'000'000'000) continue;
        int64_t c = 0;
        for (char ch : b->extra) c += ch == 'c';
        const int h = qb::hour_of(b->date_time);
        const char* type = (h >= 8 && h <= 18) ? "dayTime" : (h <= 6 || h >= 20) ? "nightTime" : "otherTime";
        out.push_back(row(b->auction, b->bidder, qb::decimal3(milli), std::string(type), b->date_time, b->extra, c));
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
