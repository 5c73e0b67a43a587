// q9, winning bids: each auction with its best bid (highest price, then earliest) among the
// bids made between its start and its expiry.
//   SELECT id, itemName, ..., extra, auction, bidder, price, bid_dateTime, bid_extra FROM (
//     SELECT A.*, B.auction, B.bidder, B.price, B.dateTime AS bid_dateTime, B.extra AS bid_extra,
//       ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime ASC) AS rownum
//     FROM auction A, bid B
//     WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires)
//   WHERE rownum <= 1;
// An updating query (Top-1 per auction: upsert by id). In Weir: auctions and bids keyed by
// auction id into a KeyedCoProcessFunction holding the auction and its best bid so far; every
// new best is emitted (equal price and time: the first one stays, as Flink's append-only
// Top-N). Bids before their auction wait in keyed state. The state is dropped when the
// watermark passes the auction's expiry (Flink keeps the join's state for ever: the same rows
// when no event is behind the watermark, as with the generator).
#include <unordered_map>

#include "qa_util.h"

namespace nexmark {
namespace {

struct Q9Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;
  std::string extra;
};
WEIR_SERDE(Q9Bid, auction, bidder, price, date_time, extra)

struct Q9Span {
  int64_t date_time = 0;
  int64_t expires = 0;
};
WEIR_SERDE(Q9Span, date_time, expires)

struct Q9Rank {
  int64_t price = 0;
  int64_t date_time = 0;
};
WEIR_SERDE(Q9Rank, price, date_time)

struct Q9Row {
  Auction a;
  Q9Bid b;
};
WEIR_SERDE(Q9Row, a, b)

/// Whether a bid (price, time) ranks above the current best (ORDER BY price DESC, dateTime ASC).
bool q9_better(int64_t price, int64_t date_time, const Q9Rank& best) {
  return price > best.price || (price == best.price && date_time < best.date_time);
}

std::string q9_row(const Auction& a, int64_t auction, int64_t bidder, int64_t price, int64_t bid_date_time,
                   const std::string& bid_extra) {
  return row(a.id, a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category,
             a.extra, auction, bidder, price, bid_date_time, bid_extra);
}

class BestBid final : public weir::KeyedCoProcessFunction<int64_t, Auction, Q9Bid, Q9Row> {
 public:
  void open(weir::RuntimeContext& rc) override {
    span_ = rc.get_state(weir::ValueStateDescriptor<Q9Span>("span"));
    auction_ = rc.get_state(weir::ValueStateDescriptor<Auction>("auction"));
    rank_ = rc.get_state(weir::ValueStateDescriptor<Q9Rank>("best-rank"));
    early_.open(rc);
  }
  void process_element1(const Auction& a, Context& ctx, weir::Collector<Q9Row>& out) override {
    span_.update(Q9Span{a.date_time, a.expires});
    auction_.update(a);
    ctx.timer_service().register_event_time_timer(a.expires);
    const Q9Bid* best = nullptr;
    const std::vector<Q9Bid> early = early_.take();
    for (const Q9Bid& b : early) {
      if (b.date_time < a.date_time || b.date_time > a.expires) continue;
      if (!best || q9_better(b.price, b.date_time, Q9Rank{best->price, best->date_time})) best = &b;
    }
    if (best) {
      rank_.update(Q9Rank{best->price, best->date_time});
      out.collect(Q9Row{a, *best});
    }
  }
  void process_element2(const Q9Bid& b, Context& ctx, weir::Collector<Q9Row>& out) override {
    const std::optional<Q9Span> span = span_.value();
    if (!span) {
      early_.add(b, ctx);
      return;
    }
    if (b.date_time < span->date_time || b.date_time > span->expires) return;
    const std::optional<Q9Rank> rank = rank_.value();
    if (rank && !q9_better(b.price, b.date_time, *rank)) return;
    rank_.update(Q9Rank{b.price, b.date_time});
    std::optional<Auction> a = auction_.value();
    out.collect(Q9Row{std::move(*a), b});
  }
  void on_timer(int64_t t, OnTimerContext&, weir::Collector<Q9Row>&) override {
    if (auto span = span_.value(); span && t >= span->expires) {
      span_.clear();
      auction_.clear();
      rank_.clear();
    }
    early_.on_timer(t);
  }

 private:
  weir::ValueState<Q9Span> span_;
  weir::ValueState<Auction> auction_;
  weir::ValueState<Q9Rank> rank_;
  qa::EarlyBids<Q9Bid> early_;
};

std::vector<std::string> q9_reference(const std::vector<Event>& events, const Config&) {
  std::unordered_map<int64_t, const Auction*> auctions;
  for (const Event& e : events)
    if (const Auction* a = e.auction()) auctions.emplace(a->id, a);
  std::unordered_map<int64_t, const Bid*> best;  // auction -> best bid (the first of equals)
  for (const Event& e : events) {
    const Bid* b = e.bid();
    if (!b) continue;
    auto it = auctions.find(b->auction);
    if (it == auctions.end() || b->date_time < it->second->date_time || b->date_time > it->second->expires) continue;
    auto [f, fresh] = best.emplace(b->auction, b);
    if (!fresh && q9_better(b->price, b->date_time, Q9Rank{f->second->price, f->second->date_time})) f->second = b;
  }
  std::vector<std::string> out;
  for (const auto& [id, b] : best) {
    out.push_back(q9_row(*auctions.at(id), b->auction, b->bidder, b->price, b->date_time, b->extra));
  }
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q9", "winning bids: each auction with its best bid (Top-1, upsert by auction id)",
    [](QueryContext& ctx) {
      auto auctions = ctx.events
                          .flat_map([](const Event& e, weir::Collector<Auction>& out) {
                            if (const Auction* a = e.auction()) out.collect(*a);
                          })
                          .name("q9-auction");
      auto bids = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Q9Bid>& out) {
                        if (const Bid* b = e.bid()) out.collect(Q9Bid{b->auction, b->bidder, b->price, b->date_time, b->extra});
                      })
                      .name("q9-bid");
      auto rows = auctions.key_by([](const Auction& a) { return a.id; })
                      .connect(bids.key_by([](const Q9Bid& b) { return b.auction; }))
                      .process(BestBid{})
                      .name("q9-best-bid");
      ctx.upsert_sink(
          rows, [](const Q9Row& r) { return q9_row(r.a, r.b.auction, r.b.bidder, r.b.price, r.b.date_time, r.b.extra); },
          [](const Q9Row& r) { return r.b.date_time; }, [](const Q9Row& r) { return std::to_string(r.a.id); });
    },
    q9_reference});

}  // namespace
}  // namespace nexmark
