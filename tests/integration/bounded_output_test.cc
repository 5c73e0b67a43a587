// Output between tasks is bounded in bytes whatever the record size (a producer stops between
// two records once a channel is full), and a partly filled batch does not wait longer than the
// buffer timeout when the input never runs dry.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

namespace {

constexpr std::size_t kMB = 1 << 20;

/// A record of `size` bytes whose first 12 characters hold `index`.
std::string big_record(int64_t index, std::size_t size) {
  std::string s(size, static_cast<char>('a' + index % 26));
  char head[16];
  std::snprintf(head, sizeof head, "%012lld", static_cast<long long>(index));
  s.replace(0, 12, head, 12);
  return s;
}
int64_t index_of(const std::string& s) { return std::stoll(s.substr(0, 12)); }

/// What reached the sink: the indices in arrival order, and the sizes seen.
struct Arrivals {
  std::shared_ptr<std::vector<int64_t>> indices = std::make_shared<std::vector<int64_t>>();
  std::shared_ptr<std::atomic<std::size_t>> bytes = std::make_shared<std::atomic<std::size_t>>(0);
  auto sink() const {
    return [indices = indices, bytes = bytes](const std::string& s) {
      indices->push_back(index_of(s));
      bytes->fetch_add(s.size());
    };
  }
  void expect_all_in_order(int64_t n) const {
    ASSERT_EQ(static_cast<int64_t>(indices->size()), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ((*indices)[static_cast<std::size_t>(i)], i) << "record out of order";
  }
};

TEST(ChannelMemory, SourceOfOneMegabyteRecordsQueuesAFewMegabytesNotTheInput) {
  // 1,500 records of 1 MB from one source subtask through one channel: the source used to emit
  // a whole step (1,024 records, 1 GB) before it looked at the channel again.
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1).set_worker_threads(2);
  Arrivals got;
  env.from_generator(1500, [](int64_t i) { return big_record(i, kMB); })
      .rebalance()
      .add_sink(got.sink());
  auto client = env.execute_async("big records");
  client.wait();
  got.expect_all_in_order(1500);
  EXPECT_EQ(got.bytes->load(), 1500 * kMB);
  // Capacity (256 KiB) plus what one push can exceed it by: one record that does not fit.
  EXPECT_LE(client.peak_queued_bytes(), 3 * kMB);
  EXPECT_GE(client.peak_queued_bytes(), kMB);
}

TEST(ChannelMemory, SourceWhoseRecordsGrowSuddenlyStopsBetweenRecords) {
  // 5,000 small records let a source step grow to its full size; then come 400 records of
  // 1 MB. A step is sized from the records seen so far, so only the room check between two
  // records keeps the channel bounded.
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1).set_worker_threads(2);
  Arrivals got;
  env.from_generator(5400, [](int64_t i) { return big_record(i, i < 5000 ? 16 : kMB); })
      .rebalance()
      .add_sink(got.sink());
  auto client = env.execute_async("growing records");
  client.wait();
  got.expect_all_in_order(5400);
  EXPECT_LE(client.peak_queued_bytes(), 3 * kMB);
}

TEST(ChannelMemory, OperatorThatEnlargesRecordsStopsInTheMiddleOfAnInputBatch) {
  // A flat_map task turns each small input record into two records of 512 KB: one input batch
  // (up to 1,024 records) used to be fed whole, emitting up to 1 GB into its output channel.
  for (int p : {1, 2}) {
    SCOPED_TRACE("parallelism " + std::to_string(p));
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p).set_worker_threads(2);
    auto count = std::make_shared<std::atomic<int64_t>>(0);
    auto sum = std::make_shared<std::atomic<int64_t>>(0);
    auto per_key_order_ok = std::make_shared<std::atomic<bool>>(true);
    auto seen = std::make_shared<std::array<std::atomic<bool>, 1500>>();
    for (auto& b : *seen) b.store(false);
    env.from_sequence(0, 1499)
        .rebalance()
        .flat_map([](const int64_t& i, weir::Collector<std::string>& out) {
          out.collect(big_record(2 * i, kMB / 2));
          out.collect(big_record(2 * i + 1, kMB / 2));
        })
        .key_by([](const std::string& s) { return index_of(s) / 2 % 7; })
        .map([seen, per_key_order_ok](const std::string& s) {
          // The two halves of one input travel one channel: the first arrives first.
          const int64_t i = index_of(s);
          auto& pair_seen = (*seen)[static_cast<std::size_t>(i / 2)];
          if (i % 2 == 0) pair_seen.store(true);
          else if (!pair_seen.load()) per_key_order_ok->store(false);
          return i;
        })
        .add_sink([count, sum](const int64_t& i) {
          count->fetch_add(1);
          sum->fetch_add(i);
        });
    auto client = env.execute_async("enlarging operator");
    client.wait();
    EXPECT_EQ(count->load(), 3000);
    EXPECT_EQ(sum->load(), 2999LL * 3000 / 2);
    EXPECT_TRUE(per_key_order_ok->load());
    // Channels: source → flat_map (p*p small ones), flat_map → process (p*p): each big channel
    // holds its capacity plus one record at most.
    EXPECT_LE(client.peak_queued_bytes(), static_cast<std::size_t>(p * p) * 2 * kMB) << client.peak_queued_bytes();
  }
}

// ---- buffer timeout ------------------------------------------------------------------------------

/// A source that makes one record every `gap` (waiting in the generator function, so it never
/// runs dry) and notes how many it had made when record 0 reached the sink.
struct PacedRun {
  std::shared_ptr<std::atomic<int64_t>> made = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<std::atomic<int64_t>> made_when_first_arrived = std::make_shared<std::atomic<int64_t>>(-1);
  std::shared_ptr<std::atomic<int64_t>> received = std::make_shared<std::atomic<int64_t>>(0);

  void run(weir::StreamExecutionEnvironment& env, int64_t n, std::chrono::microseconds gap,
           void (*configure)(weir::DataStream<int64_t>&) = nullptr) {
    auto made_ = made;
    auto first = made_when_first_arrived;
    auto received_ = received;
    auto src = env.from_generator(n, [made_, gap](int64_t i) {
      if (i > 0) std::this_thread::sleep_for(gap);
      made_->fetch_add(1);
      return i;
    });
    if (configure) configure(src);
    src.rebalance().add_sink([made_, first, received_](const int64_t& i) {
      if (i == 0) first->store(made_->load());
      received_->fetch_add(1);
    });
    env.execute("paced");
  }
};

TEST(BufferTimeout, PartlyFilledBatchLeavesAfterTheTimeoutWhileTheSourceKeepsProducing) {
  // 300 records 1 ms apart: a batch of 1,024 never fills, and the source never runs dry. Record
  // 0 must reach the sink long before the source is done (2 ms timeout: after a few records).
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1).set_worker_threads(2).set_buffer_timeout(2);
  PacedRun r;
  r.run(env, 300, std::chrono::microseconds(1000));
  EXPECT_EQ(r.received->load(), 300);
  EXPECT_GE(r.made_when_first_arrived->load(), 1);
  EXPECT_LT(r.made_when_first_arrived->load(), 150) << "record 0 waited for the batch to fill or the input to end";
}

TEST(BufferTimeout, DefaultTimeoutIsBelowAMillisecond) {
  auto env = weir::StreamExecutionEnvironment::create();
  EXPECT_GT(env.get_buffer_timeout().count(), 0);
  EXPECT_LT(env.get_buffer_timeout(), std::chrono::milliseconds(1));
  env.set_parallelism(1).set_worker_threads(2);
  PacedRun r;
  r.run(env, 300, std::chrono::microseconds(1000));
  EXPECT_LT(r.made_when_first_arrived->load(), 150);
}

TEST(BufferTimeout, MinusOneSendsOnlyFullBatchesAndWhatIsLeftAtTheEnd) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1).set_worker_threads(2).set_buffer_timeout(-1);
  PacedRun r;
  r.run(env, 60, std::chrono::microseconds(200));
  EXPECT_EQ(r.received->load(), 60);
  EXPECT_EQ(r.made_when_first_arrived->load(), 60) << "throughput mode: the batch leaves at the end of input";
}

TEST(BufferTimeout, PerOperatorTimeoutOverridesTheEnvironment) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1).set_worker_threads(2).set_buffer_timeout(-1);
  PacedRun r;
  r.run(env, 300, std::chrono::microseconds(1000), [](weir::DataStream<int64_t>& s) { s.set_buffer_timeout(0); });
  EXPECT_EQ(r.received->load(), 300);
  EXPECT_LT(r.made_when_first_arrived->load(), 150);
}

TEST(BufferTimeout, NegativeTimeoutOtherThanMinusOneIsRefused) {
  auto env = weir::StreamExecutionEnvironment::create();
  EXPECT_THROW(env.set_buffer_timeout(-5), weir::GraphError);
  auto s = env.from_sequence(0, 1);
  EXPECT_THROW(s.set_buffer_timeout(-2), weir::GraphError);
}

}  // namespace
