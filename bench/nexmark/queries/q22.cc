// q22, url directories: the first three path segments of every bid's url.
//   SELECT auction, bidder, price, channel,
//          SPLIT_INDEX(url, '/', 3) AS dir1, SPLIT_INDEX(url, '/', 4) AS dir2,
//          SPLIT_INDEX(url, '/', 5) AS dir3
//   FROM bid;
// SPLIT_INDEX splits at every separator keeping empty tokens ("https:", "", host, ...) and is
// NULL when the index is past the last token.
#include <string_view>

#include "../query.h"

namespace nexmark {
namespace {

struct Q22Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;  // latency only
  Text channel;           // views of the generator's tables while they are ones (no copy per row)
  Text dir1, dir2, dir3;
  uint8_t present = 0;  // bit i: dir(i+1) is not NULL
};
WEIR_SERDE(Q22Row, auction, bidder, price, date_time, channel, dir1, dir2, dir3, present)

// The row of a bid: tokens 3, 4, 5 of its url split at '/' (token i runs from after the i-th
// '/' to the next one or the end; it exists while the url has at least i of them).
Q22Row q22_of(const Bid& b) {
  const std::string_view u = b.url.view();
  std::size_t cut[6];
  int n = 0;
  for (std::size_t at = u.find('/'); at != std::string_view::npos && n < 6; at = u.find('/', at + 1)) cut[n++] = at;
  auto token = [&](int i) {
    const std::size_t from = cut[i - 1] + 1;
    return b.url.slice(from, (i < n ? cut[i] : u.size()) - from);
  };
  return Q22Row{b.auction,
                b.bidder,
                b.price,
                b.date_time,
                b.channel,
                n >= 3 ? token(3) : Text(),
                n >= 4 ? token(4) : Text(),
                n >= 5 ? token(5) : Text(),
                static_cast<uint8_t>((n >= 3 ? 1 : 0) | (n >= 4 ? 2 : 0) | (n >= 5 ? 4 : 0))};
}

std::string q22_row(const Q22Row& r) {
  auto dir = [&](int i, const Text& t) { return (r.present >> i & 1) ? t.str() : std::string("null"); };
  return row(r.auction, r.bidder, r.price, r.channel.str(), dir(0, r.dir1), dir(1, r.dir2), dir(2, r.dir3));
}

NEXMARK_QUERY(QueryDef{
    "q22", "the first three directories of every bid's url",
    [](QueryContext& ctx) {
      auto rows = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q22Row>& out) {
                        const Bid* b = e.bid();
                        if (!b) return;
                        out.collect(q22_of(*b));
                      })
                      .name("q22-project");
      ctx.sink(rows, q22_row, [](const Q22Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        std::vector<std::string> tokens(1);
        for (char c : b->url) {
          if (c == '/') tokens.emplace_back();
          else tokens.back().push_back(c);
        }
        auto at = [&](std::size_t i) { return i < tokens.size() ? tokens[i] : std::string("null"); };
        out.push_back(row(b->auction, b->bidder, b->price, b->channel, at(3), at(4), at(5)));
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
