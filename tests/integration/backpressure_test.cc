// A slow sink parks its producers: the bytes queued between tasks stay bounded by the channel
// capacities whatever the input size, and nothing is lost.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "weir/weir.hpp"

namespace {

struct RunStats {
  std::size_t peak_queued = 0;
  int64_t received = 0;
};

RunStats run_slow_sink(int64_t records, int parallelism) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(parallelism);
  env.get_config().channel_capacity_bytes = 64 * 1024;
  auto count = std::make_shared<std::atomic<int64_t>>(0);
  env.from_generator(records, [](int64_t i) { return std::string(200, static_cast<char>('a' + i % 26)); })
      .key_by([](const std::string& s) { return s[0]; })
      .add_sink([count](const std::string& s) {
        if (count->fetch_add(1) % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      })
      .set_parallelism(1);
  auto client = env.execute_async("slow sink");
  client.wait();
  return RunStats{client.peak_queued_bytes(), count->load()};
}

TEST(Backpressure, QueuedBytesDoNotGrowWithInputSize) {
  const int p = 2;
  const auto small = run_slow_sink(20'000, p);
  const auto large = run_slow_sink(200'000, p);
  EXPECT_EQ(small.received, 20'000);
  EXPECT_EQ(large.received, 200'000);
  // 200k records of ~240 bytes is ~48 MB. A channel holds at most its capacity plus what one
  // source step (1024 records) emits after the last room check: p producers x 1 consumer.
  const std::size_t record = sizeof(std::string) + 200 + sizeof(int64_t);
  const std::size_t bound = static_cast<std::size_t>(p) * (64 * 1024 + 1024 * record);
  EXPECT_LE(large.peak_queued, bound);
  EXPECT_LE(small.peak_queued, bound);
  EXPECT_GT(large.peak_queued, 0u);
  // and the peak does not grow with the input: 10x the records, not more bytes in flight
  EXPECT_LE(large.peak_queued, small.peak_queued + small.peak_queued / 2);
}

}  // namespace
