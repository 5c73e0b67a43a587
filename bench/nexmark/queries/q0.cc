// q0, pass-through: every bid as it is (measures the cost of reading and writing).
//   SELECT auction, bidder, price, dateTime, extra FROM bid;
#include "../query.h"

namespace nexmark {
namespace {

std::string q0_row(const Bid& b) { return row(b.auction, b.bidder, b.price, b.date_time, b.extra); }

NEXMARK_QUERY(QueryDef{
    "q0", "pass-through: every bid",
    [](QueryContext& ctx) { ctx.sink(ctx.bids(), q0_row, [](const Bid& b) { return b.date_time; }); },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events)
        if (const Bid* b = e.bid()) out.push_back(q0_row(*b));
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
