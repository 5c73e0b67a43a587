// Complex event processing exactly as the CEP issue writes it: the login pattern built in one
// expression and in steps on variables, keyed by a member pointer, select / flat_select /
// process, timed-out partial matches through an OutputTag, ctx.get_events_for_pattern in a
// range-for; results checked against what the input holds.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <weir/cep/cep.hpp>
#include <weir/weir.hpp>

namespace {

struct Login {
  std::string user;
  bool ok = false;
  int64_t ts = 0;
  bool operator==(const Login&) const = default;
};
WEIR_SERDE(Login, user, ok, ts)

using Matched = std::map<std::string, std::vector<Login>>;

std::vector<Login> logins() {
  // alice: three failures then a success within a minute (an alert); bob: two failures then a
  // success (none); carol: three failures, then a success two minutes later (times out).
  return {{"alice", false, 1000},  {"bob", false, 1500},   {"alice", false, 2000},  {"carol", false, 2100},
          {"alice", false, 3000},  {"bob", false, 3500},   {"carol", false, 3600},  {"alice", true, 4000},
          {"bob", true, 4500},     {"carol", false, 4600}, {"carol", true, 130000}};
}

weir::DataStream<Login> source(weir::StreamExecutionEnvironment& env) {
  return env.from_collection(logins())
      .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Login>::for_monotonous_timestamps().with_timestamp_assigner(
          [](const Login& l, int64_t) { return l.ts; }));
}

template <class T>
struct Sink {
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<T>> got = std::make_shared<std::vector<T>>();
  auto fn() const {
    return [mu = mu, got = got](const T& v) {
      std::lock_guard lock(*mu);
      got->push_back(v);
    };
  }
  std::vector<T> sorted() const {
    std::lock_guard lock(*mu);
    auto v = *got;
    std::sort(v.begin(), v.end());
    return v;
  }
};

TEST(CepContract, TheIssuesLoginPatternAsWritten) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  auto logins = source(env);
  using weir::cep::Pattern;
  auto p = Pattern<Login>::begin("fails", weir::cep::AfterMatchSkipStrategy::skip_past_last_event())
               .where([](const Login& e) { return !e.ok; })
               .times(3).consecutive()
               .next("success").where([](const Login& e) { return e.ok; })
               .within(std::chrono::minutes(1));
  auto alerts = weir::cep::CEP::pattern(logins.key_by(&Login::user), p)
                    .select([](const std::map<std::string, std::vector<Login>>& m) { return m.at("success")[0].user; });
  Sink<std::string> sink;
  alerts.add_sink(sink.fn());
  env.execute("cep contract");
  EXPECT_EQ(sink.sorted(), std::vector<std::string>{"alice"});
}

TEST(CepContract, PatternsBuiltInStepsOnVariablesAndTheOtherSelects) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto logins = source(env);
  // A copyable, assignable value: each method returns the extended pattern.
  weir::cep::Pattern<Login> p = weir::cep::Pattern<Login>::begin("fails");
  p = p.where([](const Login& e) { return !e.ok; });
  weir::cep::Pattern<Login> three = p.times(3);
  three = three.consecutive();
  auto full = three.followed_by("success").where([](const Login& e, const weir::cep::Context<Login>& ctx) {
    int failures = 0;
    for (const Login& f : ctx.get_events_for_pattern("fails")) failures += f.ok ? 0 : 1;
    return e.ok && failures == 3;
  });
  full = full.within(std::chrono::minutes(1));
  auto keyed = logins.key_by(&Login::user);

  // flat_select: one record per failed attempt of a match.
  Sink<std::string> flat;
  weir::cep::CEP::pattern(keyed, full)
      .flat_select([](const std::map<std::string, std::vector<Login>>& m, weir::Collector<std::string>& out) {
        for (const auto& f : m.at("fails")) out.collect(f.user + "@" + std::to_string(f.ts));
      })
      .add_sink(flat.fn());

  // process: the match's timestamp and a side output.
  weir::OutputTag<std::string> side("side");
  Sink<std::string> processed, side_got;
  auto proc = weir::cep::CEP::pattern(keyed, full).process(
      [side](const std::map<std::string, std::vector<Login>>& m, weir::cep::PatternContext& ctx, weir::Collector<int64_t>& out) {
        out.collect(ctx.timestamp());
        ctx.output(side, m.at("success")[0].user);
      });
  proc.add_sink([s = processed](const int64_t& ts) { s.fn()(std::to_string(ts)); });
  proc.get_side_output(side).add_sink(side_got.fn());

  // Timed-out partial matches through an OutputTag: carol's success comes too late.
  weir::OutputTag<std::string> timed_out("timed-out");
  Sink<std::string> selected, timeouts;
  auto sel = weir::cep::CEP::pattern(keyed, full)
                 .select(
                     timed_out,
                     [](const std::map<std::string, std::vector<Login>>& m, int64_t timeout_timestamp) {
                       return m.at("fails")[0].user + " timed out at " + std::to_string(timeout_timestamp);
                     },
                     [](const std::map<std::string, std::vector<Login>>& m) { return m.at("success")[0].user; });
  sel.add_sink(selected.fn());
  sel.get_side_output(timed_out).add_sink(timeouts.fn());
  env.execute("cep contract steps");

  EXPECT_EQ(flat.sorted(), (std::vector<std::string>{"alice@1000", "alice@2000", "alice@3000"}));
  EXPECT_EQ(processed.sorted(), std::vector<std::string>{"4000"});
  EXPECT_EQ(side_got.sorted(), std::vector<std::string>{"alice"});
  EXPECT_EQ(selected.sorted(), std::vector<std::string>{"alice"});
  // carol's success comes too late: each of her partial matches (starting at her failures at
  // 2100, 3600 and 4600) times out at its first event plus the one-minute window, as Flink's.
  EXPECT_EQ(timeouts.sorted(), (std::vector<std::string>{"carol timed out at 62100", "carol timed out at 63600",
                                                          "carol timed out at 64600"}));
}

}  // namespace
