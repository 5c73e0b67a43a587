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

// Tokens 3, 4, 5 of `url` split at '/': one pass over the url's bytes up to the sixth '/'.
void split_dirs(const Text& url, Q22Row& r) {
  const std::string_view u = url.view();
  Text* dirs[3] = {&r.dir1, &r.dir2, &r.dir3};
  std::size_t b = 0;
  int token = 0;
  for (std::size_t i = 0; i < u.size(); ++i) {
    if (u[i] != '/') continue;
    if (token >= 3) {
      *dirs[token - 3] = url.slice(b, i - b);
      r.present |= static_cast<uint8_t>(1u << (token - 3));
      if (token == 5) return;
    }
    ++token;
    b = i + 1;
  }
  if (token >= 3) {  // the last token runs to the end
    *dirs[token - 3] = url.slice(b);
    r.present |= static_cast<uint8_t>(1u << (token - 3));
  }
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
                        Q22Row r{b->auction, b->bidder, b->price, b->date_time, b->channel, {}, {}, {}, 0};
                        split_dirs(b->url, r);
                        out.collect(std::move(r));
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
