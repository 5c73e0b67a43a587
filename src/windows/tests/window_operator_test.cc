// The window operator driven by hand through the one-operator harness: out-of-order input,
// lateness, session merges, triggers, evictors, processing time.
#include <gtest/gtest.h>

#include <map>

#include "weir/testing/harness.hpp"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using weir::testing::OneInputHarness;
using KV = std::pair<std::string, int64_t>;

weir::KeyedStream<KV, std::string> keyed_input() {
  static auto env = weir::StreamExecutionEnvironment::create();
  return env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
}

KV sum(const KV& a, const KV& b) { return {a.first, a.second + b.second}; }

template <class T>
std::vector<std::pair<T, int64_t>> with_ts(const std::vector<weir::testing::Record<T>>& rs) {
  std::vector<std::pair<T, int64_t>> out;
  for (auto& r : rs) out.push_back({r.value, r.timestamp.value_or(-1)});
  return out;
}

TEST(WindowOperator, TumblingWindowFiresAtWatermarkWithMaxTimestampDespiteOutOfOrderInput) {
  auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.process_element({"a", 1}, 1500);
  h.process_element({"a", 2}, 500);   // out of order, earlier window
  h.process_element({"b", 10}, 999);
  h.process_element({"a", 4}, 1999);
  h.process_element({"a", 8}, 1000);
  h.process_watermark(998);
  EXPECT_TRUE(h.records().empty());
  h.process_watermark(999);
  auto r = with_ts(h.records());
  std::sort(r.begin(), r.end());
  EXPECT_EQ(r, (std::vector<std::pair<KV, int64_t>>{{{"a", 2}, 999}, {{"b", 10}, 999}}));
  h.clear_output();
  h.process_watermark(2000);
  EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<KV, int64_t>>{{{"a", 13}, 1999}}));
  EXPECT_LE(h.op().keyed_state_keys(), 1u) << "fired windows free their state (the current key may keep its slot)";
}

TEST(WindowOperator, SlidingAggregateStateIsPerKeyAndOpenWindowNotPerRecord) {
  auto s = keyed_input()
               .window(weir::SlidingEventTimeWindows::of(1000ms, 100ms))
               .aggregate([] {
                 struct Count {
                   int64_t create_accumulator() const { return 0; }
                   int64_t add(const KV&, int64_t a) const { return a + 1; }
                   int64_t get_result(const int64_t& a) const { return a; }
                   int64_t merge(int64_t a, int64_t b) const { return a + b; }
                 };
                 return Count{};
               }());
  OneInputHarness<KV, int64_t> h(s);
  h.open();
  for (int64_t t = 0; t < 100'000; ++t) h.process_element({"k" + std::to_string(t % 10), 1}, t / 100);  // 100 records per ms
  // 10 keys; event time 0..999 ms lies in 19 open windows, made of 10 slices of 100 ms: one
  // accumulator per key and slice, whatever the record count
  EXPECT_EQ(h.op().keyed_state_keys(), 10u);
  EXPECT_EQ(h.op().keyed_state_entries(), 10u * 10u);
  h.process_watermark(weir::kMaxWatermark);
  int64_t total = 0;
  for (auto v : h.extract_output_values()) total += v;
  EXPECT_EQ(total, 100'000 * 10) << "each record counted once in each of its 10 windows";
  EXPECT_LE(h.op().keyed_state_keys(), 1u);
}

TEST(WindowOperator, TumblingWindowWithOffsetShiftsBoundaries) {
  auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms, 100ms)).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.process_element({"a", 1}, 99);   // window [-900, 100)
  h.process_element({"a", 2}, 100);  // window [100, 1100)
  h.process_watermark(1099);
  EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<KV, int64_t>>{{{"a", 1}, 99}, {{"a", 2}, 1099}}));
}

TEST(WindowOperator, LateElementWithinAllowedLatenessRefiresAndBeyondGoesToSideOutput) {
  const weir::OutputTag<KV> late("late");
  auto s = keyed_input()
               .window(weir::TumblingEventTimeWindows::of(1000ms))
               .allowed_lateness(500ms)
               .side_output_late_data(late)
               .reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.capture_side_output(late);
  h.open();
  h.process_element({"a", 1}, 100);
  h.process_watermark(1000);  // fires [0, 1000)
  EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<KV, int64_t>>{{{"a", 1}, 999}}));
  h.process_element({"a", 5}, 200);  // late but within lateness: fires again with the update
  EXPECT_EQ(with_ts(h.records()).back(), (std::pair<KV, int64_t>{{"a", 6}, 999}));
  h.process_watermark(1499);  // cleanup at 999 + 500 = 1499
  h.process_element({"a", 7}, 300);  // beyond lateness: side output, no firing
  EXPECT_EQ(h.records().size(), 2u);
  auto l = h.side_output(late);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].value, (KV{"a", 7}));
  EXPECT_EQ(l[0].timestamp, 300);
}

TEST(WindowOperator, LateElementWithoutLatenessIsDropped) {
  auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.process_watermark(5000);
  h.process_element({"a", 1}, 100);
  h.process_watermark(6000);
  EXPECT_TRUE(h.records().empty());
}

struct CountAgg {
  int64_t create_accumulator() const { return 0; }
  int64_t add(const KV& v, int64_t acc) const { return acc + v.second; }
  int64_t get_result(const int64_t& acc) const { return acc; }
  int64_t merge(int64_t a, int64_t b) const { return a + b; }
};

TEST(WindowOperator, SlidingWindowsMatchReferenceForSeveralSizes) {
  for (auto [size, slide] : std::vector<std::pair<int64_t, int64_t>>{{1000, 500}, {1000, 1000}, {3000, 1000}, {1000, 300}}) {
    auto s = keyed_input()
                 .window(weir::SlidingEventTimeWindows::of(std::chrono::milliseconds(size), std::chrono::milliseconds(slide)))
                 .aggregate(CountAgg{});
    OneInputHarness<KV, int64_t> h(s);
    h.open();
    std::map<int64_t, int64_t> want;  // window end -> sum
    for (int64_t t = 0; t < 5000; t += 37) {
      const int64_t v = t % 11;
      h.process_element({"k", v}, t);
      for (int64_t start = t - ((t % slide) + slide) % slide; start > t - size; start -= slide) want[start + size] += v;
    }
    h.process_watermark(weir::kMaxWatermark);
    std::map<int64_t, int64_t> got;
    for (auto& r : h.records()) got[*r.timestamp + 1] += r.value;
    EXPECT_EQ(got, want) << "size " << size << " slide " << slide;
  }
}

TEST(WindowOperator, SlicedSlidingWindowsGiveTheSameOutputAsPerWindowStateWithLateData) {
  // The default trigger uses shared slices; an explicit EventTimeTrigger keeps per-window state.
  // Both must emit the same records, in the same order, with the same late-data side output.
  for (auto [size, slide, lateness] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1000, 300, 0}, {1000, 250, 400}, {600, 400, 0}, {900, 300, 1000}}) {
    const weir::OutputTag<KV> late("late");
    auto make = [&](bool sliced) {
      auto w = keyed_input().window(weir::SlidingEventTimeWindows::of(std::chrono::milliseconds(size), std::chrono::milliseconds(slide)));
      w.allowed_lateness(std::chrono::milliseconds(lateness)).side_output_late_data(late);
      if (!sliced) w.trigger(weir::EventTimeTrigger::create());
      return w.reduce(sum);
    };
    OneInputHarness<KV, KV> sliced(make(true));
    OneInputHarness<KV, KV> plain(make(false));
    for (auto* h : {&sliced, &plain}) {
      h->capture_side_output(late);
      h->open();
    }
    uint64_t x = 42;
    int64_t wm = -1;
    for (int i = 0; i < 3000; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const int64_t ts = i * 5 - static_cast<int64_t>((x >> 33) % 3500);  // up to 3.5 s out of order
      const KV kv{"k" + std::to_string((x >> 20) % 4), static_cast<int64_t>((x >> 40) % 100)};
      for (auto* h : {&sliced, &plain}) h->process_element(kv, ts);
      if (i % 50 == 0 && i * 5 - 800 > wm) {
        wm = i * 5 - 800;
        for (auto* h : {&sliced, &plain}) h->process_watermark(wm);
      }
    }
    for (auto* h : {&sliced, &plain}) h->process_watermark(weir::kMaxWatermark);
    EXPECT_EQ(with_ts(sliced.records()), with_ts(plain.records())) << size << "/" << slide << "/" << lateness;
    EXPECT_EQ(sliced.side_output(late), plain.side_output(late));
    EXPECT_FALSE(sliced.side_output(late).empty()) << "the input has data beyond the lateness";
  }
}

TEST(WindowOperator, SessionWindowsMergeAndLateRecordBridgesTwoSessions) {
  auto s = keyed_input().window(weir::EventTimeSessionWindows::with_gap(100ms)).allowed_lateness(1000ms).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.process_element({"a", 1}, 0);    // [0, 100)
  h.process_element({"a", 2}, 50);   // merges: [0, 150)
  h.process_element({"a", 4}, 300);  // new session [300, 400)
  h.process_element({"b", 8}, 60);   // other key
  h.process_watermark(200);          // fires a:[0,150) and b:[60,160)
  auto r = with_ts(h.records());
  std::sort(r.begin(), r.end());
  EXPECT_EQ(r, (std::vector<std::pair<KV, int64_t>>{{{"a", 3}, 149}, {{"b", 8}, 159}}));
  h.clear_output();
  // A late record at 200 touches [0,150)? No: [200,300) touches [300,400) and [0,150) is 50 away.
  // One at 140 bridges: [140,240) touches [0,150); then 220 -> [220,320) touches both.
  h.process_element({"a", 16}, 220);  // [220,320) merges with [300,400) -> [220,400)
  h.process_element({"a", 32}, 140);  // [140,240) merges [0,150) and [220,400) -> [0,400)
  EXPECT_TRUE(h.records().empty()) << "the merged window ends after the watermark: no firing yet";
  h.process_watermark(399);
  EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<KV, int64_t>>{{{"a", 55}, 399}}));
}

TEST(WindowOperator, DynamicGapSessionsUseTheElementsGap) {
  auto s = keyed_input()
               .window(weir::EventTimeSessionWindows::with_dynamic_gap([](const KV& kv) { return kv.second * 10; }))
               .reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.process_element({"a", 10}, 0);   // [0, 100)
  h.process_element({"a", 1}, 150);  // [150, 160)
  h.process_watermark(1000);
  EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<KV, int64_t>>{{{"a", 10}, 99}, {{"a", 1}, 159}}));
}

TEST(WindowOperator, CountWindowsTumbleAndSlide) {
  {
    auto s = keyed_input().count_window(3).reduce(sum);
    OneInputHarness<KV, KV> h(s);
    h.open();
    for (int i = 1; i <= 7; ++i) h.process_element({"a", i});
    EXPECT_EQ(h.extract_output_values(), (std::vector<KV>{{"a", 6}, {"a", 15}}));
  }
  {
    auto s = keyed_input().count_window(3, 2).reduce(sum);  // last 3 elements every 2
    OneInputHarness<KV, KV> h(s);
    h.open();
    for (int i = 1; i <= 6; ++i) h.process_element({"a", i});
    EXPECT_EQ(h.extract_output_values(), (std::vector<KV>{{"a", 1 + 2}, {"a", 2 + 3 + 4}, {"a", 4 + 5 + 6}}));
  }
}

TEST(WindowOperator, PurgingCountTriggerOnTumblingWindowFiresEveryNElements) {
  auto s = keyed_input()
               .window(weir::TumblingEventTimeWindows::of(1000ms))
               .trigger(weir::PurgingTrigger::of(weir::CountTrigger::of(2)))
               .reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  for (int i = 1; i <= 5; ++i) h.process_element({"a", i}, 10 * i);
  EXPECT_EQ(h.extract_output_values(), (std::vector<KV>{{"a", 3}, {"a", 7}}));
  h.process_watermark(5000);  // the count trigger ignores time
  EXPECT_EQ(h.extract_output_values().size(), 2u);
}

TEST(WindowOperator, ContinuousEventTimeTriggerFiresEveryIntervalAndAtTheEnd) {
  auto s = keyed_input()
               .window(weir::TumblingEventTimeWindows::of(1000ms))
               .trigger(weir::ContinuousEventTimeTrigger::of(300ms))
               .reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.process_element({"a", 1}, 10);
  h.process_watermark(300);
  h.process_element({"a", 2}, 400);
  h.process_watermark(600);
  h.process_watermark(999);
  EXPECT_EQ(with_ts(h.records()),
            (std::vector<std::pair<KV, int64_t>>{{{"a", 1}, 999}, {{"a", 3}, 999}, {{"a", 3}, 999}, {{"a", 3}, 999}}));
}

TEST(WindowOperator, EvictorsRemoveElementsBeforeTheFunction) {
  {
    auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).evictor(weir::CountEvictor::of(2)).reduce(sum);
    OneInputHarness<KV, KV> h(s);
    h.open();
    for (int i = 1; i <= 4; ++i) h.process_element({"a", i}, 100 * i);
    h.process_watermark(999);
    EXPECT_EQ(h.extract_output_values(), (std::vector<KV>{{"a", 7}}));
  }
  {
    auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).evictor(weir::TimeEvictor::of(150ms)).reduce(sum);
    OneInputHarness<KV, KV> h(s);
    h.open();
    for (int i = 1; i <= 4; ++i) h.process_element({"a", i}, 100 * i);  // keeps ts > 400 - 150
    h.process_watermark(999);
    EXPECT_EQ(h.extract_output_values(), (std::vector<KV>{{"a", 3 + 4}}));
  }
}

struct Describe : weir::ProcessWindowFunction<KV, std::string, std::string, weir::TimeWindow> {
  void process(const std::string& key, Context& ctx, const std::vector<KV>& elements, weir::Collector<std::string>& out) override {
    int64_t total = 0;
    for (auto& e : elements) total += e.second;
    out.collect(key + "[" + std::to_string(ctx.window().start()) + "," + std::to_string(ctx.window().end()) + ")=" +
                std::to_string(total) + "#" + std::to_string(elements.size()));
  }
};

TEST(WindowOperator, ProcessWindowFunctionSeesAllElementsOrTheIncrementalResultWithTheWindow) {
  {
    auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).process(Describe{});
    OneInputHarness<KV, std::string> h(s);
    h.open();
    h.process_element({"a", 1}, 10);
    h.process_element({"a", 2}, 20);
    h.process_watermark(999);
    EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<std::string, int64_t>>{{"a[0,1000)=3#2", 999}}));
  }
  {
    auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).reduce(sum, Describe{});
    OneInputHarness<KV, std::string> h(s);
    h.open();
    h.process_element({"a", 1}, 10);
    h.process_element({"a", 2}, 20);
    h.process_watermark(999);
    EXPECT_EQ(h.extract_output_values(), (std::vector<std::string>{"a[0,1000)=3#1"}));
  }
  {
    struct Wrap : weir::ProcessWindowFunction<int64_t, std::string, std::string, weir::TimeWindow> {
      void process(const std::string& key, Context& ctx, const std::vector<int64_t>& e, weir::Collector<std::string>& out) override {
        out.collect(key + "@" + std::to_string(ctx.window().max_timestamp()) + "=" + std::to_string(e.at(0)));
      }
    };
    auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).aggregate(CountAgg{}, Wrap{});
    OneInputHarness<KV, std::string> h(s);
    h.open();
    h.process_element({"a", 5}, 10);
    h.process_element({"a", 6}, 20);
    h.process_watermark(999);
    EXPECT_EQ(h.extract_output_values(), (std::vector<std::string>{"a@999=11"}));
  }
}

TEST(WindowOperator, ProcessingTimeWindowsFireOnTheManualClock) {
  auto s = keyed_input().window(weir::TumblingProcessingTimeWindows::of(100ms)).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  h.set_processing_time(10);
  h.process_element({"a", 1});
  h.process_element({"a", 2});
  h.set_processing_time(98);
  EXPECT_TRUE(h.records().empty());
  h.set_processing_time(99);  // the window's max timestamp
  EXPECT_EQ(with_ts(h.records()), (std::vector<std::pair<KV, int64_t>>{{{"a", 3}, 99}}));
  h.set_processing_time(150);
  h.process_element({"a", 4});  // window [100, 200)
  h.set_processing_time(250);
  EXPECT_EQ(with_ts(h.records()).back(), (std::pair<KV, int64_t>{{"a", 4}, 199}));
}

/// A user trigger: fires when an element's value is negative, purging the window.
struct FireOnNegative : weir::Trigger<KV, weir::GlobalWindow> {
  weir::TriggerResult on_element(const KV& e, int64_t, const weir::GlobalWindow&, weir::TriggerContext<weir::GlobalWindow>&) override {
    return e.second < 0 ? weir::TriggerResult::FIRE_AND_PURGE : weir::TriggerResult::CONTINUE;
  }
  weir::TriggerResult on_event_time(int64_t, const weir::GlobalWindow&, weir::TriggerContext<weir::GlobalWindow>&) override {
    return weir::TriggerResult::CONTINUE;
  }
  weir::TriggerResult on_processing_time(int64_t, const weir::GlobalWindow&, weir::TriggerContext<weir::GlobalWindow>&) override {
    return weir::TriggerResult::CONTINUE;
  }
  void clear(const weir::GlobalWindow&, weir::TriggerContext<weir::GlobalWindow>&) override {}
};

TEST(WindowOperator, GlobalWindowsWithAUserTrigger) {
  auto s = keyed_input().window(weir::GlobalWindows::create()).trigger(FireOnNegative{}).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  for (int64_t v : {1, 2, -10, 5, -1}) h.process_element({"a", v});
  auto r = h.records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, (KV{"a", -7}));
  EXPECT_EQ(r[0].timestamp, std::numeric_limits<int64_t>::max()) << "a GlobalWindow's max timestamp";
  EXPECT_EQ(r[1].value, (KV{"a", 4}));
}

TEST(WindowOperator, RecordWithoutTimestampInEventTimeWindowFailsClearly) {
  auto s = keyed_input().window(weir::TumblingEventTimeWindows::of(1000ms)).reduce(sum);
  OneInputHarness<KV, KV> h(s);
  h.open();
  try {
    h.process_element({"a", 1});
    FAIL();
  } catch (const weir::OperatorFailure& e) {
    EXPECT_NE(std::string(e.what()).find("assign_timestamps_and_watermarks"), std::string::npos);
  }
}

}  // namespace
