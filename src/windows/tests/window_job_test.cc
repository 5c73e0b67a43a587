// Windowed jobs at parallelism 1, 2 and 4 compared with a sequential reference. Input is out of
// order by at most D and the watermark bound is D, so no record is late whatever the timing.
#include <gtest/gtest.h>

#include <map>

#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;

struct Bid {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t ts = 0;
  bool operator==(const Bid&) const = default;
};

}  // namespace
WEIR_SERDE(Bid, auction, price, ts)

namespace {

constexpr int64_t kDisorder = 50;

Bid bid(int64_t i) {
  // event time advances 3 ms per record, shuffled within kDisorder
  const int64_t jitter = static_cast<int64_t>((static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull >> 40) % kDisorder);
  return Bid{i % 37, i % 101, i * 3 + jitter};
}

struct SumCount {
  std::pair<int64_t, int64_t> create_accumulator() const { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const Bid& b, std::pair<int64_t, int64_t> acc) const {
    return {acc.first + b.price, acc.second + 1};
  }
  std::pair<int64_t, int64_t> get_result(const std::pair<int64_t, int64_t>& acc) const { return acc; }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a, std::pair<int64_t, int64_t> b) const {
    return {a.first + b.first, a.second + b.second};
  }
};

/// (auction, window end) -> (sum, count)
using Result = std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>>;

struct Tag : weir::ProcessWindowFunction<std::pair<int64_t, int64_t>, std::tuple<int64_t, int64_t, int64_t, int64_t>, int64_t, weir::TimeWindow> {
  void process(const int64_t& key, Context& ctx, const std::vector<std::pair<int64_t, int64_t>>& e,
               weir::Collector<std::tuple<int64_t, int64_t, int64_t, int64_t>>& out) override {
    out.collect({key, ctx.window().end(), e[0].first, e[0].second});
  }
};

template <class A>
Result run(int p, A assigner, int64_t n) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p);
  auto got = env.from_generator(n, bid)
                 .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Bid>::for_bounded_out_of_orderness(std::chrono::milliseconds(kDisorder))
                                                       .with_timestamp_assigner([](const Bid& b, int64_t) { return b.ts; }))
                 .key_by([](const Bid& b) { return b.auction; })
                 .window(assigner)
                 .aggregate(SumCount{}, Tag{})
                 .execute_and_collect();
  Result r;
  for (auto& [k, end, sum, count] : got) {
    auto [it, inserted] = r.emplace(std::pair{k, end}, std::pair{sum, count});
    EXPECT_TRUE(inserted) << "window fired twice: key " << k << " end " << end;
  }
  return r;
}

Result reference(int64_t n, int64_t size, int64_t slide) {
  Result r;
  for (int64_t i = 0; i < n; ++i) {
    const Bid b = bid(i);
    const int64_t last = b.ts - ((b.ts % slide) + slide) % slide;
    for (int64_t start = last; start > b.ts - size; start -= slide) {
      auto& v = r[{b.auction, start + size}];
      v.first += b.price;
      v.second += 1;
    }
  }
  return r;
}

class WindowJob : public ::testing::TestWithParam<int> {};

TEST_P(WindowJob, TumblingWindowsMatchReference) {
  EXPECT_EQ(run(GetParam(), weir::TumblingEventTimeWindows::of(200ms), 20'000), reference(20'000, 200, 200));
}

TEST_P(WindowJob, SlidingWindowsOfSeveralSizesMatchReference) {
  EXPECT_EQ(run(GetParam(), weir::SlidingEventTimeWindows::of(300ms, 100ms), 10'000), reference(10'000, 300, 100));
  EXPECT_EQ(run(GetParam(), weir::SlidingEventTimeWindows::of(1000ms, 250ms), 10'000), reference(10'000, 1000, 250));
  EXPECT_EQ(run(GetParam(), weir::SlidingEventTimeWindows::of(100ms, 300ms), 10'000), reference(10'000, 100, 300));
}

TEST_P(WindowJob, SessionWindowsMatchReference) {
  // Per auction, records arrive every 37*3 = 111 ms of event time, except for pauses; sessions
  // with a 150 ms gap break at the pauses.
  auto gen = [](int64_t i) {
    const int64_t t = i * 3 + (i / 2000) * 1000;  // a 1 s pause every 2000 records
    return Bid{i % 37, 1, t};
  };
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam());
  auto got = env.from_generator(10'000, gen)
                 .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Bid>::for_monotonous_timestamps().with_timestamp_assigner(
                     [](const Bid& b, int64_t) { return b.ts; }))
                 .key_by([](const Bid& b) { return b.auction; })
                 .window(weir::EventTimeSessionWindows::with_gap(150ms))
                 .aggregate(SumCount{}, Tag{})
                 .execute_and_collect();
  // reference: sessions per auction
  std::map<int64_t, std::vector<int64_t>> times;
  for (int64_t i = 0; i < 10'000; ++i) times[gen(i).auction].push_back(gen(i).ts);
  Result want;
  for (auto& [a, ts] : times) {
    std::sort(ts.begin(), ts.end());
    int64_t count = 0, last = ts.front();
    for (std::size_t i = 0; i < ts.size(); ++i) {
      if (i > 0 && ts[i] >= last + 150) {
        want[{a, last + 150}] = {count, count};
        count = 0;
      }
      ++count;
      last = ts[i];
    }
    want[{a, last + 150}] = {count, count};
  }
  Result r;
  for (auto& [k, end, sum, count] : got) r[{k, end}] = {sum, count};
  EXPECT_EQ(r, want);
}

TEST_P(WindowJob, WindowAllRunsOnOneSubtaskAndMatchesReference) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam());
  auto got = env.from_generator(5000, bid)
                 .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Bid>::for_bounded_out_of_orderness(std::chrono::milliseconds(kDisorder))
                                                       .with_timestamp_assigner([](const Bid& b, int64_t) { return b.ts; }))
                 .window_all(weir::TumblingEventTimeWindows::of(1000ms))
                 .reduce([](const Bid& a, const Bid& b) { return Bid{0, a.price + b.price, std::max(a.ts, b.ts)}; })
                 .execute_and_collect();
  std::map<int64_t, int64_t> want;
  for (int64_t i = 0; i < 5000; ++i) want[bid(i).ts / 1000] += bid(i).price;
  std::map<int64_t, int64_t> have;
  for (auto& b : got) have[b.ts / 1000] += b.price;
  EXPECT_EQ(have, want);
  EXPECT_EQ(got.size(), want.size());
}

INSTANTIATE_TEST_SUITE_P(Parallelism, WindowJob, ::testing::Values(1, 2, 4));

}  // namespace
