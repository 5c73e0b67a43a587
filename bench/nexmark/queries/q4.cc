// q4, average price per category: the average over auctions of each auction's winning (largest)
// bid among the bids made between its start and its expiry.
//   SELECT Q.category, AVG(Q.final) FROM (
//     SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
//     WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//     GROUP BY A.id, A.category) Q
//   GROUP BY Q.category;
// An updating query (upsert by category); AVG on BIGINT is a BIGINT (truncated).
// In Weir: auctions (id, category, dateTime, expires) and bids (auction, price, dateTime), keyed
// by auction id, meet in a KeyedCoProcessFunction that keeps each auction's maximum and emits a
// change (category, old maximum, new maximum) whenever it grows (Flink's -U/+U of the inner
// GROUP BY); bids that arrive before their auction wait in keyed state. Keyed by category, a
// KeyedProcessFunction keeps sum and count of the maxima and emits the average on each change.
// State is dropped when the watermark passes an auction's expiry (no later bid can match it),
// where Flink's regular join keeps both sides for ever: the same rows on in-order input such as
// the generator's (no event behind the watermark).
#include <unordered_map>

#include "qa_util.h"

namespace nexmark {
namespace {

struct Q4Auction {
  int64_t id = 0;
  int64_t category = 0;
  int64_t date_time = 0;
  int64_t expires = 0;
};
WEIR_SERDE(Q4Auction, id, category, date_time, expires)

struct Q4Bid {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t date_time = 0;
};
WEIR_SERDE(Q4Bid, auction, price, date_time)

struct Q4Open {
  int64_t category = 0;
  int64_t date_time = 0;
  int64_t expires = 0;
  int64_t max = -1;  // no bid yet
};
WEIR_SERDE(Q4Open, category, date_time, expires, max)

struct Q4Change {
  int64_t category = 0;
  int64_t old_max = -1;  // -1: the auction had no winning bid before
  int64_t new_max = 0;
};
WEIR_SERDE(Q4Change, category, old_max, new_max)

struct Q4Row {
  int64_t category = 0;
  int64_t avg = 0;
};
WEIR_SERDE(Q4Row, category, avg)

class WinningBid final : public weir::KeyedCoProcessFunction<int64_t, Q4Auction, Q4Bid, Q4Change> {
 public:
  void open(weir::RuntimeContext& rc) override {
    open_ = rc.get_state(weir::ValueStateDescriptor<Q4Open>("auction"));
    early_.open(rc);
  }
  void process_element1(const Q4Auction& a, Context& ctx, weir::Collector<Q4Change>& out) override {
    Q4Open o{a.category, a.date_time, a.expires, -1};
    for (const Q4Bid& b : early_.take())
      if (b.date_time >= a.date_time && b.date_time <= a.expires) o.max = std::max(o.max, b.price);
    if (o.max >= 0) out.collect(Q4Change{a.category, -1, o.max});
    open_.update(o);
    ctx.timer_service().register_event_time_timer(a.expires);
  }
  void process_element2(const Q4Bid& b, Context& ctx, weir::Collector<Q4Change>& out) override {
    std::optional<Q4Open> o = open_.value();
    if (!o) {
      early_.add(b, ctx);
      return;
    }
    if (b.date_time < o->date_time || b.date_time > o->expires || b.price <= o->max) return;
    out.collect(Q4Change{o->category, o->max, b.price});
    o->max = b.price;
    open_.update(*o);
  }
  void on_timer(int64_t t, OnTimerContext&, weir::Collector<Q4Change>&) override {
    if (auto o = open_.value(); o && t >= o->expires) open_.clear();
    early_.on_timer(t);
  }

 private:
  weir::ValueState<Q4Open> open_;
  qa::EarlyBids<Q4Bid> early_;
};

struct Q4Sum {
  int64_t sum = 0;
  int64_t count = 0;
};
WEIR_SERDE(Q4Sum, sum, count)

class AveragePerCategory final : public weir::KeyedProcessFunction<int64_t, Q4Change, Q4Row> {
 public:
  void open(weir::RuntimeContext& rc) override { sum_ = rc.get_state(weir::ValueStateDescriptor<Q4Sum>("sum")); }
  void process_element(const Q4Change& c, Context&, weir::Collector<Q4Row>& out) override {
    Q4Sum s = sum_.value().value_or(Q4Sum{});
    if (c.old_max < 0) {
      ++s.count;
      s.sum += c.new_max;
    } else {
      s.sum += c.new_max - c.old_max;
    }
    sum_.update(s);
    out.collect(Q4Row{c.category, s.sum / s.count});
  }

 private:
  weir::ValueState<Q4Sum> sum_;
};

std::vector<std::string> q4_reference(const std::vector<Event>& events, const Config&) {
  std::unordered_map<int64_t, const Auction*> auctions;
  for (const Event& e : events)
    if (const Auction* a = e.auction()) auctions.emplace(a->id, a);
  std::unordered_map<int64_t, int64_t> final_price;  // auction -> max
  for (const Event& e : events) {
    const Bid* b = e.bid();
    if (!b) continue;
    auto it = auctions.find(b->auction);
    if (it == auctions.end() || b->date_time < it->second->date_time || b->date_time > it->second->expires) continue;
    auto [f, fresh] = final_price.emplace(b->auction, b->price);
    if (!fresh) f->second = std::max(f->second, b->price);
  }
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> per_category;  // sum, count
  for (const auto& [id, price] : final_price) {
    auto& [sum, count] = per_category[auctions.at(id)->category];
    sum += price;
    ++count;
  }
  std::vector<std::string> out;
  for (const auto& [category, sc] : per_category) out.push_back(row(category, sc.first / sc.second));
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q4", "average winning price per category (updating, upsert by category)",
    [](QueryContext& ctx) {
      auto auctions = ctx.events
                          .flat_map([](const Event& e, weir::Collector<Q4Auction>& out) {
                            if (const Auction* a = e.auction()) out.collect(Q4Auction{a->id, a->category, a->date_time, a->expires});
                          })
                          .name("q4-auction");
      auto bids = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q4Bid>& out) {
                        if (const Bid* b = e.bid()) out.collect(Q4Bid{b->auction, b->price, b->date_time});
                      })
                      .name("q4-bid");
      auto changes = auctions.key_by([](const Q4Auction& a) { return a.id; })
                         .connect(bids.key_by([](const Q4Bid& b) { return b.auction; }))
                         .process(WinningBid{})
                         .name("q4-winning-bid");
      auto avg = changes.key_by([](const Q4Change& c) { return c.category; }).process(AveragePerCategory{}).name("q4-avg");
      ctx.upsert_sink(avg, [](const Q4Row& r) { return row(r.category, r.avg); },
                      [](const Q4Row&) { return qa::kNoLatencyTime; }, [](const Q4Row& r) { return std::to_string(r.category); });
    },
    q4_reference});

}  // namespace
}  // namespace nexmark
