// Keyed state kinds and time to live, through the harness and in jobs at parallelism 1, 2, 4.
#include <gtest/gtest.h>

#include <map>

#include "weir/testing/harness.hpp"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using KV = std::pair<std::string, int64_t>;
using weir::testing::OneInputHarness;

weir::KeyedStream<KV, std::string> keyed_input() {
  static auto env = weir::StreamExecutionEnvironment::create();
  return env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
}

struct AllKinds : weir::KeyedProcessFunction<std::string, KV, std::string> {
  weir::ListState<int64_t> list;
  weir::MapState<int64_t, int64_t> histogram;
  weir::ReducingState<int64_t> max;
  weir::AggregatingState<int64_t, double> mean;
  struct Mean {
    std::pair<int64_t, int64_t> create_accumulator() const { return {0, 0}; }
    std::pair<int64_t, int64_t> add(const int64_t& v, std::pair<int64_t, int64_t> a) const { return {a.first + v, a.second + 1}; }
    double get_result(const std::pair<int64_t, int64_t>& a) const { return static_cast<double>(a.first) / a.second; }
  };
  void open(weir::RuntimeContext& rc) override {
    list = rc.get_list_state(weir::ListStateDescriptor<int64_t>("list"));
    histogram = rc.get_map_state(weir::MapStateDescriptor<int64_t, int64_t>("histogram"));
    max = rc.get_reducing_state(weir::ReducingStateDescriptor<int64_t>("max", [](const int64_t& a, const int64_t& b) { return std::max(a, b); }));
    mean = rc.get_aggregating_state(weir::AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>("mean", Mean{}));
  }
  void process_element(const KV& kv, Context& ctx, weir::Collector<std::string>& out) override {
    if (kv.second == 0) {  // dump and clear
      std::string s = ctx.get_current_key() + " list=";
      for (auto v : list.get()) s += std::to_string(v) + ",";
      auto entries = histogram.entries();
      std::sort(entries.begin(), entries.end());
      s += " hist=";
      for (auto& [k, c] : entries) s += std::to_string(k) + ":" + std::to_string(c) + ",";
      s += " max=" + (max.get() ? std::to_string(*max.get()) : "none");
      s += " mean=" + (mean.get() ? std::to_string(*mean.get()) : "none");
      s += histogram.is_empty() ? " empty" : " nonempty";
      out.collect(s);
      list.clear();
      histogram.clear();
      max.clear();
      mean.clear();
      return;
    }
    list.add(kv.second);
    histogram.put(kv.second % 3, histogram.get(kv.second % 3).value_or(0) + 1);
    max.add(kv.second);
    mean.add(kv.second);
  }
};

TEST(KeyedState, ListMapReducingAndAggregatingStateArePerKey) {
  auto s = keyed_input().process(AllKinds{});
  OneInputHarness<KV, std::string> h(s);
  h.open();
  for (auto& kv : std::vector<KV>{{"a", 1}, {"b", 5}, {"a", 4}, {"a", 2}, {"b", 3}}) h.process_element(kv);
  h.process_element({"a", 0});
  h.process_element({"b", 0});
  h.process_element({"a", 0});
  EXPECT_EQ(h.extract_output_values(),
            (std::vector<std::string>{"a list=1,4,2, hist=1:2,2:1, max=4 mean=2.333333 nonempty",
                                      "b list=5,3, hist=0:1,2:1, max=5 mean=4.000000 nonempty",
                                      "a list= hist= max=none mean=none empty"}));
}

TEST(KeyedState, ListUpdateReplacesAndEmptyUpdateClears) {
  struct F : weir::KeyedProcessFunction<std::string, KV, int64_t> {
    weir::ListState<int64_t> list;
    void open(weir::RuntimeContext& rc) override { list = rc.get_list_state(weir::ListStateDescriptor<int64_t>("l")); }
    void process_element(const KV& kv, Context&, weir::Collector<int64_t>& out) override {
      list.add_all({kv.second, kv.second});
      if (kv.second == 7) list.update({100});
      if (kv.second == 9) list.update({});
      int64_t sum = 0;
      for (auto v : list.get()) sum += v;
      out.collect(sum);
    }
  };
  auto s = keyed_input().process(F{});
  OneInputHarness<KV, int64_t> h(s);
  h.open();
  h.process_element({"a", 1});
  h.process_element({"a", 7});
  h.process_element({"a", 2});
  h.process_element({"a", 9});
  EXPECT_EQ(h.extract_output_values(), (std::vector<int64_t>{2, 100, 104, 0}));
}

struct TtlValue : weir::KeyedProcessFunction<std::string, KV, std::string> {
  weir::TtlUpdateType update = weir::TtlUpdateType::on_create_and_write;
  weir::ValueState<int64_t> v;
  weir::ListState<int64_t> l;
  void open(weir::RuntimeContext& rc) override {
    auto ttl = weir::StateTtlConfig::new_builder(100ms).set_update_type(update).never_return_expired().build();
    weir::ValueStateDescriptor<int64_t> d("v");
    d.enable_time_to_live(ttl);
    v = rc.get_state(d);
    weir::ListStateDescriptor<int64_t> ld("l");
    ld.enable_time_to_live(ttl);
    l = rc.get_list_state(ld);
  }
  void process_element(const KV& kv, Context&, weir::Collector<std::string>& out) override {
    if (kv.second > 0) {
      v.update(kv.second);
      l.add(kv.second);
      return;
    }
    auto x = v.value();
    std::string s = x ? std::to_string(*x) : "expired";
    s += "/" + std::to_string(l.get().size());
    out.collect(s);
  }
};

TEST(StateTtl, ExpiredValuesAreNeverReturnedAndReadsRefreshOnlyWhenAsked) {
  {
    auto s = keyed_input().process(TtlValue{});
    OneInputHarness<KV, std::string> h(s);
    h.open();
    h.set_processing_time(1000);
    h.process_element({"a", 5});
    h.set_processing_time(1050);
    h.process_element({"a", 6});  // written at 1050: lives until 1150
    h.set_processing_time(1099);
    h.process_element({"a", 0});
    h.set_processing_time(1149);
    h.process_element({"a", 0});  // list element 5 (from 1000) has expired
    h.set_processing_time(1150);
    h.process_element({"a", 0});
    EXPECT_EQ(h.extract_output_values(), (std::vector<std::string>{"6/2", "6/1", "expired/0"}));
  }
  {
    TtlValue f;
    f.update = weir::TtlUpdateType::on_read_and_write;
    auto s = keyed_input().process(f);
    OneInputHarness<KV, std::string> h(s);
    h.open();
    h.set_processing_time(1000);
    h.process_element({"a", 5});
    for (int64_t t = 1080; t <= 1400; t += 80) {
      h.set_processing_time(t);
      h.process_element({"a", 0});  // each read restarts the time to live
    }
    h.set_processing_time(1600);
    h.process_element({"a", 0});
    auto out = h.extract_output_values();
    ASSERT_EQ(out.size(), 6u);
    EXPECT_EQ(out[4], "5/1");
    EXPECT_EQ(out[5], "expired/0");
  }
}

TEST(StateTtl, BackgroundCleanupRemovesExpiredKeysWithoutAccess) {
  struct F : weir::KeyedProcessFunction<std::string, KV, int64_t> {
    weir::ValueState<int64_t> v;
    void open(weir::RuntimeContext& rc) override {
      weir::ValueStateDescriptor<int64_t> d("v");
      d.enable_time_to_live(weir::StateTtlConfig::new_builder(100ms).cleanup_in_background(50ms).build());
      v = rc.get_state(d);
    }
    void process_element(const KV& kv, Context&, weir::Collector<int64_t>&) override { v.update(kv.second); }
  };
  auto s = keyed_input().process(F{});
  OneInputHarness<KV, int64_t> h(s);
  h.open();
  for (int i = 0; i < 100; ++i) h.process_element({"k" + std::to_string(i), i + 1});
  EXPECT_EQ(h.op().keyed_state_keys(), 100u);
  h.set_processing_time(99);
  EXPECT_EQ(h.op().keyed_state_keys(), 100u) << "nothing has expired yet";
  h.set_processing_time(200);  // sweeps at 50, 100, 150, 200: everything written at 0 expired at 100
  // every key's state is gone; only the last key processed may still hold its (empty) slot
  EXPECT_LE(h.op().keyed_state_keys(), 1u);
}

TEST(KeyedState, JobWithListAndMapStateMatchesSequentialReferenceAtParallelism124) {
  std::map<std::string, std::string> want;
  {
    std::map<std::string, std::map<int64_t, int64_t>> hist;
    for (int64_t i = 0; i < 20'000; ++i) hist["k" + std::to_string(i % 97)][i % 5]++;
    for (auto& [k, h] : hist) {
      std::string s;
      for (auto& [b, c] : h) s += std::to_string(b) + ":" + std::to_string(c) + ",";
      want[k] = s;
    }
  }
  for (int p : {1, 2, 4}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    struct Hist : weir::KeyedProcessFunction<std::string, KV, std::pair<std::string, std::string>> {
      weir::MapState<int64_t, int64_t> h;
      weir::ValueState<bool> timer;
      void open(weir::RuntimeContext& rc) override {
        h = rc.get_map_state(weir::MapStateDescriptor<int64_t, int64_t>("h"));
        timer = rc.get_state(weir::ValueStateDescriptor<bool>("t"));
      }
      void process_element(const KV& kv, Context& ctx, weir::Collector<std::pair<std::string, std::string>>&) override {
        h.put(kv.second % 5, h.get(kv.second % 5).value_or(0) + 1);
        if (!timer.value()) {
          ctx.timer_service().register_event_time_timer(weir::kMaxWatermark - 1);
          timer.update(true);
        }
      }
      void on_timer(int64_t, OnTimerContext& ctx, weir::Collector<std::pair<std::string, std::string>>& out) override {
        auto e = h.entries();
        std::sort(e.begin(), e.end());
        std::string s;
        for (auto& [b, c] : e) s += std::to_string(b) + ":" + std::to_string(c) + ",";
        out.collect({ctx.get_current_key(), s});
      }
    };
    auto got = env.from_generator(20'000, [](int64_t i) { return KV{"k" + std::to_string(i % 97), i}; })
                   .assign_timestamps_and_watermarks(weir::WatermarkStrategy<KV>::for_monotonous_timestamps().with_timestamp_assigner(
                       [](const KV& kv, int64_t) { return kv.second; }))
                   .key_by([](const KV& kv) { return kv.first; })
                   .process(Hist{})
                   .execute_and_collect();
    std::map<std::string, std::string> have(got.begin(), got.end());
    EXPECT_EQ(have, want) << "parallelism " << p;
  }
}

TEST(KeyedState, StateOnANonKeyedStreamFailsWithAClearError) {
  struct F : weir::ProcessFunction<int64_t, int64_t> {
    weir::ValueState<int64_t> v;
    void open(weir::RuntimeContext& rc) override { v = rc.get_state(weir::ValueStateDescriptor<int64_t>("v")); }
    void process_element(const int64_t& x, Context&, weir::Collector<int64_t>& out) override { out.collect(x); }
  };
  auto env = weir::StreamExecutionEnvironment::create();
  env.from_sequence(1, 3).process(F{}).name("stateful").print();
  try {
    env.execute();
    FAIL();
  } catch (const weir::JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("only available on a keyed stream"), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(StateTtl, EntriesWrittenWithoutTtlHaveNoStampAndDoNotExpireUnderATtlAfterARestore) {
  // Without TTL no clock is read for a write; such an entry restored into a state with TTL
  // lives until it is written again (then it is stamped), rather than expiring at once.
  const auto ttl = weir::StateTtlConfig::new_builder(100ms).build();
  const weir::detail::TtlRules with_ttl(ttl);
  const weir::detail::TtlRules without(std::nullopt);
  EXPECT_FALSE(with_ttl.expired(weir::detail::kUnstamped, std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(with_ttl.expired(1000, 1100));
  EXPECT_FALSE(with_ttl.expired(1000, 1099));
  EXPECT_FALSE(without.expired(1000, 1'000'000));
}
