// q19, the ten highest bids of each auction: ROW_NUMBER over price descending, ranks 1..10,
// an updating Top-N upserted by auction (the auction's whole top 10, one line per rank).
//   SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number
//                  FROM bid) WHERE rank_number <= 10;
// Weir: bids keyed by auction; ValueState holds the sorted top 10 and, separately, the entry
// price (the 10th price and time once ten are held) so that most bids are refused without
// reading the list. Equal prices rank by dateTime, then arrival (Flink: by arrival only; at the
// check runs' rate the two agree for a sequential source, and the result does not depend on
// how parallel sources interleave).
#include <algorithm>
#include <map>

#include "../query.h"

namespace nexmark {
namespace {

constexpr std::size_t kTopN = 10;

struct Q19Entry {  // the 10th of a full list
  int64_t price = 0;
  int64_t date_time = 0;
};
WEIR_SERDE(Q19Entry, price, date_time)

struct Q19Out {
  int64_t auction = 0;
  int64_t date_time = 0;  // the bid that changed the list (latency)
  std::vector<Bid> top;
};
WEIR_SERDE(Q19Out, auction, date_time, top)

// a ranks before b.
bool q19_before(const Bid& a, const Bid& b) {
  return a.price != b.price ? a.price > b.price : a.date_time < b.date_time;
}

struct Q19TopN : weir::KeyedProcessFunction<int64_t, Bid, Q19Out> {
  weir::ValueState<std::vector<Bid>> top;
  weir::ValueState<Q19Entry> last;  // present once the list is full
  void open(weir::RuntimeContext& rc) override {
    top = rc.get_state(weir::ValueStateDescriptor<std::vector<Bid>>("q19-top"));
    last = rc.get_state(weir::ValueStateDescriptor<Q19Entry>("q19-last"));
  }
  void process_element(const Bid& b, Context&, weir::Collector<Q19Out>& out) override {
    if (const std::optional<Q19Entry> l = last.value()) {
      // Full: b must rank before the 10th.
      if (!(b.price > l->price || (b.price == l->price && b.date_time < l->date_time))) return;
    }
    std::vector<Bid> list = top.value().value_or(std::vector<Bid>{});
    // After every entry that ranks before b or equal to it (equal: arrival order).
    auto at = std::upper_bound(list.begin(), list.end(), b, q19_before);
    list.insert(at, b);
    if (list.size() > kTopN) list.pop_back();
    if (list.size() == kTopN) last.update(Q19Entry{list.back().price, list.back().date_time});
    top.update(list);
    out.collect(Q19Out{b.auction, b.date_time, std::move(list)});
  }
};

std::string q19_rows(const Q19Out& o) {
  std::string s;
  for (std::size_t i = 0; i < o.top.size(); ++i) {
    const Bid& b = o.top[i];
    if (i) s.push_back('\n');
    s += row(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra, static_cast<int64_t>(i + 1));
  }
  return s;
}

NEXMARK_QUERY(QueryDef{
    "q19", "the ten highest bids of each auction",
    [](QueryContext& ctx) {
      auto bids = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Bid>& out) {
                        if (const Bid* b = e.bid()) out.collect(*b);
                      })
                      .name("bid");
      auto rows = bids.key_by([](const Bid& b) { return b.auction; }).process(Q19TopN{}).name("q19-top10");
      ctx.upsert_sink(rows, q19_rows, [](const Q19Out& o) { return o.date_time; },
                      [](const Q19Out& o) { return std::to_string(o.auction); });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::map<int64_t, std::vector<const Bid*>> bids;  // per auction, in id order
      for (const Event& e : events)
        if (const Bid* b = e.bid()) bids[b->auction].push_back(b);
      std::vector<std::string> out;
      for (auto& [auction, list] : bids) {
        std::stable_sort(list.begin(), list.end(), [](const Bid* a, const Bid* b) { return a->price > b->price; });
        for (std::size_t i = 0; i < list.size() && i < kTopN; ++i) {
          const Bid& b = *list[i];
          out.push_back(row(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra, static_cast<int64_t>(i + 1)));
        }
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
