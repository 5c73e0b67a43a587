// q21, channel ids: bids of the four named channels (ids '0'..'3') or whose url carries a
// channel_id parameter (its value, as REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)).
//   SELECT auction, bidder, price, channel,
//          CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = 'google' THEN '1'
//               WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3'
//               ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id
//   FROM bid WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL
//                  OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu');
#include <cctype>
#include <optional>
#include <string_view>

#include "../query.h"

namespace nexmark {
namespace {

struct Q21Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;  // latency only
  std::string channel;
  std::string channel_id;
};
WEIR_SERDE(Q21Row, auction, bidder, price, date_time, channel, channel_id)

// The leftmost "channel_id=" at the start or after '&', and its value up to the next '&'.
std::optional<std::string_view> channel_id_param(std::string_view url) {
  constexpr std::string_view kName = "channel_id=";
  for (std::size_t at = url.find(kName); at != std::string_view::npos; at = url.find(kName, at + 1)) {
    if (at == 0 || url[at - 1] == '&') {
      const std::size_t b = at + kName.size();
      const std::size_t e = url.find('&', b);
      return url.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    }
  }
  return std::nullopt;
}

bool equals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower[i]) return false;
  return true;
}

// '0'..'3' for the named channels, else nullptr.
const char* named_channel_id(std::string_view channel) {
  if (equals_lower(channel, "apple")) return "0";
  if (equals_lower(channel, "google")) return "1";
  if (equals_lower(channel, "facebook")) return "2";
  if (equals_lower(channel, "baidu")) return "3";
  return nullptr;
}

std::string q21_row(const Q21Row& r) { return row(r.auction, r.bidder, r.price, r.channel, r.channel_id); }

NEXMARK_QUERY(QueryDef{
    "q21", "channel ids of bids: named channels or the url's channel_id parameter",
    [](QueryContext& ctx) {
      auto rows = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q21Row>& out) {
                        const Bid* b = e.bid();
                        if (!b) return;
                        std::string id;
                        if (const char* named = named_channel_id(b->channel)) {
                          id = named;
                        } else if (auto param = channel_id_param(b->url)) {
                          id = *param;
                        } else {
                          return;
                        }
                        out.collect(Q21Row{b->auction, b->bidder, b->price, b->date_time, b->channel, std::move(id)});
                      })
                      .name("q21-filter-project");
      ctx.sink(rows, q21_row, [](const Q21Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        std::string lower = b->channel;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::optional<std::string> param;
        // Every match of "channel_id=", scanning left to right: the first whose start is valid.
        for (std::size_t i = 0; i + 11 <= b->url.size() && !param; ++i) {
          if (b->url.view().compare(i, 11, "channel_id=") != 0 || (i > 0 && b->url[i - 1] != '&')) continue;
          std::size_t j = i + 11;
          std::string v;
          while (j < b->url.size() && b->url[j] != '&') v.push_back(b->url[j++]);
          param = v;
        }
        const char* named = lower == "apple" ? "0" : lower == "google" ? "1" : lower == "facebook" ? "2" : lower == "baidu" ? "3" : nullptr;
        if (named) {
          out.push_back(row(b->auction, b->bidder, b->price, b->channel, std::string(named)));
        } else if (param) {
          out.push_back(row(b->auction, b->bidder, b->price, b->channel, *param));
        }
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
