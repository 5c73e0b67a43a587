// The broadcast state pattern: rules broadcast to every subtask, read by the keyed side.
#include <gtest/gtest.h>

#include <map>

#include "weir/testing/harness.hpp"
#include "weir/weir.hpp"

namespace {

using KV = std::pair<std::string, int64_t>;
using Rule = std::pair<std::string, int64_t>;  // name -> threshold

const weir::MapStateDescriptor<std::string, int64_t> kRules("rules");

struct Alerts : weir::KeyedBroadcastProcessFunction<std::string, KV, Rule, std::string> {
  weir::ValueState<int64_t> seen;
  void open(weir::RuntimeContext& rc) override { seen = rc.get_state(weir::ValueStateDescriptor<int64_t>("seen")); }
  void process_element(const KV& e, ReadOnlyContext& ctx, weir::Collector<std::string>& out) override {
    seen.update(seen.value().value_or(0) + 1);
    auto rules = ctx.get_broadcast_state(kRules).entries();
    std::sort(rules.begin(), rules.end());
    for (auto& [name, threshold] : rules) {
      if (e.second > threshold) out.collect(ctx.get_current_key() + ">" + name + "#" + std::to_string(*seen.value()));
    }
  }
  void process_broadcast_element(const Rule& r, Context& ctx, weir::Collector<std::string>&) override {
    auto state = ctx.get_broadcast_state(kRules);
    if (r.second < 0) {
      state.remove(r.first);
    } else {
      state.put(r.first, r.second);
    }
  }
};

TEST(BroadcastState, KeyedSideReadsTheRulesTheBroadcastSideWrote) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto events = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  auto rules = env.from_elements(Rule{}).broadcast(kRules);
  auto s = events.connect(rules).process(Alerts{});
  weir::testing::TwoInputHarness<KV, Rule, std::string> h(s);
  h.open();
  h.process_element1({"a", 50});  // no rules yet
  h.process_element2({"high", 40});
  h.process_element2({"higher", 60});
  h.process_element1({"a", 50});
  h.process_element1({"b", 70});
  h.process_element2({"high", -1});  // removed
  h.process_element1({"a", 70});
  EXPECT_EQ(h.extract_output_values(), (std::vector<std::string>{"a>high#2", "b>high#1", "b>higher#1", "a>higher#3"}));
}

struct CountAtEnd : weir::KeyedBroadcastProcessFunction<std::string, KV, Rule, std::pair<std::string, int64_t>> {
  weir::ListState<int64_t> values;
  void open(weir::RuntimeContext& rc) override { values = rc.get_list_state(weir::ListStateDescriptor<int64_t>("v")); }
  void process_element(const KV& e, ReadOnlyContext& ctx, weir::Collector<std::pair<std::string, int64_t>>&) override {
    values.add(e.second);
    ctx.timer_service().register_event_time_timer(weir::kMaxWatermark - 1);
  }
  void process_broadcast_element(const Rule& r, Context& ctx, weir::Collector<std::pair<std::string, int64_t>>&) override {
    ctx.get_broadcast_state(kRules).put(r.first, r.second);
  }
  void on_timer(int64_t, OnTimerContext& ctx, weir::Collector<std::pair<std::string, int64_t>>& out) override {
    // By the final watermark every rule has reached every subtask.
    const int64_t threshold = ctx.get_broadcast_state(kRules).get("limit").value_or(-1);
    int64_t above = 0;
    for (auto v : values.get()) above += v > threshold ? 1 : 0;
    out.collect({ctx.get_current_key(), above});
  }
};

TEST(BroadcastState, EverySubtaskGetsEveryRuleAtParallelism124) {
  std::map<std::string, int64_t> want;
  for (int64_t i = 0; i < 5000; ++i) want["k" + std::to_string(i % 31)] += (i % 100) > 60 ? 1 : 0;
  for (int p : {1, 2, 4}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    auto rules = env.from_elements(Rule{"limit", 10}, Rule{"other", 5}, Rule{"limit", 60}).broadcast(kRules);
    auto got = env.from_generator(5000, [](int64_t i) { return KV{"k" + std::to_string(i % 31), i % 100}; })
                   .assign_timestamps_and_watermarks(weir::WatermarkStrategy<KV>::for_monotonous_timestamps())
                   .key_by([](const KV& kv) { return kv.first; })
                   .connect(rules)
                   .process(CountAtEnd{})
                   .execute_and_collect();
    std::map<std::string, int64_t> have(got.begin(), got.end());
    EXPECT_EQ(have, want) << "parallelism " << p;
  }
}

struct Tag : weir::BroadcastProcessFunction<int64_t, Rule, std::string> {
  void process_element(const int64_t& x, ReadOnlyContext& ctx, weir::Collector<std::string>& out) override {
    auto r = ctx.get_broadcast_state(kRules).get("prefix");
    out.collect((r ? std::to_string(*r) : std::string("none")) + ":" + std::to_string(x));
  }
  void process_broadcast_element(const Rule& r, Context& ctx, weir::Collector<std::string>&) override {
    ctx.get_broadcast_state(kRules).put(r.first, r.second);
  }
};

TEST(BroadcastState, NonKeyedBroadcastProcessFunction) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto s = env.from_sequence(1, 3).connect(env.from_elements(Rule{}).broadcast(kRules)).process(Tag{});
  weir::testing::TwoInputHarness<int64_t, Rule, std::string> h(s);
  h.open();
  h.process_element1(1);
  h.process_element2({"prefix", 9});
  h.process_element1(2);
  EXPECT_EQ(h.extract_output_values(), (std::vector<std::string>{"none:1", "9:2"}));
}

}  // namespace
