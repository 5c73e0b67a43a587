// Complex event processing: Flink CEP's documented cases (contiguity, quantifiers, skip
// strategies, within timeouts, negative patterns, iterative conditions, groups) on the matcher
// and in jobs; the engine against a brute-force reference matcher on random inputs and
// patterns at parallelism 1, 2 and 4; a savepoint mid-pattern resumed at another parallelism.
#include <gtest/gtest.h>

#include <iostream>

#include <algorithm>
#include <atomic>
#include <thread>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "support/test_support.h"
#include "weir/cep/cep.hpp"
#include "weir/weir.hpp"

namespace {

struct E {
  int32_t key = 0;
  std::string name;  // "a1": kind 'a', label "a1"
  int64_t v = 0;
  int64_t ts = 0;
  bool operator==(const E&) const = default;
  char kind() const { return name.empty() ? '?' : name[0]; }
};
WEIR_SERDE(E, key, name, v, ts)

using weir::cep::AfterMatchSkipStrategy;
using weir::cep::CEP;
using weir::cep::Pattern;
using MatchMap = std::map<std::string, std::vector<E>>;

std::string show(const MatchMap& m) {
  std::string s;
  for (const auto& [name, evs] : m) {
    if (evs.empty()) continue;
    if (!s.empty()) s += ' ';
    s += name + ':';
    for (std::size_t i = 0; i < evs.size(); ++i) s += (i ? "," : "") + evs[i].name;
  }
  return s;
}

auto is(char k) {
  return [k](const E& e) { return e.kind() == k; };
}

/// Events "a1 b2 c3" → E{name, ts = position}.
std::vector<E> events(const std::string& spec, int32_t key = 0) {
  std::vector<E> out;
  std::istringstream in(spec);
  std::string w;
  int64_t ts = 1;
  while (in >> w) out.push_back(E{key, w, 0, ts++});
  return out;
}

struct Run {
  std::vector<std::string> matches;   // in emission order
  std::vector<std::string> timeouts;  // "match@timestamp"
};

/// The matcher alone: every event in order (advancing time to its timestamp first), then the
/// final watermark.
Run run_nfa(const Pattern<E>& p, const std::vector<E>& in) {
  using namespace weir::cep::detail;
  NfaRunner<E> r(NfaCompiler<E>::compile(p));
  KeyNfa<E> k;
  r.init(k);
  NfaRunner<E>::Output o;
  for (const auto& e : in) {
    r.advance_time(k, e.ts, o);
    r.process(k, e, e.ts, o);
  }
  r.advance_time(k, std::numeric_limits<int64_t>::max(), o);
  Run run;
  for (auto& [m, ts] : o.matches) run.matches.push_back(show(m));
  for (auto& [m, ts] : o.timeouts) run.timeouts.push_back(show(m) + "@" + std::to_string(ts));
  return run;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}
using V = std::vector<std::string>;

// ---- contiguity (Flink docs: pattern "a b", input "a c b1 b2") ------------------------------

TEST(CepContiguity, StrictRelaxedAndNonDeterministicRelaxed) {
  const auto in = events("a1 c2 b3 b4");
  auto a = Pattern<E>::begin("a").where(is('a'));
  EXPECT_EQ(run_nfa(a.next("b").where(is('b')), in).matches, V{});
  EXPECT_EQ(run_nfa(a.followed_by("b").where(is('b')), in).matches, V{"a:a1 b:b3"});
  EXPECT_EQ(sorted(run_nfa(a.followed_by_any("b").where(is('b')), in).matches), (V{"a:a1 b:b3", "a:a1 b:b4"}));
}

// ---- looping contiguity (Flink docs: "C D A1 A2 A3 D A4 B") --------------------------------

TEST(CepQuantifiers, OneOrMoreRelaxedConsecutiveAndCombinations) {
  const auto in = events("c1 d2 a3 a4 a5 d6 a7 b8");
  auto base = Pattern<E>::begin("start").where(is('c')).followed_by("middle").where(is('a'));
  auto end = [](const Pattern<E>& p) { return p.followed_by("end1").where(is('b')); };
  EXPECT_EQ(sorted(run_nfa(end(base.one_or_more()), in).matches),
            sorted({"end1:b8 middle:a3 start:c1", "end1:b8 middle:a3,a4 start:c1", "end1:b8 middle:a3,a4,a5 start:c1",
                    "end1:b8 middle:a3,a4,a5,a7 start:c1"}));
  EXPECT_EQ(sorted(run_nfa(end(base.one_or_more().consecutive()), in).matches),
            sorted({"end1:b8 middle:a3 start:c1", "end1:b8 middle:a3,a4 start:c1", "end1:b8 middle:a3,a4,a5 start:c1"}));
  EXPECT_EQ(sorted(run_nfa(end(base.one_or_more().allow_combinations()), in).matches),
            sorted({"end1:b8 middle:a3 start:c1", "end1:b8 middle:a3,a4 start:c1", "end1:b8 middle:a3,a5 start:c1",
                    "end1:b8 middle:a3,a7 start:c1", "end1:b8 middle:a3,a4,a5 start:c1", "end1:b8 middle:a3,a4,a7 start:c1",
                    "end1:b8 middle:a3,a5,a7 start:c1", "end1:b8 middle:a3,a4,a5,a7 start:c1"}));
}

TEST(CepQuantifiers, TimesRangesOptionalAndGreedy) {
  const auto in = events("a1 a2 a3 b4");
  auto a = Pattern<E>::begin("a").where(is('a'));
  // times(2): every pair in order (relaxed inner contiguity)
  EXPECT_EQ(sorted(run_nfa(a.times(2).followed_by("b").where(is('b')), in).matches),
            sorted({"a:a1,a2 b:b4", "a:a2,a3 b:b4"}));
  EXPECT_EQ(sorted(run_nfa(a.times(2).allow_combinations().followed_by("b").where(is('b')), in).matches),
            sorted({"a:a1,a2 b:b4", "a:a1,a3 b:b4", "a:a2,a3 b:b4"}));
  EXPECT_EQ(sorted(run_nfa(a.times(1, 2).consecutive().next("b").where(is('b')), in).matches),
            sorted({"a:a2,a3 b:b4", "a:a3 b:b4"}));
  // times(0, 2) is times(1, 2).optional(): "b" alone matches too
  EXPECT_EQ(sorted(run_nfa(Pattern<E>::begin("x").where(is('x')).followed_by("a").where(is('a')).times(0, 2).followed_by("b").where(is('b')),
                           events("x0 a1 a2 b3"))
                       .matches),
            sorted({"a:a1 b:b3 x:x0", "a:a1,a2 b:b3 x:x0", "b:b3 x:x0"}));
  // optional middle step
  EXPECT_EQ(sorted(run_nfa(a.followed_by("c").where(is('c')).optional().followed_by("b").where(is('b')), events("a1 c2 b3")).matches),
            sorted({"a:a1 b:b3", "a:a1 b:b3 c:c2"}));
  // greedy: the loop takes every a before moving on
  EXPECT_EQ(sorted(run_nfa(Pattern<E>::begin("x").where(is('x')).followed_by("a").where(is('a')).one_or_more().greedy()
                               .followed_by("b").where(is('b')),
                           events("x0 a1 a2 b3"))
                       .matches),
            sorted({"a:a1,a2 b:b3 x:x0"}));
  // a pattern ending with a loop emits every prefix
  EXPECT_EQ(sorted(run_nfa(Pattern<E>::begin("x").where(is('x')).next("a").where(is('a')).one_or_more(), events("x0 a1 a2")).matches),
            sorted({"a:a1 x:x0", "a:a1,a2 x:x0"}));
}

TEST(CepQuantifiers, UntilEndsTheLoop) {
  auto p = Pattern<E>::begin("x").where(is('x')).followed_by("a").where(is('a')).one_or_more()
               .until([](const E& e) { return e.kind() == 's'; });
  EXPECT_EQ(sorted(run_nfa(p, events("x0 a1 s2 a3")).matches), sorted({"a:a1 x:x0"}));
}

// ---- skip strategies (Flink docs: "b+ c" over "b1 b2 b3 c4"; "a b+" over "a b1 b2 b3") --------

V skip_case(AfterMatchSkipStrategy s) {
  // consecutive and next: no partial match outlives c4, so no match waits behind one
  auto p = Pattern<E>::begin("b", std::move(s)).where(is('b')).one_or_more().greedy().consecutive().next("c").where(is('c'));
  return run_nfa(p, events("b1 b2 b3 c4")).matches;
}

TEST(CepSkip, DocumentedTable) {
  EXPECT_EQ(skip_case(AfterMatchSkipStrategy::no_skip()), (V{"b:b1,b2,b3 c:c4", "b:b2,b3 c:c4", "b:b3 c:c4"}));
  EXPECT_EQ(skip_case(AfterMatchSkipStrategy::skip_to_next()), (V{"b:b1,b2,b3 c:c4", "b:b2,b3 c:c4", "b:b3 c:c4"}));
  EXPECT_EQ(skip_case(AfterMatchSkipStrategy::skip_past_last_event()), (V{"b:b1,b2,b3 c:c4"}));
  EXPECT_EQ(skip_case(AfterMatchSkipStrategy::skip_to_first("b")), (V{"b:b1,b2,b3 c:c4", "b:b2,b3 c:c4", "b:b3 c:c4"}));
  EXPECT_EQ(skip_case(AfterMatchSkipStrategy::skip_to_last("b")), (V{"b:b1,b2,b3 c:c4", "b:b3 c:c4"}));

  auto ab = [](AfterMatchSkipStrategy s) {
    return run_nfa(Pattern<E>::begin("a", std::move(s)).where(is('a')).followed_by("b").where(is('b')).one_or_more(),
                   events("a1 b2 b3 b4"))
        .matches;
  };
  EXPECT_EQ(ab(AfterMatchSkipStrategy::no_skip()), (V{"a:a1 b:b2", "a:a1 b:b2,b3", "a:a1 b:b2,b3,b4"}));
  EXPECT_EQ(ab(AfterMatchSkipStrategy::skip_to_next()), (V{"a:a1 b:b2"}));
}

TEST(CepSkip, CompletedMatchWaitsBehindAnEarlierPartialMatch) {
  // a1 starts a match that completes at c5; a2's match completes earlier (c3) but a1's partial
  // match is earlier, so a2's waits and is discarded by a1's skip_past_last_event.
  auto p = Pattern<E>::begin("a", AfterMatchSkipStrategy::skip_past_last_event())
               .where(is('a'))
               .followed_by("b")
               .where([](const E& e, const weir::cep::Context<E>& ctx) {
                 // a1 needs two b's, a2 one
                 if (e.kind() != 'b') return false;
                 return ctx.get_events_for_pattern("a").front().name == "a2" || e.name == "b4";
               })
               .followed_by("c")
               .where(is('c'));
  EXPECT_EQ(run_nfa(p, events("a1 a2 b3 c4 b4 c5")).matches, (V{"a:a1 b:b4 c:c5"}));
}

// ---- within and timeouts -------------------------------------------------------------------

TEST(CepWithin, TimeoutsAreStampedWithFirstEventPlusWindow) {
  auto p = Pattern<E>::begin("a").where(is('a')).followed_by("b").where(is('b')).within(std::chrono::milliseconds(3));
  const auto r = run_nfa(p, events("a1 x2 b3 a4 x5 x6 x7 b8"));
  EXPECT_EQ(r.matches, (V{"a:a1 b:b3"}));
  // a1's partial match ended with its match (b3 matched, so followed_by could not skip it)
  EXPECT_EQ(r.timeouts, (V{"a:a4@7"}));
}

TEST(CepWithin, FinalWatermarkTimesOutOpenMatches) {
  auto p = Pattern<E>::begin("a").where(is('a')).followed_by("b").where(is('b')).within(std::chrono::minutes(1));
  EXPECT_EQ(run_nfa(p, events("a1 x2")).timeouts, (V{"a:a1@60001"}));
}

// ---- negative patterns ---------------------------------------------------------------------

TEST(CepNegative, NotNextAndNotFollowedBy) {
  auto a = Pattern<E>::begin("a").where(is('a'));
  auto nn = a.not_next("n").where(is('n')).followed_by("b").where(is('b'));
  EXPECT_EQ(run_nfa(nn, events("a1 n2 b3")).matches, V{});
  EXPECT_EQ(run_nfa(nn, events("a1 x2 n3 b4")).matches, (V{"a:a1 b:b4"}));
  auto nf = a.not_followed_by("n").where(is('n')).followed_by("b").where(is('b'));
  EXPECT_EQ(run_nfa(nf, events("a1 x2 n3 b4")).matches, V{});
  EXPECT_EQ(run_nfa(nf, events("a1 x2 b3 n4")).matches, (V{"a:a1 b:b3"}));
  // at the end, with a window: a match once the window passes without an n
  auto tail = a.not_followed_by("n").where(is('n')).within(std::chrono::milliseconds(3));
  EXPECT_EQ(run_nfa(tail, events("a1 x2 n3 a4 x5 x6 x7")).matches, (V{"a:a4"}));
}

// ---- iterative conditions ------------------------------------------------------------------

TEST(CepIterative, ConditionSeesEarlierEventsOfTheMatch) {
  // rising prices: each "up" event above the previous one
  auto p = Pattern<E>::begin("start")
               .where(is('p'))
               .next("up")
               .where([](const E& e, const weir::cep::Context<E>& ctx) {
                 int64_t last = ctx.get_events_for_pattern("start").front().v;
                 for (const E& u : ctx.get_events_for_pattern("up")) last = u.v;
                 return e.v > last;
               })
               .times(2)
               .consecutive();
  std::vector<E> in;
  for (int64_t v : {5, 6, 7, 3, 4, 2}) in.push_back(E{0, "p" + std::to_string(v), v, static_cast<int64_t>(in.size() + 1)});
  EXPECT_EQ(sorted(run_nfa(p, in).matches), sorted({"start:p5 up:p6,p7"}));
}

// ---- groups ---------------------------------------------------------------------------------

TEST(CepGroups, GroupTimesAndOptional) {
  auto inner = Pattern<E>::begin("g1").where(is('a')).next("g2").where(is('b'));
  auto p = Pattern<E>::begin("s").where(is('s')).next(inner).times(2).consecutive();
  EXPECT_EQ(run_nfa(p, events("s0 a1 b2 a3 b4")).matches, (V{"g1:a1,a3 g2:b2,b4 s:s0"}));
  auto opt = Pattern<E>::begin("s").where(is('s')).followed_by(inner).optional().followed_by("e").where(is('e'));
  EXPECT_EQ(sorted(run_nfa(opt, events("s0 a1 b2 e3")).matches), sorted({"e:e3 g1:a1 g2:b2 s:s0", "e:e3 s:s0"}));
}

// ---- the API ---------------------------------------------------------------------------------

TEST(CepApi, PatternsAreValuesAndMalformedOnesAreRefused) {
  auto base = Pattern<E>::begin("a").where(is('a'));
  auto p1 = base.next("b").where(is('b'));
  auto p2 = base.followed_by("c");
  EXPECT_EQ(base.get_name(), "a");
  EXPECT_EQ(p1.get_name(), "b");
  EXPECT_EQ(p2.get_name(), "c");
  Pattern<E> q = p1;
  q = q.within(std::chrono::seconds(5));
  EXPECT_EQ(q.get_window_ms(), 5000);
  EXPECT_EQ(p1.get_window_ms(), 0);
  EXPECT_THROW(base.times(2).one_or_more(), weir::cep::MalformedPatternException);
  EXPECT_THROW(base.consecutive(), weir::cep::MalformedPatternException);
  EXPECT_THROW(base.until(is('x')), weir::cep::MalformedPatternException);
  EXPECT_THROW(base.optional().not_followed_by("n"), weir::cep::MalformedPatternException);
  EXPECT_THROW(weir::cep::detail::NfaCompiler<E>::compile(base.next("a")), weir::cep::MalformedPatternException);
  EXPECT_THROW(weir::cep::detail::NfaCompiler<E>::compile(base.not_followed_by("n")), weir::cep::MalformedPatternException);
  EXPECT_THROW(weir::cep::detail::NfaCompiler<E>::compile(
                   Pattern<E>::begin("a", AfterMatchSkipStrategy::skip_to_first("zz")).next("b")),
               weir::cep::MalformedPatternException);
}

// ---- jobs --------------------------------------------------------------------------------------

weir::WatermarkStrategy<E> by_ts() {
  return weir::WatermarkStrategy<E>::for_monotonous_timestamps().with_timestamp_assigner([](const E& e, int64_t) { return e.ts; });
}

struct Login {
  std::string user;
  bool ok = false;
  int64_t ts = 0;
};
WEIR_SERDE(Login, user, ok, ts)

TEST(CepJob, IssueExampleThreeFailuresThenSuccess) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  std::vector<Login> in = {{"ann", false, 1000}, {"bob", false, 1500}, {"ann", false, 2000}, {"ann", false, 3000},
                           {"ann", true, 4000},  {"bob", false, 2500}, {"bob", true, 3500},  {"eve", false, 5000},
                           {"eve", false, 6000}, {"eve", false, 7000}, {"eve", true, 90000}};
  std::sort(in.begin(), in.end(), [](const Login& a, const Login& b) { return a.ts < b.ts; });
  auto logins = env.from_collection(in).assign_timestamps_and_watermarks(
      weir::WatermarkStrategy<Login>::for_monotonous_timestamps().with_timestamp_assigner([](const Login& l, int64_t) { return l.ts; }));
  auto p = Pattern<Login>::begin("fails", AfterMatchSkipStrategy::skip_past_last_event())
               .where([](const Login& e) { return !e.ok; })
               .times(3)
               .consecutive()
               .next("success")
               .where([](const Login& e) { return e.ok; })
               .within(std::chrono::minutes(1));
  weir::OutputTag<std::string> timed_out("timed-out");
  auto alerts = CEP::pattern(logins.key_by([](const Login& l) { return l.user; }), p)
                    .select(timed_out,
                            [](const std::map<std::string, std::vector<Login>>& m, int64_t ts) {
                              return m.at("fails")[0].user + "@" + std::to_string(ts);
                            },
                            [](const std::map<std::string, std::vector<Login>>& m) { return m.at("success")[0].user; });
  auto timeouts = alerts.get_side_output(timed_out).collect_async();
  auto got = alerts.execute_and_collect();
  EXPECT_EQ(got, std::vector<std::string>{"ann"});
  // eve's partial matches from 5000, 6000 and 7000 time out a minute after their first event
  // (the success at 90000 comes too late); bob's ended when a success broke the consecutive
  // failures.
  auto t = timeouts.get();
  std::sort(t.begin(), t.end());
  EXPECT_EQ(t, (std::vector<std::string>{"eve@65000", "eve@66000", "eve@67000"}));
}

TEST(CepJob, NonKeyedProcessFlatSelectAndLateData) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(3);
  // ts 2 arrives after the watermark passed 5: late
  std::vector<E> in = {E{0, "a1", 0, 1}, E{1, "b5", 0, 5}, E{0, "b2", 0, 2}, E{1, "a6", 0, 6}, E{0, "b7", 0, 7}};
  // a watermark after every element (its timestamp), so b2 is late whatever the timing
  struct EveryEvent {
    void on_event(const E&, int64_t ts, weir::WatermarkOutput& out) { out.emit_watermark(weir::Watermark(ts)); }
    void on_periodic_emit(weir::WatermarkOutput&) {}
  };
  auto src = env.from_collection(in).assign_timestamps_and_watermarks(
      weir::WatermarkStrategy<E>::for_generator([] { return EveryEvent{}; }).with_timestamp_assigner([](const E& e, int64_t) { return e.ts; }));
  auto p = Pattern<E>::begin("a").where(is('a')).followed_by("b").where(is('b'));
  weir::OutputTag<E> late("late");
  auto ps = CEP::pattern(src, p).side_output_late_data(late);
  auto processed = ps.process([](const MatchMap& m, weir::cep::PatternContext& ctx, weir::Collector<std::string>& out) {
    out.collect(show(m) + "@" + std::to_string(ctx.timestamp()));
  });
  auto flat = ps.flat_select([](const MatchMap& m, weir::Collector<int64_t>& out) {
    for (const auto& [n, evs] : m) out.collect(static_cast<int64_t>(evs.size()));
  });
  auto late_out = processed.get_side_output(late).collect_async();
  auto flat_out = flat.collect_async();
  auto got = processed.collect_async();
  env.execute("cep non-keyed");
  EXPECT_EQ(sorted(got.get()), sorted({"a:a1 b:b5@5", "a:a6 b:b7@7"}));
  EXPECT_EQ(flat_out.get(), (std::vector<int64_t>{1, 1, 1, 1}));
  auto l = late_out.get();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].name, "b2");
}

TEST(CepJob, ProcessingTimeAndFlatSelectWithTimeouts) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  // no timestamps at all: processing time matches in arrival order (one source subtask)
  auto in = events("a1 b2 x3 a4 c5 b6", 0);
  for (auto& e : in) e.key = e.name == "a4" || e.name == "b6" ? 1 : 0;
  auto src = env.from_collection(in);
  auto p = Pattern<E>::begin("a").where(is('a')).followed_by("b").where(is('b')).within(std::chrono::hours(1));
  weir::OutputTag<std::string> to("timeouts");
  auto got = CEP::pattern(src.key_by([](const E& e) { return e.key; }), p)
                 .in_processing_time()
                 .flat_select(to, [](const MatchMap& m, int64_t, weir::Collector<std::string>& out) { out.collect(show(m)); },
                              [](const MatchMap& m, weir::Collector<std::string>& out) { out.collect(show(m)); })
                 .execute_and_collect();
  EXPECT_EQ(sorted(got), sorted({"a:a1 b:b2", "a:a4 b:b6"}));
}

// ---- brute-force reference on random inputs ----------------------------------------------------

/// A step of a random pattern, for both the engine and the reference.
struct Step {
  std::set<char> kinds;
  int contiguity = 0;  // 0 next, 1 followed_by, 2 followed_by_any
  int quant = 0;       // 0 single, 1 times(n, m), 2 times_or_more(n)
  int from = 1, to = 1;
  int inner = 1;  // 0 consecutive, 1 relaxed, 2 allow_combinations
  bool optional = false;
  char until = 0;  // loops: stop kind, 0 none
  int negation = 0;  // before this step: 0 none, 1 not_next("e"), 2 not_followed_by("e")
};
struct Spec {
  std::vector<Step> steps;
  int64_t window = 0;
};

bool in_kinds(const Step& s, const E& e) { return s.kinds.count(e.kind()) > 0; }

Pattern<E> build(const Spec& spec, AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::no_skip()) {
  auto cond = [](const Step& s) { return [k = s.kinds](const E& e) { return k.count(e.kind()) > 0; }; };
  std::optional<Pattern<E>> p;
  for (std::size_t i = 0; i < spec.steps.size(); ++i) {
    const Step& s = spec.steps[i];
    const std::string name = "s" + std::to_string(i);
    if (p && s.negation == 1) p = p->not_next("n" + std::to_string(i)).where(is('e'));
    if (p && s.negation == 2) p = p->not_followed_by("n" + std::to_string(i)).where(is('e'));
    Pattern<E> q = !p                  ? Pattern<E>::begin(name, skip)
                   : s.contiguity == 0 ? p->next(name)
                   : s.contiguity == 1 ? p->followed_by(name)
                                       : p->followed_by_any(name);
    q = q.where(cond(s));
    if (s.quant == 1) q = q.times(s.from, s.to);
    if (s.quant == 2) q = q.times_or_more(s.from);
    if (s.quant != 0 && s.inner == 0) q = q.consecutive();
    if (s.quant != 0 && s.inner == 2) q = q.allow_combinations();
    if (s.optional) q = q.optional();
    if (s.until) q = q.until([u = s.until](const E& e) { return e.kind() == u; });
    p = q;
  }
  if (spec.window > 0) p = p->within(std::chrono::milliseconds(spec.window));
  return *p;
}

/// Every match by enumeration: each step takes a count of events in its range (0 when optional),
/// each event after the last taken one with the step's contiguity (next: the very next event;
/// followed_by: no event in between matches the step; followed_by_any: any), the events of a
/// loop with the inner contiguity, no until event inside a loop, the whole match shorter than
/// the window.
void enumerate(const Spec& spec, const std::vector<E>& in, std::size_t step, int last, std::vector<std::pair<int, int>>& taken,
               std::vector<std::string>& out) {
  if (step == spec.steps.size()) {
    if (taken.empty()) return;
    if (spec.window > 0 && in[static_cast<std::size_t>(taken.back().first)].ts - in[static_cast<std::size_t>(taken.front().first)].ts >= spec.window) return;
    // negations between step k-1 and step k (neither is optional, so both took events):
    // not_next: no 'e' right after an element of step k-1 from which it could move on (its
    // from-th element and later); not_followed_by: no 'e' from step k-1's first element to
    // step k's first.
    for (std::size_t k = 1; k < spec.steps.size(); ++k) {
      const int neg = spec.steps[k].negation;
      if (neg == 0) continue;
      std::vector<int> prev_elems;
      int first_k = -1;
      for (auto [i, st] : taken) {
        if (st == static_cast<int>(k) - 1) prev_elems.push_back(i);
        if (st == static_cast<int>(k) && first_k < 0) first_k = i;
      }
      if (prev_elems.empty() || first_k < 0) continue;
      const int from = spec.steps[k - 1].quant == 0 ? 1 : spec.steps[k - 1].from;
      if (neg == 1) {
        for (std::size_t c = static_cast<std::size_t>(from - 1); c < prev_elems.size(); ++c) {
          if (in[static_cast<std::size_t>(prev_elems[c] + 1)].kind() == 'e') return;
        }
      } else {
        for (int x = prev_elems.front() + 1; x < first_k; ++x) {
          if (in[static_cast<std::size_t>(x)].kind() == 'e') return;
        }
      }
    }
    MatchMap m;
    for (auto [i, s] : taken) m["s" + std::to_string(s)].push_back(in[static_cast<std::size_t>(i)]);
    out.push_back(show(m));
    return;
  }
  const Step& s = spec.steps[step];
  const bool first_taken = taken.empty();
  auto allowed_next = [&](int prev, int j, int contiguity) {
    if (prev < 0) return true;  // the first event of a match can be anywhere
    if (contiguity == 0) return j == prev + 1;
    if (contiguity == 1) {
      for (int x = prev + 1; x < j; ++x) {
        if (in_kinds(s, in[static_cast<std::size_t>(x)])) return false;
      }
    }
    return true;
  };
  const int max_count = s.quant == 2 ? static_cast<int>(in.size()) : s.to;
  if (s.optional) enumerate(spec, in, step + 1, last, taken, out);
  // choose events for this step recursively
  std::function<void(int, int)> pick = [&](int prev, int count) {
    if (count >= s.from) enumerate(spec, in, step + 1, prev, taken, out);
    if (count == max_count) return;
    for (int j = prev + 1; j < static_cast<int>(in.size()); ++j) {
      const E& e = in[static_cast<std::size_t>(j)];
      if (!in_kinds(s, e)) continue;
      if (s.until && e.kind() == s.until) continue;
      const int contiguity = count == 0 ? s.contiguity : s.inner;
      if (count == 0 && first_taken) {
        // first event of the match
      } else if (!allowed_next(prev, j, contiguity)) {
        continue;
      }
      if (count > 0 && s.until) {
        bool stop = false;
        for (int x = prev + 1; x < j; ++x) stop = stop || in[static_cast<std::size_t>(x)].kind() == s.until;
        if (stop) continue;
      }
      taken.emplace_back(j, static_cast<int>(step));
      pick(j, count + 1);
      taken.pop_back();
    }
  };
  pick(last, 0);
}

std::vector<std::string> reference(const Spec& spec, const std::vector<E>& in) {
  std::vector<std::pair<int, int>> taken;
  std::vector<std::string> out;
  enumerate(spec, in, 0, -1, taken, out);
  return sorted(out);
}

Spec random_spec(std::mt19937& rng) {
  auto r = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  Spec spec;
  const int n = 2 + r(2);
  for (int i = 0; i < n; ++i) {
    Step s;
    s.kinds.insert(static_cast<char>('a' + r(3)));
    if (r(3) == 0) s.kinds.insert(static_cast<char>('a' + r(3)));
    s.contiguity = r(3);
    s.quant = r(4) == 0 ? 1 : (r(4) == 0 ? 2 : 0);
    if (s.quant == 1) {
      s.from = 1 + r(2);
      s.to = s.from + r(2);
    }
    if (s.quant == 2) s.from = 1 + r(2);
    s.inner = r(3);
    s.optional = i > 0 && i < n - 1 && r(4) == 0;
    if (i > 0 && r(4) == 0) s.negation = 1 + r(2);
    if (s.quant == 2 && r(3) == 0) s.until = 'd';
    spec.steps.push_back(s);
  }
  for (int i = 1; i < n; ++i) {
    // as in Flink: no negation next to an optional step
    if (spec.steps[static_cast<std::size_t>(i - 1)].optional || spec.steps[static_cast<std::size_t>(i)].optional) spec.steps[static_cast<std::size_t>(i)].negation = 0;
  }
  if (r(2) == 0) spec.window = 3 + r(6);
  return spec;
}

std::vector<E> random_events(std::mt19937& rng, int keys, int per_key) {
  std::vector<E> out;
  int64_t ts = 1;
  for (int i = 0; i < keys * per_key; ++i) {
    const auto key = static_cast<int32_t>(rng() % static_cast<unsigned>(keys));
    const char kind = static_cast<char>('a' + rng() % 5);
    out.push_back(E{key, std::string(1, kind) + std::to_string(ts), 0, ts});
    ++ts;
  }
  return out;
}

TEST(CepReference, MatcherAgreesWithEnumerationOnRandomPatterns) {
  std::mt19937 rng(1234);
  int compared = 0, nonempty = 0, with_negation = 0, with_loop = 0, with_window = 0;
  for (int round = 0; round < 3000; ++round) {
    const Spec spec = random_spec(rng);
    auto in = random_events(rng, 1, 8 + round % 7);
    const auto want = reference(spec, in);
    const auto got = sorted(run_nfa(build(spec), in).matches);
    ASSERT_EQ(got, want) << "round " << round;
    ++compared;
    if (!want.empty()) ++nonempty;
    bool neg = false, loop = false;
    for (const auto& st : spec.steps) {
      neg = neg || st.negation != 0;
      loop = loop || st.quant != 0;
    }
    if (!want.empty() && neg) ++with_negation;
    if (!want.empty() && loop) ++with_loop;
    if (!want.empty() && spec.window > 0) ++with_window;
  }
  std::cout << compared << " patterns, " << nonempty << " with matches (" << with_negation << " with a negation, " << with_loop
            << " with a quantifier, " << with_window << " with a window)\n";
  EXPECT_GT(nonempty, compared / 4) << "the random cases must produce matches";
  EXPECT_GT(with_negation, 100);
  EXPECT_GT(with_loop, 100);
  EXPECT_GT(with_window, 100);
}

/// The matches in emission order with the timestamps of their first and last events.
std::vector<std::tuple<std::string, int64_t, int64_t>> run_spans(const Pattern<E>& p, const std::vector<E>& in) {
  using namespace weir::cep::detail;
  NfaRunner<E> r(NfaCompiler<E>::compile(p));
  KeyNfa<E> k;
  r.init(k);
  NfaRunner<E>::Output o;
  for (const auto& e : in) {
    r.advance_time(k, e.ts, o);
    r.process(k, e, e.ts, o);
  }
  r.advance_time(k, std::numeric_limits<int64_t>::max(), o);
  std::vector<std::tuple<std::string, int64_t, int64_t>> out;
  for (auto& [m, ts] : o.matches) {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (const auto& [n, evs] : m) {
      for (const auto& e : evs) {
        lo = std::min(lo, e.ts);
        hi = std::max(hi, e.ts);
      }
    }
    out.emplace_back(show(m), lo, hi);
  }
  return out;
}

TEST(CepReference, SkipStrategiesKeepASubsetInOrder) {
  // skip_past_last_event: each emitted match starts after the previous one ended;
  // skip_to_next: emitted matches start at increasing events; both emit only matches that
  // no_skip finds.
  std::mt19937 rng(99);
  int checked = 0;
  for (int round = 0; round < 1500; ++round) {
    const Spec spec = random_spec(rng);
    auto in = random_events(rng, 1, 12);
    const auto all = reference(spec, in);
    std::multiset<std::string> pool(all.begin(), all.end());
    for (int strategy = 0; strategy < 2; ++strategy) {
      const auto skip = strategy == 0 ? AfterMatchSkipStrategy::skip_past_last_event() : AfterMatchSkipStrategy::skip_to_next();
      const auto got = run_spans(build(spec, skip), in);
      std::multiset<std::string> left = pool;
      for (std::size_t i = 0; i < got.size(); ++i) {
        auto it = left.find(std::get<0>(got[i]));
        ASSERT_NE(it, left.end()) << "round " << round << ": " << std::get<0>(got[i]) << " is no match";
        left.erase(it);
        if (i == 0) continue;
        if (strategy == 0) {
          ASSERT_GT(std::get<1>(got[i]), std::get<2>(got[i - 1])) << "round " << round;
        } else {
          ASSERT_GT(std::get<1>(got[i]), std::get<1>(got[i - 1])) << "round " << round;
        }
      }
      if (got.size() > 1) ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

class CepReferenceJob : public ::testing::TestWithParam<int> {};

TEST_P(CepReferenceJob, KeyedJobAgreesWithEnumeration) {
  std::mt19937 rng(77 + static_cast<unsigned>(GetParam()));
  for (int round = 0; round < 6; ++round) {
    const Spec spec = random_spec(rng);
    const auto in = random_events(rng, 5, 10);
    std::vector<std::string> want;
    for (int32_t k = 0; k < 5; ++k) {
      std::vector<E> of_key;
      for (const auto& e : in) {
        if (e.key == k) of_key.push_back(e);
      }
      for (auto& m : reference(spec, of_key)) want.push_back(std::to_string(k) + "|" + m);
    }
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(GetParam());
    auto src = env.from_collection(in).assign_timestamps_and_watermarks(by_ts());
    auto got = CEP::pattern(src.key_by([](const E& e) { return e.key; }), build(spec))
                   .select([](const MatchMap& m) {
                     int32_t key = 0;
                     for (const auto& [n, evs] : m) {
                       if (!evs.empty()) key = evs[0].key;
                     }
                     return std::to_string(key) + "|" + show(m);
                   })
                   .execute_and_collect();
    ASSERT_EQ(sorted(got), sorted(want)) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Parallelism, CepReferenceJob, ::testing::Values(1, 2, 4));

// ---- savepoint mid-pattern, resumed at another parallelism -----------------------------------

E restore_event(int64_t i) {
  static const char kinds[] = {'a', 'b', 'x', 'b', 'c', 'a', 'x', 'c', 'b'};
  const char k = kinds[static_cast<std::size_t>((i * 7 + i / 5) % 9)];
  return E{static_cast<int32_t>(i % 11), std::string(1, k) + std::to_string(i), 0, i + 1};
}

/// Split s of n emits events s, s + n, s + 2n, ... (timestamps rising in each split) while they
/// are below `*limit`.
class GatedInterleaved final : public weir::Source<E> {
 public:
  GatedInterleaved(int64_t count, std::shared_ptr<std::atomic<int64_t>> limit) : count_(count), limit_(std::move(limit)) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<weir::SplitReader<E>> create_reader(int split, int n) const override {
    struct Reader final : weir::SplitReader<E> {
      int64_t next = 0, step = 1, end = 0;
      std::shared_ptr<std::atomic<int64_t>> limit;
      Status read(std::size_t max, weir::SourceOutput<E>& out) override {
        std::size_t i = 0;
        for (; i < max && next < end && next < limit->load(); ++i, next += step) out.collect(restore_event(next), weir::kNoTimestamp);
        if (next >= end) return Status::kEndOfSplit;
        if (i == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        return Status::kMoreAvailable;
      }
      std::optional<std::string> snapshot_position() const override { return weir::serialize(std::pair<int64_t, int64_t>{next, step}); }
      void restore_position(std::string_view p) override {
        auto [n, s] = weir::deserialize<std::pair<int64_t, int64_t>>(p);
        next = n;
        step = s;
      }
    };
    auto r = std::make_unique<Reader>();
    r->next = split;
    r->step = n;
    r->end = count_;
    r->limit = limit_;
    return r;
  }

 private:
  int64_t count_;
  std::shared_ptr<std::atomic<int64_t>> limit_;
};

class CepRestore : public ::testing::TestWithParam<std::string> {};

TEST_P(CepRestore, SavepointMidPatternResumesAtAnotherParallelism) {
  weir::testsupport::TempDir dir;
  constexpr int64_t kN = 6000;
  auto p = Pattern<E>::begin("a", AfterMatchSkipStrategy::skip_past_last_event())
               .where(is('a'))
               .followed_by("b")
               .where(is('b'))
               .one_or_more()
               .followed_by("c")
               .where(is('c'));
  auto build = [&](weir::StreamExecutionEnvironment& env, std::shared_ptr<std::atomic<int64_t>> limit) {
    auto src = env.from_source(GatedInterleaved(kN, std::move(limit)), by_ts(), "events").uid("events");
    return CEP::pattern(src.key_by([](const E& e) { return e.key; }), p)
        .select([](const MatchMap& m) { return std::to_string(m.at("a")[0].key) + "|" + show(m); })
        .uid("cep")
        .collect_async();
  };
  auto use_backend = [&](weir::StreamExecutionEnvironment& env, const std::string& sub) {
    if (GetParam() == "rocksdb") env.set_state_backend(weir::StateBackend::rocksdb(dir.sub(sub)).with_memory_budget(8 << 20));
  };
  std::vector<std::string> all;
  std::string path;
  {
    auto env = weir::StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(2);
    env.enable_checkpointing(3600 * 1000);
    use_backend(env, "db1");
    auto out = build(env, std::make_shared<std::atomic<int64_t>>(kN / 2));
    auto client = env.execute_async("cep first");
    weir::testsupport::wait_for_input(client, kN / 2, "CEP");
    // and until the watermark has let matches out (partial matches stay open: more input follows)
    for (;;) {
      uint64_t sent = 0;
      for (const auto& m : client.metrics()) {
        if (m.task_name.find("CEP") != std::string::npos) sent += m.records_out;
      }
      if (sent > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    path = client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
    all = out.get();
  }
  const std::size_t before = all.size();
  auto env = weir::StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(3);
  use_backend(env, "db2");
  env.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(path));
  auto out = build(env, std::make_shared<std::atomic<int64_t>>(INT64_MAX));
  env.execute("cep second");
  for (auto& m : out.get()) all.push_back(m);

  std::vector<std::string> want;
  std::map<int32_t, std::vector<E>> by_key;
  for (int64_t i = 0; i < kN; ++i) by_key[restore_event(i).key].push_back(restore_event(i));
  for (auto& [k, evs] : by_key) {
    for (auto& m : run_nfa(p, evs).matches) want.push_back(std::to_string(k) + "|" + m);
  }
  EXPECT_GT(before, 0u) << "the first run must have matched before the savepoint";
  EXPECT_LT(before, want.size()) << "the savepoint must land mid-stream";
  EXPECT_EQ(sorted(all), sorted(want));
}

INSTANTIATE_TEST_SUITE_P(Backends, CepRestore, ::testing::Values(std::string("heap"), std::string("rocksdb")));

}  // namespace
