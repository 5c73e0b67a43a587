// q8, monitor new users: people who opened an auction in the same 10 s tumbling window in which
// they registered.
//   SELECT P.id, P.name, P.starttime FROM
//     (SELECT id, name, window_start AS starttime, window_end AS endtime
//      FROM TUMBLE(person, dateTime, 10 s) GROUP BY id, name, window_start, window_end) P
//   JOIN (SELECT seller, window_start AS starttime, window_end AS endtime
//         FROM TUMBLE(auction, dateTime, 10 s) GROUP BY seller, window_start, window_end) A
//   ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
// In Weir: persons (id, name, window) and auctions (seller, window) keyed by person id into a
// KeyedCoProcessFunction. A person id is made once, so each (id, window) row is made at most
// once: the state per key is the person while its window is open and the windows in which the
// seller has opened auctions; the row is emitted as soon as both sides are there (Flink emits
// it when the window closes: the same rows, earlier), and event-time timers at the windows' ends
// drop the state.
#include <unordered_set>

#include "qa_util.h"

namespace nexmark {
namespace {

constexpr int64_t kSize = 10'000;

struct Q8Person {
  int64_t id = 0;
  std::string name;
  int64_t window = 0;  // window start
};
WEIR_SERDE(Q8Person, id, name, window)

struct Q8Auction {
  int64_t seller = 0;
  int64_t window = 0;
};
WEIR_SERDE(Q8Auction, seller, window)

class SameWindow final : public weir::KeyedCoProcessFunction<int64_t, Q8Person, Q8Auction, Q8Person> {
 public:
  void open(weir::RuntimeContext& rc) override {
    person_ = rc.get_state(weir::ValueStateDescriptor<Q8Person>("person"));
    auction_windows_ = rc.get_map_state(weir::MapStateDescriptor<int64_t, bool>("auction-windows"));
  }
  void process_element1(const Q8Person& p, Context& ctx, weir::Collector<Q8Person>& out) override {
    if (auction_windows_.contains(p.window)) {
      out.collect(p);
      return;
    }
    person_.update(p);
    ctx.timer_service().register_event_time_timer(p.window + kSize - 1);
  }
  void process_element2(const Q8Auction& a, Context& ctx, weir::Collector<Q8Person>& out) override {
    if (auction_windows_.contains(a.window)) return;  // this window is decided already
    auction_windows_.put(a.window, true);
    ctx.timer_service().register_event_time_timer(a.window + kSize - 1);
    if (auto p = person_.value(); p && p->window == a.window) {
      out.collect(*p);
      person_.clear();
    }
  }
  void on_timer(int64_t t, OnTimerContext&, weir::Collector<Q8Person>&) override {
    const int64_t window = t - (kSize - 1);
    auction_windows_.remove(window);
    if (auto p = person_.value(); p && p->window == window) person_.clear();
  }

 private:
  weir::ValueState<Q8Person> person_;
  weir::MapState<int64_t, bool> auction_windows_;
};

std::vector<std::string> q8_reference(const std::vector<Event>& events, const Config&) {
  std::unordered_set<std::string> seller_windows;  // "seller,window start"
  for (const Event& e : events)
    if (const Auction* a = e.auction()) seller_windows.insert(row(a->seller, qa::window_start(a->date_time, kSize)));
  std::vector<std::string> out;
  for (const Event& e : events) {
    const Person* p = e.person();
    if (!p) continue;
    const int64_t start = qa::window_start(p->date_time, kSize);
    if (seller_windows.count(row(p->id, start))) out.push_back(row(p->id, p->name, start));
  }
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q8", "monitor new users: people with an auction in their registration's 10 s window",
    [](QueryContext& ctx) {
      auto persons = ctx.events
                         .flat_map([](const Event& e, weir::Collector<Q8Person>& out) {
                           if (const Person* p = e.person()) {
                             out.collect(Q8Person{p->id, p->name, qa::window_start(p->date_time, kSize)});
                           }
                         })
                         .name("q8-person");
      auto auctions = ctx.events
                          .flat_map([](const Event& e, weir::Collector<Q8Auction>& out) {
                            if (const Auction* a = e.auction()) {
                              out.collect(Q8Auction{a->seller, qa::window_start(a->date_time, kSize)});
                            }
                          })
                          .name("q8-auction");
      auto rows = persons.key_by([](const Q8Person& p) { return p.id; })
                      .connect(auctions.key_by([](const Q8Auction& a) { return a.seller; }))
                      .process(SameWindow{})
                      .name("q8-join");
      ctx.sink(rows, [](const Q8Person& p) { return row(p.id, p.name, p.window); },
               [](const Q8Person& p) { return p.window; });
    },
    q8_reference});

}  // namespace
}  // namespace nexmark
