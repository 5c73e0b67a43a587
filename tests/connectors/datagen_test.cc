// DataGeneratorSource with a rate limit (on the job's clock) and a seeded random generator per
// record: the budget is exact on a ManualClock, close to the rate on the system clock, and the
// seeded output is the same at every parallelism and across a restore.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using weir::testsupport::TempDir;

/// Waits for `pred`, failing the test after 30 s instead of hanging.
template <class P>
bool wait_until(P pred) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void wait_or_fail(weir::JobClient& client) {
  if (client.get_job_execution_result().wait_for(60s) != std::future_status::ready) {
    client.cancel();
    ADD_FAILURE() << "the job did not end";
  }
  client.wait();
}

/// Subtasks whose generator has read once (its `records` metric exists).
int started_readers(const weir::JobClient& client, const std::string& name) {
  int n = 0;
  for (const auto& t : client.metrics()) n += t.operator_metrics.count(name + ".records") ? 1 : 0;
  return n;
}

class RateLimit : public ::testing::TestWithParam<int> {};

TEST_P(RateLimit, ManualClockReleasesExactlyTheBudgetOfEachStep) {
  const int p = GetParam();
  auto clock = std::make_shared<weir::ManualClock>(0);
  auto seen = std::make_shared<std::atomic<int64_t>>(0);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(2).set_clock(clock);
  env.from_source(weir::DataGeneratorSource([](int64_t i) { return i; }, 2000, weir::RateLimiterStrategy::per_second(2000)),
                  weir::WatermarkStrategy<int64_t>::no_watermarks(), "gen")
      .add_sink([seen](const int64_t&) { seen->fetch_add(1); });
  auto client = env.execute_async("rate on a manual clock");
  ASSERT_TRUE(wait_until([&] { return started_readers(client, "gen") == p; })) << "the readers never read";
  EXPECT_EQ(seen->load(), 0) << "nothing is due at the start";
  for (int step = 1; step <= 10; ++step) {
    EXPECT_EQ(seen->load(), 200 * (step - 1)) << "no record before its time (step " << step << ")";
    clock->advance(100);  // 100 ms: 200 records over the source
    ASSERT_TRUE(wait_until([&] { return seen->load() >= 200 * step; })) << "step " << step << ": " << seen->load();
  }
  wait_or_fail(client);
  EXPECT_EQ(seen->load(), 2000);
}

TEST_P(RateLimit, ManualClockBurstAfterAStallIsCappedAtOneSecond) {
  const int p = GetParam();
  auto clock = std::make_shared<weir::ManualClock>(0);
  auto seen = std::make_shared<std::atomic<int64_t>>(0);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(2).set_clock(clock);
  env.from_source(weir::DataGeneratorSource([](int64_t i) { return i; }, 4000, weir::RateLimiterStrategy::per_second(400)),
                  weir::WatermarkStrategy<int64_t>::no_watermarks(), "gen")
      .add_sink([seen](const int64_t&) { seen->fetch_add(1); });
  auto client = env.execute_async("burst cap");
  ASSERT_TRUE(wait_until([&] { return started_readers(client, "gen") == p; }));
  clock->advance(5000);  // five seconds at once: one second's worth (400) is released
  ASSERT_TRUE(wait_until([&] { return seen->load() >= 400; }));
  clock->advance(250);  // then the rate again: 100 more
  ASSERT_TRUE(wait_until([&] { return seen->load() >= 500; }));
  EXPECT_EQ(seen->load(), 500);
  client.cancel();
  EXPECT_THROW(client.wait(), std::exception) << "canceled";
}

INSTANTIATE_TEST_SUITE_P(Parallelism, RateLimit, ::testing::Values(1, 2, 4));

TEST(RateLimitSystemClock, TwoThousandPerSecondTakesOneSecond) {
  struct Times {
    std::mutex mu;
    std::vector<std::chrono::steady_clock::time_point> at;
  };
  auto times = std::make_shared<Times>();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2).set_worker_threads(2);
  env.from_source(weir::DataGeneratorSource([](int64_t i) { return i; }, 2000, weir::RateLimiterStrategy::per_second(2000)),
                  weir::WatermarkStrategy<int64_t>::no_watermarks(), "gen")
      .map([times](const int64_t& v) {  // chained to the source: stamped when emitted
        std::lock_guard lock(times->mu);
        times->at.push_back(std::chrono::steady_clock::now());
        return v;
      })
      .add_sink([](const int64_t&) {});
  env.execute("rate on the system clock");
  ASSERT_EQ(times->at.size(), 2000u);
  std::sort(times->at.begin(), times->at.end());
  const double secs = std::chrono::duration<double>(times->at.back() - times->at.front()).count();
  // 2000 records at 2000/s: the last is due 1 s after the start (the first ones at 0.5-1 ms).
  EXPECT_GE(secs, 0.8);
  EXPECT_LE(secs, 1.2);
}

TEST(DataGenerator, TheExistingConstructorStillWorks) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(3);
  auto out = env.from_source(weir::DataGeneratorSource([](int64_t i) { return i * 2; }, 1000, 7),
                             weir::WatermarkStrategy<int64_t>::no_watermarks(), "gen")
                 .execute_and_collect();
  std::sort(out.begin(), out.end());
  ASSERT_EQ(out.size(), 1000u);
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 2 * i);
}

TEST(DataGenerator, RejectsABadRate) {
  EXPECT_THROW(weir::RateLimiterStrategy::per_second(0), weir::GraphError);
  EXPECT_THROW(weir::RateLimiterStrategy::per_second(-5), weir::GraphError);
}

struct Drawn {
  int64_t index = 0;
  uint64_t a = 0;
  int64_t b = 0;
  bool operator<(const Drawn& o) const { return index < o.index; }
  bool operator==(const Drawn&) const = default;
};
WEIR_SERDE(Drawn, index, a, b)

Drawn draw(int64_t i, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> d(0, 999);
  const uint64_t a = rng();
  return Drawn{i, a, d(rng)};
}

/// Independent of the source: record i drawn from a generator seeded from (seed, i).
std::vector<Drawn> expected_draws(int64_t n, uint64_t seed) {
  std::vector<Drawn> v;
  for (int64_t i = 0; i < n; ++i) {
    std::mt19937_64 rng(weir::detail::generator_seed(seed, i));
    v.push_back(draw(i, rng));
  }
  return v;
}

std::vector<Drawn> run_seeded(int p, int64_t n, uint64_t seed) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(2);
  auto out = env.from_source(weir::DataGeneratorSource(draw, n).with_seed(seed),
                             weir::WatermarkStrategy<Drawn>::no_watermarks(), "gen")
                 .execute_and_collect();
  std::sort(out.begin(), out.end());
  return out;
}

class Seeded : public ::testing::TestWithParam<int> {};

TEST_P(Seeded, OutputIsTheSameAtEveryParallelism) {
  const auto got = run_seeded(GetParam(), 5000, 42);
  EXPECT_EQ(got, expected_draws(5000, 42));
  EXPECT_NE(got, run_seeded(GetParam(), 5000, 43)) << "another seed, other data";
}

std::atomic<bool> g_checkpointed{false};
std::atomic<bool> g_failed{false};

TEST_P(Seeded, OutputIsTheSameAfterARestore) {
  TempDir dir;
  g_checkpointed = false;
  g_failed = false;
  const int64_t n = 20000;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.enable_checkpointing(20);
  env.set_checkpoint_storage("file://" + dir.path());
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, 10ms));
  auto out = env.from_source(weir::DataGeneratorSource(draw, n, weir::RateLimiterStrategy::per_second(20000)).with_seed(7),
                             weir::WatermarkStrategy<Drawn>::no_watermarks(), "gen")
                 .uid("gen")
                 .map([](const Drawn& d) {
                   // Fails once, past the middle, after a checkpoint is through.
                   if (d.index >= 10000 && g_checkpointed.load() && !g_failed.exchange(true)) {
                     throw std::runtime_error("injected failure");
                   }
                   return d;
                 })
                 .collect_async();
  auto client = env.execute_async("seeded with a failure");
  ASSERT_TRUE(wait_until([&] { return client.get_checkpoint_stats().completed >= 1; }));
  g_checkpointed = true;
  wait_or_fail(client);
  EXPECT_TRUE(g_failed.load()) << "the failure was never injected";
  EXPECT_EQ(client.get_restart_count(), 1);
  auto got = out.get();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected_draws(n, 7));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Seeded, ::testing::Values(1, 2, 4));

}  // namespace
