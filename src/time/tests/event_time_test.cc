// Watermarks, timers and keyed processing: one-operator harness cases and real jobs compared
// with sequential references.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "weir/testing/harness.hpp"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using weir::testing::OneInputHarness;
using weir::testing::Record;

struct Ev {
  std::string key;
  int64_t ts = 0;
  int64_t value = 0;
  bool operator==(const Ev&) const = default;
};

}  // namespace
WEIR_SERDE(Ev, key, ts, value)

namespace {

weir::StreamExecutionEnvironment make_env(int p) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p);
  env.set_worker_threads(2);
  return env;
}

TEST(Watermarks, BoundedOutOfOrdernessEmitsMaxTimestampMinusBoundMinusOnePeriodically) {
  auto env = make_env(1);
  auto s = env.from_elements(Ev{}).assign_timestamps_and_watermarks(
      weir::WatermarkStrategy<Ev>::for_bounded_out_of_orderness(100ms).with_timestamp_assigner(
          [](const Ev& e, int64_t) { return e.ts; }));
  OneInputHarness<Ev, Ev> h(s, 0, 1, 128, /*auto_watermark_interval=*/200);
  h.open();
  h.process_element(Ev{"a", 1000, 1});
  h.process_element(Ev{"a", 1500, 1});
  h.process_element(Ev{"a", 1200, 1});
  EXPECT_TRUE(h.watermarks().empty()) << "bounded out-of-orderness emits only periodically";
  h.set_processing_time(199);
  EXPECT_TRUE(h.watermarks().empty());
  h.set_processing_time(200);
  EXPECT_EQ(h.watermarks(), (std::vector<int64_t>{1500 - 100 - 1}));
  h.process_element(Ev{"a", 1400, 1});
  h.set_processing_time(400);  // no new maximum: the same watermark is not emitted twice
  EXPECT_EQ(h.watermarks(), (std::vector<int64_t>{1399}));
  h.process_element(Ev{"a", 2000, 1});
  h.set_processing_time(600);
  EXPECT_EQ(h.watermarks(), (std::vector<int64_t>{1399, 1899}));
  auto recs = h.records();
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[0].timestamp, 1000) << "the assigner sets the record's timestamp";
  EXPECT_EQ(recs[2].timestamp, 1200);
}

/// Emits a watermark equal to each event's timestamp, from on_event (punctuated).
struct Punctuated {
  void on_event(const Ev& e, int64_t ts, weir::WatermarkOutput& out) { out.emit_watermark(weir::Watermark(ts)); }
  void on_periodic_emit(weir::WatermarkOutput&) {}
};

TEST(Watermarks, PunctuatedWatermarkTravelsRightBehindItsRecordAcrossTasks) {
  // Source -> (channel) -> process function that checks, for each record, the watermark it sees:
  // it must be exactly the previous record's timestamp, never a batch behind.
  for (int p : {1, 2, 4}) {
    auto env = make_env(p);
    auto got = env.from_generator(20'000, [](int64_t i) { return Ev{"k" + std::to_string(i % 7), i, i}; })
                   .assign_timestamps_and_watermarks(
                       weir::WatermarkStrategy<Ev>::for_generator([] { return std::make_unique<Punctuated>(); })
                           .with_timestamp_assigner([](const Ev& e, int64_t) { return e.ts; }))
                   .forward()
                   .process([] {
                     struct Check : weir::ProcessFunction<Ev, int64_t> {
                       int64_t prev = -1;
                       void process_element(const Ev& e, Context& ctx, weir::Collector<int64_t>& out) override {
                         // the watermark after the previous record of this subtask
                         if (prev >= 0 && ctx.timer_service().current_watermark() != prev) out.collect(e.ts);
                         prev = e.ts;
                       }
                     };
                     return Check{};
                   }())
                   .disable_chaining()
                   .execute_and_collect();
    EXPECT_TRUE(got.empty()) << "parallelism " << p << ": " << got.size() << " records saw a stale watermark, first at ts "
                             << got.front();
  }
}

TEST(Watermarks, FinishedSplitNoLongerHoldsBackAndEndOfInputEmitsMaxWatermark) {
  // 3 splits in one subtask; split 0 is short. Records of splits 1 and 2 after split 0 ends
  // must still get windows fired, and end of input fires everything.
  auto env = make_env(1);
  auto src = weir::DataGeneratorSource([](int64_t i) { return Ev{"k", i, 1}; }, 3000, 3);
  auto client_out = env.from_source(src,
                                    weir::WatermarkStrategy<Ev>::for_monotonous_timestamps().with_timestamp_assigner(
                                        [](const Ev& e, int64_t) { return e.ts; }),
                                    "gen")
                        .key_by([](const Ev& e) { return e.key; })
                        .window(weir::TumblingEventTimeWindows::of(1000ms))
                        .aggregate([] {
                          struct Count {
                            int64_t create_accumulator() const { return 0; }
                            int64_t add(const Ev&, int64_t a) const { return a + 1; }
                            int64_t get_result(const int64_t& a) const { return a; }
                            int64_t merge(int64_t a, int64_t b) const { return a + b; }
                          };
                          return Count{};
                        }())
                        .execute_and_collect();
  std::sort(client_out.begin(), client_out.end());
  EXPECT_EQ(client_out, (std::vector<int64_t>{1000, 1000, 1000}));
}

TEST(Watermarks, TasksExposeTheirInputAndOutputWatermarks) {
  auto env = make_env(2);
  env.from_generator(1000, [](int64_t i) { return Ev{"k", i, 1}; })
      .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Ev>::for_monotonous_timestamps().with_timestamp_assigner(
          [](const Ev& e, int64_t) { return e.ts; }))
      .key_by([](const Ev& e) { return e.key; })
      .add_sink([](const Ev&) {});
  auto client = env.execute_async("metrics");
  client.wait();
  int sources = 0, sinks = 0;
  for (const auto& m : client.metrics()) {
    if (m.task_name.find("Generator Source") == 0) {
      ++sources;
      EXPECT_EQ(m.output_watermark, weir::kMaxWatermark) << "end of input sends the final watermark";
    } else {
      ++sinks;
      EXPECT_EQ(m.input_watermark, weir::kMaxWatermark);
      EXPECT_GE(m.watermark_holding_channel, -1);
    }
  }
  EXPECT_EQ(sources, 2);
  EXPECT_EQ(sinks, 2);
}

TEST(Watermarks, NumberSequenceSourceReachesTheLargestInt64) {
  auto env = make_env(2);
  const int64_t max = std::numeric_limits<int64_t>::max();
  auto got = env.from_source(weir::NumberSequenceSource(max - 9, max, 3), weir::WatermarkStrategy<int64_t>::no_watermarks(), "seq")
                 .execute_and_collect();
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.front(), max - 9);
  EXPECT_EQ(got.back(), max);
}

TEST(Clock, ManualClockSharedByJobsThatEndWhileItMovesIsSafe) {
  // One thread moves the clock; jobs using it start and end meanwhile. A job must not be
  // reached through the clock once it has ended (checked under the sanitizers).
  auto clock = std::make_shared<weir::ManualClock>(0);
  std::atomic<bool> stop{false};
  std::thread mover([&] {
    while (!stop.load()) clock->advance(1000);
  });
  for (int i = 0; i < 40; ++i) {
    auto env = make_env(1);
    env.set_clock(clock);
    auto got = env.from_generator(200, [](int64_t i) { return Ev{"k", i, 1}; })
                   .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Ev>::for_monotonous_timestamps().with_timestamp_assigner(
                       [](const Ev& e, int64_t) { return e.ts; }))
                   .execute_and_collect();
    ASSERT_EQ(got.size(), 200u);
  }
  stop.store(true);
  mover.join();
}

// ---- keyed process function ------------------------------------------------------------------

/// Counts per key; emits (key, count) from an event-time timer at ts + 10, deduplicated per ts.
struct CountWithTimeout : weir::KeyedProcessFunction<std::string, Ev, std::pair<std::string, int64_t>> {
  weir::ValueState<int64_t> count;
  void open(weir::RuntimeContext& rc) override { count = rc.get_state(weir::ValueStateDescriptor<int64_t>("count")); }
  void process_element(const Ev& e, Context& ctx, weir::Collector<std::pair<std::string, int64_t>>&) override {
    count.update(count.value().value_or(0) + 1);
    ctx.timer_service().register_event_time_timer(e.ts + 10);
  }
  void on_timer(int64_t ts, OnTimerContext& ctx, weir::Collector<std::pair<std::string, int64_t>>& out) override {
    EXPECT_EQ(ctx.time_domain(), weir::TimeDomain::event_time);
    EXPECT_EQ(ctx.timestamp(), ts);
    out.collect({ctx.get_current_key(), count.value().value_or(-1)});
  }
};

TEST(KeyedProcessFunction, TimersFireInTimestampOrderPerKeyWithTheTimersTimestamp) {
  auto env = make_env(1);
  auto s = env.from_elements(Ev{}).key_by([](const Ev& e) { return e.key; }).process(CountWithTimeout{});
  OneInputHarness<Ev, std::pair<std::string, int64_t>> h(s);
  h.open();
  h.process_element(Ev{"a", 100, 0}, 100);
  h.process_element(Ev{"b", 105, 0}, 105);
  h.process_element(Ev{"a", 100, 0}, 100);  // same timer (110) for "a": deduplicated
  h.process_watermark(109);
  EXPECT_TRUE(h.records().empty());
  h.process_watermark(115);
  auto r = h.records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, (std::pair<std::string, int64_t>{"a", 2}));
  EXPECT_EQ(r[0].timestamp, 110);
  EXPECT_EQ(r[1].value, (std::pair<std::string, int64_t>{"b", 1}));
  EXPECT_EQ(r[1].timestamp, 115);
  EXPECT_EQ(h.watermarks(), (std::vector<int64_t>{109, 115}));
}

struct ProcTimeout : weir::KeyedProcessFunction<std::string, Ev, std::string> {
  void process_element(const Ev& e, Context& ctx, weir::Collector<std::string>&) override {
    const int64_t t = ctx.timer_service().current_processing_time() + 50;
    ctx.timer_service().register_processing_time_timer(t);
    if (e.value < 0) ctx.timer_service().delete_processing_time_timer(t);
  }
  void on_timer(int64_t ts, OnTimerContext& ctx, weir::Collector<std::string>& out) override {
    EXPECT_EQ(ctx.time_domain(), weir::TimeDomain::processing_time);
    out.collect(ctx.get_current_key() + "@" + std::to_string(ts));
  }
};

TEST(KeyedProcessFunction, ProcessingTimeTimersFireWhenManualTimeReachesThemAndCanBeDeleted) {
  auto env = make_env(1);
  auto s = env.from_elements(Ev{}).key_by([](const Ev& e) { return e.key; }).process(ProcTimeout{});
  OneInputHarness<Ev, std::string> h(s);
  h.open();
  h.set_processing_time(1000);
  h.process_element(Ev{"a", 0, 1});
  h.set_processing_time(1010);
  h.process_element(Ev{"b", 0, 1});
  h.process_element(Ev{"c", 0, -1});  // registers then deletes
  h.set_processing_time(1049);
  EXPECT_TRUE(h.records().empty());
  h.set_processing_time(1100);
  auto r = h.records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, "a@1050");
  EXPECT_EQ(r[0].timestamp, std::nullopt) << "processing-time timer output has no timestamp";
  EXPECT_EQ(r[1].value, "b@1060");
}

TEST(KeyedProcessFunction, StateIsPerKeyAndClearedStateFreesTheKey) {
  struct Sum : weir::KeyedProcessFunction<std::string, Ev, int64_t> {
    weir::ValueState<int64_t> sum;
    void open(weir::RuntimeContext& rc) override { sum = rc.get_state(weir::ValueStateDescriptor<int64_t>("sum")); }
    void process_element(const Ev& e, Context&, weir::Collector<int64_t>& out) override {
      if (e.value == 0) {
        sum.clear();
        out.collect(-1);
        return;
      }
      sum.update(sum.value().value_or(0) + e.value);
      out.collect(*sum.value());
    }
  };
  auto env = make_env(1);
  auto s = env.from_elements(Ev{}).key_by([](const Ev& e) { return e.key; }).process(Sum{});
  OneInputHarness<Ev, int64_t> h(s);
  h.open();
  for (auto [k, v] : std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"b", 10}, {"a", 2}, {"a", 0}, {"a", 5}, {"b", 1}}) {
    h.process_element(Ev{k, 0, v});
  }
  EXPECT_EQ(h.extract_output_values(), (std::vector<int64_t>{1, 10, 3, -1, 5, 11}));
}

TEST(KeyedProcessFunction, JobResultsMatchSequentialReferenceAtParallelism124) {
  // Per key, count events; a timer at the last event time + 10 emits the count. With
  // monotonous timestamps per key and the final watermark, every key reports its total.
  std::map<std::string, int64_t> want;
  for (int64_t i = 0; i < 30'000; ++i) ++want["k" + std::to_string(i * 7 % 101)];
  for (int p : {1, 2, 4}) {
    auto env = make_env(p);
    auto got = env.from_generator(30'000, [](int64_t i) { return Ev{"k" + std::to_string(i * 7 % 101), i, 1}; })
                   .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Ev>::for_bounded_out_of_orderness(100'000ms)
                                                         .with_timestamp_assigner([](const Ev& e, int64_t) { return e.ts; }))
                   .key_by([](const Ev& e) { return e.key; })
                   .process([] {
                     struct Final : weir::KeyedProcessFunction<std::string, Ev, std::pair<std::string, int64_t>> {
                       weir::ValueState<int64_t> count;
                       weir::ValueState<int64_t> last;
                       void open(weir::RuntimeContext& rc) override {
                         count = rc.get_state(weir::ValueStateDescriptor<int64_t>("count"));
                         last = rc.get_state(weir::ValueStateDescriptor<int64_t>("last-timer"));
                       }
                       void process_element(const Ev& e, Context& ctx, weir::Collector<std::pair<std::string, int64_t>>&) override {
                         count.update(count.value().value_or(0) + 1);
                         if (auto l = last.value()) ctx.timer_service().delete_event_time_timer(*l);
                         last.update(*ctx.timestamp() + 10);
                         ctx.timer_service().register_event_time_timer(*ctx.timestamp() + 10);
                       }
                       void on_timer(int64_t, OnTimerContext& ctx, weir::Collector<std::pair<std::string, int64_t>>& out) override {
                         out.collect({ctx.get_current_key(), *count.value()});
                       }
                     };
                     return Final{};
                   }())
                   .execute_and_collect();
    std::map<std::string, int64_t> got_map;
    for (auto& [k, c] : got) {
      EXPECT_EQ(got_map.count(k), 0u) << "one timer per key at the end, key " << k;
      got_map[k] = c;
    }
    EXPECT_EQ(got_map, want) << "parallelism " << p;
  }
}

/// Keyed connect: both inputs share a key's state and timers.
struct Enrich : weir::KeyedCoProcessFunction<std::string, Ev, std::pair<std::string, int64_t>, std::string> {
  weir::ValueState<int64_t> rate;
  void open(weir::RuntimeContext& rc) override { rate = rc.get_state(weir::ValueStateDescriptor<int64_t>("rate")); }
  void process_element1(const Ev& e, Context& ctx, weir::Collector<std::string>& out) override {
    if (auto r = rate.value()) {
      out.collect(e.key + ":" + std::to_string(e.value * *r));
    } else {
      ctx.timer_service().register_event_time_timer(*ctx.timestamp() + 1);
    }
  }
  void process_element2(const std::pair<std::string, int64_t>& r, Context&, weir::Collector<std::string>&) override {
    rate.update(r.second);
  }
  void on_timer(int64_t ts, OnTimerContext& ctx, weir::Collector<std::string>& out) override {
    out.collect(ctx.get_current_key() + ":missing@" + std::to_string(ts));
  }
};

TEST(KeyedCoProcessFunction, BothInputsOfAKeyShareStateAndTimers) {
  auto env = make_env(1);
  auto a = env.from_elements(Ev{}).key_by([](const Ev& e) { return e.key; });
  auto b = env.from_elements(std::pair<std::string, int64_t>{}).key_by([](const std::pair<std::string, int64_t>& p) { return p.first; });
  auto s = a.connect(b).process(Enrich{});
  weir::testing::TwoInputHarness<Ev, std::pair<std::string, int64_t>, std::string> h(s);
  h.open();
  h.process_element2({"x", 3}, 5);
  h.process_element1(Ev{"x", 10, 7}, 10);
  h.process_element1(Ev{"y", 11, 7}, 11);
  h.process_watermark1(100);
  EXPECT_TRUE(h.watermarks().empty()) << "the second input's watermark still holds the operator back";
  h.process_watermark2(100);
  auto r = h.records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, "x:21");
  EXPECT_EQ(r[0].timestamp, 10);
  EXPECT_EQ(r[1].value, "y:missing@12");
  EXPECT_EQ(r[1].timestamp, 12);
  EXPECT_EQ(h.watermarks(), (std::vector<int64_t>{100}));
}

TEST(Timers, NonKeyedProcessFunctionRefusesTimersWithAClearError) {
  struct P : weir::ProcessFunction<int64_t, int64_t> {
    void process_element(const int64_t& x, Context& ctx, weir::Collector<int64_t>&) override {
      ctx.timer_service().register_event_time_timer(x);
    }
  };
  auto env = make_env(1);
  env.from_sequence(1, 10).process(P{}).name("timed").print();
  try {
    env.execute();
    FAIL();
  } catch (const weir::JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("timers are only supported on keyed streams"), std::string::npos) << e.what();
  }
}

// ---- idleness ------------------------------------------------------------------------------------

/// Split 0 keeps producing; split 1 produces one record then nothing (never ends).
class OneQuietSplit final : public weir::Source<Ev> {
 public:
  explicit OneQuietSplit(std::shared_ptr<std::atomic<bool>> stop) : stop_(std::move(stop)) {}
  int num_splits(int) const override { return 2; }
  std::unique_ptr<weir::SplitReader<Ev>> create_reader(int split, int) const override {
    struct Reader final : weir::SplitReader<Ev> {
      int split;
      int64_t next = 0;
      std::shared_ptr<std::atomic<bool>> stop;
      Status read(std::size_t max, weir::SourceOutput<Ev>& out) override {
        if (stop->load()) return Status::kEndOfSplit;
        if (split == 1) {
          if (next++ == 0) out.collect(Ev{"q", 0, 1}, 0);
          return Status::kNothingAvailable;
        }
        for (std::size_t i = 0; i < std::min<std::size_t>(max, 10); ++i, ++next) out.collect(Ev{"busy", next * 10, 1}, next * 10);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        return Status::kMoreAvailable;
      }
    };
    auto r = std::make_unique<Reader>();
    r->split = split;
    r->stop = stop_;
    return r;
  }

 private:
  std::shared_ptr<std::atomic<bool>> stop_;
};

TEST(Watermarks, IdleSplitStopsHoldingBackTheWatermarkAndWindowsFire) {
  auto env = make_env(1);
  auto clock = std::make_shared<weir::ManualClock>(0);
  env.set_clock(clock);
  auto stop = std::make_shared<std::atomic<bool>>(false);
  auto fired = std::make_shared<std::atomic<int>>(0);
  env.from_source(OneQuietSplit(stop),
                  weir::WatermarkStrategy<Ev>::for_monotonous_timestamps().with_idleness(1000ms), "quiet")
      .key_by([](const Ev& e) { return e.key; })
      .window(weir::TumblingEventTimeWindows::of(100ms))
      .reduce([](const Ev& a, const Ev& b) { return Ev{a.key, a.ts, a.value + b.value}; })
      .add_sink([fired](const Ev& e) {
        if (e.key == "busy") fired->fetch_add(1);
      });
  auto client = env.execute_async("idle");
  // Without idleness the quiet split's watermark (−1) holds everything; advance processing
  // time past the idleness timeout in periodic steps.
  for (int i = 0; i < 200 && fired->load() == 0; ++i) {
    clock->advance(200);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(fired->load(), 0) << "windows of the busy split must fire once the quiet split is idle";
  stop->store(true);
  clock->advance(200);
  client.wait();
}


/// A stateful generator that is no WatermarkGenerator<Ev> subclass: emits, periodically, the
/// highest timestamp seen minus one, and a watermark from on_event for records marked value 99.
struct MaxMinusOne {
  int64_t max_ts = std::numeric_limits<int64_t>::min() + 1;
  void on_event(const Ev& e, int64_t ts, weir::WatermarkOutput& out) {
    max_ts = std::max(max_ts, ts);
    if (e.value == 99) out.emit_watermark(weir::Watermark(ts));
  }
  void on_periodic_emit(weir::WatermarkOutput& out) { out.emit_watermark(weir::Watermark(max_ts - 1)); }
};

/// The same behaviour as a WatermarkGenerator<Ev> subclass.
struct MaxMinusOneDerived final : weir::WatermarkGenerator<Ev> {
  MaxMinusOne g;
  void on_event(const Ev& e, int64_t ts, weir::WatermarkOutput& out) override { g.on_event(e, ts, out); }
  void on_periodic_emit(weir::WatermarkOutput& out) override { g.on_periodic_emit(out); }
};

std::vector<int64_t> watermarks_of(const weir::WatermarkStrategy<Ev>& strategy) {
  auto env = make_env(1);
  auto s = env.from_elements(Ev{}).assign_timestamps_and_watermarks(
      strategy.with_timestamp_assigner([](const Ev& e, int64_t) { return e.ts; }));
  OneInputHarness<Ev, Ev> h(s, 0, 1, 128, /*auto_watermark_interval=*/100);
  h.open();
  h.process_element(Ev{"a", 1000, 1});
  h.process_element(Ev{"a", 1500, 1});
  h.set_processing_time(100);
  h.process_element(Ev{"a", 1700, 99});
  h.process_element(Ev{"a", 1600, 1});
  h.set_processing_time(200);
  return h.watermarks();
}

TEST(Watermarks, ForGeneratorAcceptsAGeneratorByValueOrInAUniquePtr) {
  // The factory may return the generator by value (the documented form, which did not compile),
  // a unique_ptr to a WatermarkGenerator<T> subclass, or a unique_ptr to any type with the two
  // members; each subtask gets a fresh generator whose state persists between calls.
  const std::vector<int64_t> expected{1499, 1700};
  using S = weir::WatermarkStrategy<Ev>;
  EXPECT_EQ(watermarks_of(S::for_generator([] { return MaxMinusOne{}; })), expected) << "plain type by value";
  EXPECT_EQ(watermarks_of(S::for_generator([] { return MaxMinusOneDerived{}; })), expected) << "subclass by value";
  EXPECT_EQ(watermarks_of(S::for_generator([] { return std::make_unique<MaxMinusOneDerived>(); })), expected)
      << "unique_ptr to a subclass";
  EXPECT_EQ(watermarks_of(S::for_generator([] { return std::make_unique<MaxMinusOne>(); })), expected)
      << "unique_ptr to a plain type";
  // One strategy, two generators: state is not shared between them.
  auto strategy = S::for_generator([] { return MaxMinusOne{}; });
  EXPECT_EQ(watermarks_of(strategy), expected);
  EXPECT_EQ(watermarks_of(strategy), expected);
}

}  // namespace
