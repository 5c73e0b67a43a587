#include "runtime/channel.h"

#include <gtest/gtest.h>

#include "runtime/job_run.h"
#include "runtime/task.h"
#include "runtime/worker_pool.h"

namespace weir::runtime {
namespace {

std::unique_ptr<BatchBase> batch_of(int n) {
  auto b = std::make_unique<Batch<int64_t>>(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) b->append(int64_t{i}, kNoTimestamp);
  return b;
}

TEST(Channel, DeliversEventsInOrderAndTracksBytes) {
  ChannelStats stats;
  // Tasks are never scheduled here: their state machine only queues them on a pool we do not run.
  WorkerPool pool(0);
  Task producer(nullptr, &pool, TaskInfo{});
  Task consumer(nullptr, &pool, TaskInfo{});
  LocalChannel ch(1 << 20, &producer, &consumer.gate, 0, &stats);
  Event e;
  e.batch = batch_of(3);
  const auto bytes = e.bytes();
  ch.push(std::move(e));
  ch.push(Event::watermark(42));
  ch.push(Event::end_of_input());
  EXPECT_EQ(stats.queued.load(), bytes + 2 * sizeof(Event));
  Event out;
  ASSERT_EQ(consumer.gate.poll(out), 0);
  EXPECT_EQ(out.kind, Event::Kind::kBatch);
  EXPECT_EQ(out.batch->size(), 3u);
  ASSERT_EQ(consumer.gate.poll(out), 0);
  EXPECT_EQ(out.kind, Event::Kind::kWatermark);
  EXPECT_EQ(out.value, 42);
  ASSERT_EQ(consumer.gate.poll(out), 0);
  EXPECT_EQ(out.kind, Event::Kind::kEndOfInput);
  EXPECT_EQ(consumer.gate.poll(out), -1);
  EXPECT_EQ(stats.queued.load(), 0u);
  EXPECT_EQ(stats.peak.load(), bytes + 2 * sizeof(Event));
  pool.stop();
}

TEST(Channel, ProducerIsUnavailableAtCapacityAndAvailableBelowIt) {
  ChannelStats stats;
  WorkerPool pool(0);
  Task producer(nullptr, &pool, TaskInfo{});
  Task consumer(nullptr, &pool, TaskInfo{});
  Event probe;
  probe.batch = batch_of(100);
  const std::size_t one = probe.bytes();
  LocalChannel ch(4 * one, &producer, &consumer.gate, 0, &stats);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(ch.producer_available());
    Event e;
    e.batch = batch_of(100);
    ch.push(std::move(e));
  }
  EXPECT_FALSE(ch.producer_available());
  Event out;
  consumer.gate.poll(out);
  EXPECT_TRUE(ch.producer_available()) << "3 of 4 queued: below capacity";
  pool.stop();
}

TEST(InputGate, PollsReadyChannelsRoundRobin) {
  ChannelStats stats;
  WorkerPool pool(0);
  Task producer(nullptr, &pool, TaskInfo{});
  Task consumer(nullptr, &pool, TaskInfo{});
  LocalChannel a(1 << 20, &producer, &consumer.gate, 0, &stats);
  LocalChannel b(1 << 20, &producer, &consumer.gate, 1, &stats);
  for (int i = 0; i < 2; ++i) {
    a.push(Event::watermark(i));
    b.push(Event::watermark(10 + i));
  }
  Event out;
  std::vector<int> order;
  for (int gi; (gi = consumer.gate.poll(out)) >= 0;) order.push_back(gi);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 0, 1}));
  pool.stop();
}

}  // namespace
}  // namespace weir::runtime
