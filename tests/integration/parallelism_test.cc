// Many subtasks on few threads: tasks are actors on a worker pool, not threads.
#include <gtest/gtest.h>

#include <map>

#include "weir/weir.hpp"

namespace {

TEST(Parallelism, SixtyFourSubtasksPerOperatorRunOnTwoThreads) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(64);
  env.set_worker_threads(2);
  using KV = std::pair<int64_t, int64_t>;
  auto got = env.from_generator(200'000, [](int64_t i) { return KV{(i * 31) % 1000, i}; })
                 .key_by([](const KV& kv) { return kv.first; })
                 .reduce([](const KV& a, const KV& b) { return KV{a.first, a.second + b.second}; })
                 .rebalance()
                 .filter([](const KV&) { return true; })
                 .execute_and_collect();
  ASSERT_EQ(got.size(), 200'000u);
  std::map<int64_t, int64_t> want;
  for (int64_t i = 0; i < 200'000; ++i) want[(i * 31) % 1000] += i;
  std::map<int64_t, int64_t> last;
  for (auto& [k, v] : got) last[k] = std::max(last[k], v);
  EXPECT_EQ(last, want);
}

TEST(Parallelism, OperatorsWithDifferentParallelismAreConnectedByRebalance) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(3);
  auto got = env.from_sequence(1, 10'000)
                 .map([](const int64_t& x) { return x * 3; })
                 .set_parallelism(5)
                 .filter([](const int64_t& x) { return x % 2 == 0; })
                 .set_parallelism(2)
                 .execute_and_collect();
  int64_t sum = 0;
  for (auto v : got) sum += v;
  int64_t want = 0;
  for (int64_t x = 1; x <= 10'000; ++x)
    if (x * 3 % 2 == 0) want += x * 3;
  EXPECT_EQ(sum, want);
  EXPECT_EQ(got.size(), 5000u);
}

}  // namespace
