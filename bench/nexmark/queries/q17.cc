// q17, auction statistics per day: bids in total and per price rank, min, max, average
// (BIGINT: truncated) and sum of the price per (auction, day); an unbounded aggregate upserted by
// (auction, day).
//   SELECT auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day, count(*), <count per rank>,
//          min(price), max(price), avg(price), sum(price)
//   FROM bid GROUP BY auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
// Weir: bids projected to (auction, day, price), keyed by both (one int64); a ValueState of the
// accumulators, one update per bid.
#include <algorithm>
#include <array>

#include "../query.h"
#include "qb_util.h"

namespace nexmark {
namespace {

struct Q17In {
  int64_t auction = 0;
  int64_t day = 0;
  int64_t price = 0;
};
WEIR_SERDE(Q17In, auction, day, price)

struct Q17Acc {
  std::array<int64_t, 4> bids{};
  int64_t min = 0, max = 0, sum = 0;
};
WEIR_SERDE(Q17Acc, bids, min, max, sum)

struct Q17Out {
  int64_t auction = 0;
  int64_t day = 0;
  Q17Acc acc;
};
WEIR_SERDE(Q17Out, auction, day, acc)

// auction ids stay far below 2^40, days since 1970 below 2^23.
int64_t q17_key(const Q17In& b) { return (b.day << 40) | b.auction; }

struct Q17Agg : weir::KeyedProcessFunction<int64_t, Q17In, Q17Out> {
  weir::ValueState<Q17Acc> acc;
  void open(weir::RuntimeContext& rc) override { acc = rc.get_state(weir::ValueStateDescriptor<Q17Acc>("q17-acc")); }
  void process_element(const Q17In& b, Context&, weir::Collector<Q17Out>& out) override {
    std::optional<Q17Acc> a = acc.value();
    if (!a) {
      a.emplace();
      a->min = a->max = b.price;
    }
    ++a->bids[0];
    ++a->bids[qb::price_rank(b.price)];
    a->min = std::min(a->min, b.price);
    a->max = std::max(a->max, b.price);
    a->sum += b.price;
    acc.update(*a);
    out.collect(Q17Out{b.auction, b.day, *a});
  }
};

std::string q17_row(const Q17Out& r) {
  const Q17Acc& a = r.acc;
  return row(r.auction, qb::day_string(r.day), a.bids[0], a.bids[1], a.bids[2], a.bids[3], a.min, a.max,
             a.sum / a.bids[0], a.sum);
}

NEXMARK_QUERY(QueryDef{
    "q17", "per auction and day: bids per price rank, min, max, avg, sum of price",
    [](QueryContext& ctx) {
      auto in = ctx.events
                    .flat_map([](const Event& e, weir::Collector<Q17In>& out) {
                      if (const Bid* b = e.bid()) out.collect(Q17In{b->auction, qb::day_number(b->date_time), b->price});
                    })
                    .name("q17-project");
      auto rows = in.key_by(q17_key).process(Q17Agg{}).name("q17-aggregate");
      ctx.upsert_sink(rows, q17_row, [](const Q17Out&) { return INT64_MAX; },
                      [](const Q17Out& r) { return row(r.auction, r.day); });
    },
    [](const std::vector<Event>& events, const Config&) {
      struct G {
        int64_t n = 0, n1 = 0, n2 = 0, n3 = 0, min = INT64_MAX, max = INT64_MIN, sum = 0;
      };
      std::map<std::pair<int64_t, std::string>, G> groups;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        G& g = groups[{b->auction, qb::day_string(qb::day_number(b->date_time))}];
        ++g.n;
        if (b->price < 10'000) ++g.n1;
        else if (b->price < 1'000'000) ++g.n2;
        else ++g.n3;
        g.min = std::min(g.min, b->price);
        g.max = std::max(g.max, b->price);
        g.sum += b->price;
      }
      std::vector<std::string> out;
      for (const auto& [k, g] : groups)
        out.push_back(row(k.first, k.second, g.n, g.n1, g.n2, g.n3, g.min, g.max, g.sum / g.n, g.sum));
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
