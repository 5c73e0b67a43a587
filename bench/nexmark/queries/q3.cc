// q3, local item suggestion: sellers in Oregon, Idaho or California and their auctions of
// category 10.
//   SELECT P.name, P.city, P.state, A.id FROM auction A INNER JOIN person P ON A.seller = P.id
//   WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
// A regular (unbounded) inner join. In Weir both sides are filtered and projected where they
// are made (chained to the source), keyed by person id, and joined in a KeyedCoProcessFunction:
// a person id is made once, so the state per key is that person (once seen) and the auctions
// that came before it; an auction after its seller is emitted at once. Rows carry the auction's
// dateTime for latency.
#include <unordered_map>

#include "qa_util.h"

namespace nexmark {
namespace {

struct Q3Auction {
  int64_t id = 0;
  int64_t seller = 0;
  int64_t date_time = 0;
};
WEIR_SERDE(Q3Auction, id, seller, date_time)

struct Q3Person {
  int64_t id = 0;
  std::string name, city, state;
};
WEIR_SERDE(Q3Person, id, name, city, state)

struct Q3Row {
  std::string name, city, state;
  int64_t id = 0;
  int64_t date_time = 0;  // the auction's, for latency
};
WEIR_SERDE(Q3Row, name, city, state, id, date_time)

bool q3_state(const std::string& s) { return s == "OR" || s == "ID" || s == "CA"; }

class JoinSeller final : public weir::KeyedCoProcessFunction<int64_t, Q3Auction, Q3Person, Q3Row> {
 public:
  void open(weir::RuntimeContext& rc) override {
    person_ = rc.get_state(weir::ValueStateDescriptor<Q3Person>("person"));
    waiting_ = rc.get_list_state(weir::ListStateDescriptor<Q3Auction>("auctions-before-person"));
  }
  void process_element1(const Q3Auction& a, Context&, weir::Collector<Q3Row>& out) override {
    if (auto p = person_.value()) {
      out.collect(Q3Row{p->name, p->city, p->state, a.id, a.date_time});
    } else {
      waiting_.add(a);
    }
  }
  void process_element2(const Q3Person& p, Context&, weir::Collector<Q3Row>& out) override {
    for (const Q3Auction& a : waiting_.get()) out.collect(Q3Row{p.name, p.city, p.state, a.id, a.date_time});
    waiting_.clear();
    person_.update(p);
  }

 private:
  weir::ValueState<Q3Person> person_;
  weir::ListState<Q3Auction> waiting_;
};

std::vector<std::string> q3_reference(const std::vector<Event>& events, const Config&) {
  std::unordered_map<int64_t, const Person*> persons;
  for (const Event& e : events)
    if (const Person* p = e.person(); p && q3_state(p->state)) persons.emplace(p->id, p);
  std::vector<std::string> out;
  for (const Event& e : events) {
    const Auction* a = e.auction();
    if (!a || a->category != 10) continue;
    if (auto it = persons.find(a->seller); it != persons.end()) {
      out.push_back(row(it->second->name, it->second->city, it->second->state, a->id));
    }
  }
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q3", "local item suggestion: auctions of category 10 by sellers in OR, ID, CA (regular join)",
    [](QueryContext& ctx) {
      auto auctions = ctx.events
                          .flat_map([](const Event& e, weir::Collector<Q3Auction>& out) {
                            const Auction* a = e.auction();
                            if (a && a->category == 10) out.collect(Q3Auction{a->id, a->seller, a->date_time});
                          })
                          .name("q3-auction");
      auto persons = ctx.events
                         .flat_map([](const Event& e, weir::Collector<Q3Person>& out) {
                           const Person* p = e.person();
                           if (p && q3_state(p->state)) out.collect(Q3Person{p->id, p->name, p->city, p->state});
                         })
                         .name("q3-person");
      auto rows = auctions.key_by([](const Q3Auction& a) { return a.seller; })
                      .connect(persons.key_by([](const Q3Person& p) { return p.id; }))
                      .process(JoinSeller{})
                      .name("q3-join");
      ctx.sink(rows, [](const Q3Row& r) { return row(r.name, r.city, r.state, r.id); },
               [](const Q3Row& r) { return r.date_time; });
    },
    q3_reference});

}  // namespace
}  // namespace nexmark
