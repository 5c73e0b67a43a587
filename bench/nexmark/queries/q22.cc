// q22, url directories: the first three path segments of every bid's url.
//   SELECT auction, bidder, price, channel,
//          SPLIT_INDEX(url, '/', 3) AS dir1, SPLIT_INDEX(url, '/', 4) AS dir2,
//          SPLIT_INDEX(url, '/', 5) AS dir3
//   FROM bid;
// SPLIT_INDEX splits at every separator keeping empty tokens ("https:", "", host, ...) and is
// NULL when the index is past the last token.
#include <optional>
#include <string_view>

#include "../query.h"

namespace nexmark {
namespace {

struct Q22Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;  // latency only
  std::string channel;
  std::optional<std::string> dir1, dir2, dir3;
};
WEIR_SERDE(Q22Row, auction, bidder, price, date_time, channel, dir1, dir2, dir3)

// Tokens 3, 4, 5 of `url` split at '/'.
void split_dirs(std::string_view url, Q22Row& r) {
  std::size_t b = 0;
  for (int i = 0; i <= 5; ++i) {
    const std::size_t e = url.find('/', b);
    const std::string_view token = url.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    if (i == 3) r.dir1 = std::string(token);
    if (i == 4) r.dir2 = std::string(token);
    if (i == 5) r.dir3 = std::string(token);
    if (e == std::string_view::npos) return;
    b = e + 1;
  }
}

std::string q22_row(const Q22Row& r) {
  static const std::string kNull = "null";
  return row(r.auction, r.bidder, r.price, r.channel, r.dir1 ? *r.dir1 : kNull, r.dir2 ? *r.dir2 : kNull,
             r.dir3 ? *r.dir3 : kNull);
}

NEXMARK_QUERY(QueryDef{
    "q22", "the first three directories of every bid's url",
    [](QueryContext& ctx) {
      auto rows = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q22Row>& out) {
                        const Bid* b = e.bid();
                        if (!b) return;
                        Q22Row r{b->auction, b->bidder, b->price, b->date_time, b->channel, {}, {}, {}};
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
