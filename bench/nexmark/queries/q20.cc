// q20, bids joined with their auction where the auction's category is 10: a regular inner join
// on B.auction = A.id (unbounded state, append-only result).
//   SELECT auction, bidder, price, channel, url, B.dateTime, B.extra, itemName, description,
//          initialBid, reserve, A.dateTime, expires, seller, category, A.extra
//   FROM bid AS B INNER JOIN auction AS A ON B.auction = A.id WHERE A.category = 10;
// Weir: bids and auctions keyed by auction id into a KeyedCoProcessFunction. An auction id
// comes once, so a bid that finds its auction joins (or is dropped, category != 10) at once and
// is never stored; a bid that comes first waits in ListState until its auction. Auctions of
// other categories are kept without their strings (only to drop their later bids). Flink keeps
// every row of both sides; the result is the same.
#include <map>

#include "../query.h"

namespace nexmark {
namespace {

constexpr int64_t kCategory = 10;

struct Q20Out {
  Bid b;
  Auction a;
};
WEIR_SERDE(Q20Out, b, a)

struct Q20Join : weir::KeyedCoProcessFunction<int64_t, Bid, Auction, Q20Out> {
  weir::ValueState<Auction> auction;
  weir::ListState<Bid> waiting;
  void open(weir::RuntimeContext& rc) override {
    auction = rc.get_state(weir::ValueStateDescriptor<Auction>("q20-auction"));
    waiting = rc.get_list_state(weir::ListStateDescriptor<Bid>("q20-waiting"));
  }
  void process_element1(const Bid& b, Context&, weir::Collector<Q20Out>& out) override {
    if (std::optional<Auction> a = auction.value()) {
      if (a->category == kCategory) out.collect(Q20Out{b, std::move(*a)});
      return;
    }
    waiting.add(b);
  }
  void process_element2(const Auction& a, Context&, weir::Collector<Q20Out>& out) override {
    auction.update(a);
    std::vector<Bid> bids = waiting.get();
    if (bids.empty()) return;
    waiting.clear();
    if (a.category != kCategory) return;
    for (Bid& b : bids) out.collect(Q20Out{std::move(b), a});
  }
};

std::string q20_row(const Q20Out& r) {
  const Bid& b = r.b;
  const Auction& a = r.a;
  return row(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra, a.item_name, a.description,
             a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category, a.extra);
}

NEXMARK_QUERY(QueryDef{
    "q20", "bids joined with their auction, auctions of category 10",
    [](QueryContext& ctx) {
      auto bids = ctx.events
                      .flat_map([](const Event& e, weir::Collector<Bid>& out) {
                        if (const Bid* b = e.bid()) out.collect(*b);
                      })
                      .name("bid");
      auto auctions = ctx.events
                          .flat_map([](const Event& e, weir::Collector<Auction>& out) {
                            const Auction* a = e.auction();
                            if (!a) return;
                            if (a->category == kCategory) {
                              out.collect(*a);
                            } else {
                              Auction marker;
                              marker.id = a->id;
                              marker.category = a->category;
                              out.collect(std::move(marker));
                            }
                          })
                          .name("auction");
      auto rows = bids.key_by([](const Bid& b) { return b.auction; })
                      .connect(auctions.key_by([](const Auction& a) { return a.id; }))
                      .process(Q20Join{})
                      .name("q20-join");
      ctx.sink(rows, q20_row, [](const Q20Out& r) { return r.b.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::map<int64_t, const Auction*> auctions;
      for (const Event& e : events)
        if (const Auction* a = e.auction()) auctions[a->id] = a;
      std::vector<std::string> out;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        auto it = auctions.find(b->auction);
        if (it == auctions.end() || it->second->category != 10) continue;
        const Auction& a = *it->second;
        out.push_back(row(b->auction, b->bidder, b->price, b->channel, b->url, b->date_time, b->extra, a.item_name,
                          a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category, a.extra));
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
