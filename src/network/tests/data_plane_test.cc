#include "network/data_plane.h"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <thread>

#include "runtime/channel.h"
#include "runtime/task.h"
#include "runtime/worker_pool.h"
#include "weir/runtime/internal/logical_graph.hpp"

namespace weir::nettest {

struct Point {
  int64_t id = 0;
  std::string name;
  std::vector<double> coords;
  bool operator==(const Point&) const = default;
};

WEIR_SERDE(Point, id, name, coords)

struct NoSerde {
  int x = 0;
};

}  // namespace weir::nettest

namespace weir::network {
namespace {

using nettest::NoSerde;
using nettest::Point;
using runtime::Batch;
using runtime::ChannelStats;
using runtime::Event;
using runtime::InFlightEvent;
using runtime::NetworkError;
using runtime::Task;
using runtime::TaskInfo;
using runtime::WorkerPool;
using namespace std::chrono_literals;

constexpr auto kTimeout = 30s;

template <class T>
Event batch_event(std::vector<T> values, int64_t first_ts = 0) {
  auto b = std::make_unique<Batch<T>>(values.size());
  int64_t ts = first_ts;
  for (auto& v : values) b->append(std::move(v), ts++);
  Event e;
  e.batch = std::move(b);
  return e;
}

template <class T>
const Batch<T>& as(const Event& e) {
  return static_cast<const Batch<T>&>(*e.batch);
}

/// A consumer task that is never scheduled: the test thread polls its gate.
struct Consumer {
  WorkerPool pool{0};
  Task task{nullptr, &pool, TaskInfo{}};
  ~Consumer() { pool.stop(); }

  /// The next event of any channel (its gate index), waiting up to kTimeout; -1 on timeout.
  int next(Event& out, std::chrono::steady_clock::duration timeout = kTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const int gi = task.gate.poll(out);
      if (gi >= 0) return gi;
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(100us);
    }
  }
};

/// Counts the producer's "room again" notifications and lets a thread wait for the next one.
struct RoomSignal {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  std::function<void()> callback() {
    return [this] {
      std::lock_guard lock(mu);
      ++count;
      cv.notify_all();
    };
  }
  /// Waits until `ch` has room (producer_available registers for the notification).
  bool wait_room(runtime::OutputChannel& ch) {
    std::unique_lock lock(mu);
    for (;;) {
      const int seen = count;
      lock.unlock();
      if (ch.producer_available()) return true;
      lock.lock();
      if (!cv.wait_for(lock, kTimeout, [&] { return count != seen; })) return false;
    }
  }
};

template <class Pred>
bool eventually(Pred pred, std::chrono::steady_clock::duration timeout = kTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const NetworkError& e) {
    return e.what();
  }
  return "";
}

ChannelId cid(int channel, std::string job = "job-1") { return ChannelId{std::move(job), 0, channel}; }

// ---- decode_batch -------------------------------------------------------------------------------

TEST(DecodeBatch, IsTheInverseOfEncode) {
  auto e = batch_event<Point>({Point{1, "a", {1.5, -2}}, Point{2, "", {}}, Point{3, std::string(1000, 'x'), {0}}}, 7);
  std::string bytes;
  e.batch->encode(bytes);
  auto back = detail::type_ops<Point>()->decode_batch(bytes);
  const auto& b = static_cast<const Batch<Point>&>(*back);
  EXPECT_EQ(b.values, as<Point>(e).values);
  EXPECT_EQ(b.timestamps, as<Point>(e).timestamps);
  EXPECT_EQ(b.bytes(), e.batch->bytes());
}

TEST(DecodeBatch, MalformedBytesThrowSerdeErrorNamingTheType) {
  auto e = batch_event<std::string>({"hello", "world"});
  std::string bytes;
  e.batch->encode(bytes);
  const auto ops = detail::type_ops<std::string>();
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_THROW(ops->decode_batch(std::string_view(bytes).substr(0, cut)), SerdeError) << cut;
  }
  try {
    ops->decode_batch(bytes + "z");
    FAIL() << "trailing bytes accepted";
  } catch (const SerdeError& err) {
    EXPECT_NE(std::string(err.what()).find("string"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("trailing"), std::string::npos) << err.what();
  }
  // A count far beyond the bytes is refused before anything is allocated.
  EXPECT_THROW(ops->decode_batch(std::string("\xff\xff\xff\xff\x0f", 5)), SerdeError);
}

TEST(DecodeBatch, TypeWithoutSerdeIsAStateError) {
  try {
    detail::type_ops<NoSerde>()->decode_batch("");
    FAIL();
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("NoSerde"), std::string::npos) << e.what();
  }
}

TEST(DecodeBatch, FromInflightRestoresEvents) {
  auto e = batch_event<int64_t>({4, 5, 6});
  InFlightEvent f;
  ASSERT_TRUE(runtime::to_inflight(e, f));
  auto back = runtime::from_inflight(f, *detail::type_ops<int64_t>());
  EXPECT_EQ(as<int64_t>(back).values, (std::vector<int64_t>{4, 5, 6}));
  ASSERT_TRUE(runtime::to_inflight(Event::watermark(9), f));
  back = runtime::from_inflight(f, *detail::type_ops<int64_t>());
  EXPECT_EQ(back.kind, Event::Kind::kWatermark);
  EXPECT_EQ(back.value, 9);
}

// ---- delivery -----------------------------------------------------------------------------------

TEST(DataPlane, DeliversBatchesAndControlEventsInOrderOnSeveralChannels) {
  DataPlane producer_plane({});
  DataPlane consumer_plane({});
  Consumer consumer;
  ChannelStats out_stats, in_stats;
  RoomSignal room;
  auto in_str = consumer_plane.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<std::string>(), 1 << 20, &in_stats);
  auto in_pt = consumer_plane.open_input(cid(1), 1, &consumer.task.gate, detail::type_ops<Point>(), 1 << 20, &in_stats);
  auto in_dbl = consumer_plane.open_input(cid(2), 2, &consumer.task.gate, detail::type_ops<double>(), 1 << 20, &in_stats);
  auto out_str = producer_plane.open_output(cid(0), consumer_plane.address(), 1 << 20, room.callback(), &out_stats);
  auto out_pt = producer_plane.open_output(cid(1), consumer_plane.address(), 1 << 20, room.callback(), &out_stats);
  auto out_dbl = producer_plane.open_output(cid(2), consumer_plane.address(), 1 << 20, room.callback(), &out_stats);

  const std::string big(10u << 20, 'B');  // one 10 MB record: passes despite a 1 MB capacity
  std::vector<std::vector<std::string>> str_batches;
  std::vector<std::vector<Point>> pt_batches;
  for (int i = 0; i < 20; ++i) {
    std::vector<std::string> s;
    for (int k = 0; k < 10; ++k) s.push_back("s" + std::to_string(i) + "-" + std::to_string(k));
    if (i == 10) s.push_back(big);
    str_batches.push_back(s);
    pt_batches.push_back({Point{i, "p" + std::to_string(i), {double(i), 0.5}}, Point{-i, "", {}}});
  }
  auto pusher = std::thread([&] {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(room.wait_room(*out_str));
      out_str->push(batch_event(str_batches[static_cast<std::size_t>(i)], i * 100));
      out_str->push(Event::watermark(i));
      ASSERT_TRUE(room.wait_room(*out_pt));
      out_pt->push(batch_event(pt_batches[static_cast<std::size_t>(i)]));
      if (i % 5 == 0) out_pt->push(Event::watermark_status(i % 10 == 0));
    }
    // Equal values, different bytes: 0.0 and -0.0 must arrive as they were.
    out_dbl->push(batch_event<double>({0.0, -0.0, 0.0}));
    out_str->push(Event::end_of_input());
    out_pt->push(Event::end_of_input());
    out_dbl->push(Event::end_of_input());
  });

  std::vector<std::vector<Event>> got(3);
  int ended = 0;
  while (ended < 3) {
    Event e;
    const int gi = consumer.next(e);
    ASSERT_GE(gi, 0) << "timed out";
    if (e.kind == Event::Kind::kEndOfInput) ++ended;
    got[static_cast<std::size_t>(gi)].push_back(std::move(e));
  }
  pusher.join();

  // Channel 0: batch, watermark, ..., end.
  ASSERT_EQ(got[0].size(), 41u);
  for (int i = 0; i < 20; ++i) {
    const auto& b = got[0][static_cast<std::size_t>(2 * i)];
    ASSERT_EQ(b.kind, Event::Kind::kBatch);
    EXPECT_EQ(as<std::string>(b).values, str_batches[static_cast<std::size_t>(i)]);
    EXPECT_EQ(as<std::string>(b).timestamps.front(), i * 100);
    const auto& w = got[0][static_cast<std::size_t>(2 * i + 1)];
    ASSERT_EQ(w.kind, Event::Kind::kWatermark);
    EXPECT_EQ(w.value, i);
  }
  EXPECT_EQ(got[0].back().kind, Event::Kind::kEndOfInput);
  // Channel 1: batches with statuses every fifth.
  std::size_t at = 0;
  for (int i = 0; i < 20; ++i) {
    const auto& b = got[1].at(at++);
    ASSERT_EQ(b.kind, Event::Kind::kBatch);
    EXPECT_EQ(as<Point>(b).values, pt_batches[static_cast<std::size_t>(i)]);
    if (i % 5 == 0) {
      const auto& s = got[1].at(at++);
      ASSERT_EQ(s.kind, Event::Kind::kWatermarkStatus);
      EXPECT_EQ(s.value, i % 10 == 0 ? 1 : 0);
    }
  }
  EXPECT_EQ(got[1].at(at).kind, Event::Kind::kEndOfInput);
  // Channel 2: signs kept.
  ASSERT_EQ(got[2].size(), 2u);
  const auto& d = as<double>(got[2][0]).values;
  ASSERT_EQ(d.size(), 3u);
  EXPECT_FALSE(std::signbit(d[0]));
  EXPECT_TRUE(std::signbit(d[1]));
  EXPECT_FALSE(std::signbit(d[2]));

  EXPECT_EQ(consumer_plane.accepted_connections(), 1) << "three channels, one connection";
  EXPECT_TRUE(eventually([&] { return out_stats.queued.load() == 0; }));
  EXPECT_EQ(in_stats.queued.load(), 0u);
}

TEST(DataPlane, ManyChannelsShareOneConnectionAndOpenOrderDoesNotMatter) {
  DataPlane a({});
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  RoomSignal room;
  constexpr int kChannels = 40;
  constexpr int kBatches = 50;
  std::vector<std::unique_ptr<runtime::InputChannel>> ins;
  std::vector<std::unique_ptr<runtime::OutputChannel>> outs;
  // Half the consumers open before their producers, half after the producers pushed.
  for (int c = 0; c < kChannels / 2; ++c) {
    ins.push_back(b.open_input(cid(c), c, &consumer.task.gate, detail::type_ops<int64_t>(), 64 << 10, &stats));
  }
  for (int c = 0; c < kChannels; ++c) outs.push_back(a.open_output(cid(c), b.address(), 64 << 10, room.callback(), &stats));
  std::thread pusher([&] {
    for (int i = 0; i < kBatches; ++i) {
      for (int c = 0; c < kChannels; ++c) {
        auto& ch = *outs[static_cast<std::size_t>(c)];
        ASSERT_TRUE(room.wait_room(ch));
        std::vector<int64_t> v;
        for (int k = 0; k < 100; ++k) v.push_back(int64_t{c} * 1'000'000 + i * 100 + k);
        ch.push(batch_event(std::move(v)));
      }
    }
    for (auto& ch : outs) ch->push(Event::end_of_input());
  });
  std::this_thread::sleep_for(20ms);  // not synchronisation: lets some frames wait for the late opens
  for (int c = kChannels / 2; c < kChannels; ++c) {
    ins.push_back(b.open_input(cid(c), c, &consumer.task.gate, detail::type_ops<int64_t>(), 64 << 10, &stats));
  }
  std::vector<int64_t> next(kChannels, 0);
  int ended = 0;
  while (ended < kChannels) {
    Event e;
    const int gi = consumer.next(e);
    ASSERT_GE(gi, 0) << "timed out";
    if (e.kind == Event::Kind::kEndOfInput) {
      ++ended;
      EXPECT_EQ(next[static_cast<std::size_t>(gi)], kBatches * 100);
      continue;
    }
    for (auto v : as<int64_t>(e).values) {
      ASSERT_EQ(v, int64_t{gi} * 1'000'000 + next[static_cast<std::size_t>(gi)]++);
    }
  }
  pusher.join();
  EXPECT_EQ(b.accepted_connections(), 1);
}

TEST(DataPlane, ClosingTheProducersPlaneDeliversWhatItQueuedFirst) {
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  constexpr std::size_t kCapacity = 64 << 10;
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), kCapacity, &stats);
  std::vector<int64_t> got;
  bool ended = false;
  std::string error;
  std::thread reader([&] {
    Event e;
    try {
      for (;;) {
        if (consumer.next(e) < 0) return;
        if (e.kind == Event::Kind::kEndOfInput) {
          ended = true;
          return;
        }
        for (auto v : as<int64_t>(e).values) got.push_back(v);
      }
    } catch (const NetworkError& err) {
      error = err.what();
    }
  });
  int64_t next = 0;
  {
    DataPlane a({});
    auto out = a.open_output(cid(0), b.address(), kCapacity, std::function<void()>{}, &stats);
    // More than the credit: most of it is still queued at the producer when its plane closes.
    for (int i = 0; i < 200; ++i) {
      std::vector<int64_t> v;
      for (int k = 0; k < 100; ++k) v.push_back(next++);
      out->push(batch_event(std::move(v)));
    }
    out->push(Event::end_of_input());
    out.reset();  // the task is gone; what it queued still goes
    a.close();
  }
  reader.join();
  EXPECT_EQ(error, "");
  EXPECT_TRUE(ended);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(next));
  for (int64_t i = 0; i < next; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(DataPlane, ClosingAPlaneAtOnceFailsTheConsumerOfWhatWasNotSent) {
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  constexpr std::size_t kCapacity = 64 << 10;
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), kCapacity, &stats);
  {
    DataPlane a({.close_timeout = std::chrono::milliseconds(0)});
    auto out = a.open_output(cid(0), b.address(), kCapacity, std::function<void()>{}, &stats);
    out->push(batch_event(std::vector<int64_t>(100, -1)));
    Event first;
    ASSERT_EQ(consumer.next(first), 0);  // connected
    for (int i = 0; i < 200; ++i) out->push(batch_event(std::vector<int64_t>(100, i)));
    out->push(Event::end_of_input());
    a.close();
  }
  std::string error;
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] {
      Event e;
      consumer.task.gate.poll(e);
    });
    return !error.empty();
  }));
  EXPECT_NE(error.find("data connection from 127.0.0.1:"), std::string::npos) << error;
}

// ---- flow control -------------------------------------------------------------------------------

TEST(DataPlane, CreditsBoundBothSidesAndTheProducerIsNotifiedWhenTheConsumerPops) {
  DataPlane a({});
  DataPlane b({});
  Consumer consumer;
  ChannelStats out_stats, in_stats;
  RoomSignal room;
  constexpr std::size_t kCapacity = 1 << 20;
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<std::string>(), kCapacity, &in_stats);
  auto out = a.open_output(cid(0), b.address(), kCapacity, room.callback(), &out_stats);
  const std::string record(64 << 10, 'r');
  auto one = [&] { return batch_event<std::string>({record}); };
  std::string probe;
  one().batch->encode(probe);
  const std::size_t frame = probe.size() + 16;

  // Nobody pops: the producer fills its credit and then its own queue, and stops.
  // (The first pushes queue before the consumer's credit arrived; push on whenever there is
  // room until the consumer holds all its credit and the producer's queue is full.)
  int pushed = 0;
  ASSERT_TRUE(eventually([&] {
    while (out->producer_available()) {
      out->push(one());
      ++pushed;
    }
    return in_stats.queued.load() >= kCapacity;
  })) << in_stats.queued.load();
  while (out->producer_available()) {
    out->push(one());
    ++pushed;
  }
  EXPECT_LE(out->queued_bytes(), kCapacity + frame);
  EXPECT_GE(out->queued_bytes(), kCapacity);
  EXPECT_LE(in_stats.queued.load(), kCapacity + frame);
  EXPECT_FALSE(out->producer_available());
  int notified_before;
  {
    std::lock_guard lock(room.mu);
    notified_before = room.count;
  }

  // Popping returns credit; the producer is told it has room and goes on.
  Event e;
  std::size_t popped = 0;
  while (popped < kCapacity) {
    ASSERT_GE(consumer.next(e), 0);
    ASSERT_EQ(as<std::string>(e).values.at(0), record);
    popped += record.size();
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(room.mu);
    return room.count > notified_before;
  }));
  EXPECT_TRUE(out->producer_available());

  // 100 MB through a consumer thread: memory stays bounded on both sides.
  const std::size_t total = 100u << 20;
  std::atomic<std::size_t> received{0};
  std::thread reader([&] {
    Event ev;
    for (;;) {
      if (consumer.next(ev) < 0) return;
      if (ev.kind == Event::Kind::kEndOfInput) return;
      received += as<std::string>(ev).values.at(0).size();
    }
  });
  std::size_t sent = 0;
  while (sent < total) {
    ASSERT_TRUE(room.wait_room(*out));
    out->push(one());
    sent += record.size();
  }
  out->push(Event::end_of_input());
  reader.join();
  EXPECT_EQ(received.load() + popped, (static_cast<std::size_t>(pushed) * record.size()) + total);
  EXPECT_LE(out_stats.peak.load(), kCapacity + frame);
  EXPECT_LE(in_stats.peak.load(), kCapacity + frame);
}

// ---- priority barriers --------------------------------------------------------------------------

std::vector<int64_t> values_of(const std::vector<InFlightEvent>& events) {
  std::vector<int64_t> out;
  for (const auto& f : events) {
    auto e = runtime::from_inflight(f, *detail::type_ops<int64_t>());
    if (e.kind == Event::Kind::kBatch) {
      for (auto v : as<int64_t>(e).values) out.push_back(v);
    } else {
      out.push_back(-1000 - e.value);  // watermarks stand in the sequence too
    }
  }
  return out;
}

TEST(DataPlane, PriorityBarrierOvertakesDataQueuedOnBothSidesAndNothingIsLostOrDuplicated) {
  DataPlane a({});
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  RoomSignal room;
  constexpr std::size_t kCapacity = 64 << 10;
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), kCapacity, &stats);
  auto out = a.open_output(cid(0), b.address(), kCapacity, room.callback(), &stats);
  std::vector<int64_t> expected;
  int64_t next = 0;
  auto push_batch = [&] {
    std::vector<int64_t> v;
    for (int k = 0; k < 500; ++k) {
      v.push_back(next);
      expected.push_back(next++);
    }
    out->push(batch_event(std::move(v)));
  };
  // The consumer's queue fills its credit; the producer queues more behind it.
  int n = 0;
  auto fill = [&] {
    while (out->producer_available()) {
      push_batch();
      if (++n % 7 == 0) {
        out->push(Event::watermark(n));
        expected.push_back(-1000 - n);
      }
    }
  };
  // Push whenever there is room until the consumer holds its whole credit and more waits at
  // the producer (stats count both ends).
  ASSERT_TRUE(eventually([&] {
    fill();
    return stats.queued.load() >= kCapacity + out->queued_bytes();
  }));
  fill();
  ASSERT_GT(out->queued_bytes(), 0u);

  // The consumer takes a few events before the barrier.
  std::vector<int64_t> before;
  for (int i = 0; i < 3; ++i) {
    Event e;
    ASSERT_GE(consumer.next(e), 0);
    if (e.kind == Event::Kind::kBatch) {
      for (auto v : as<int64_t>(e).values) before.push_back(v);
    } else {
      before.push_back(-1000 - e.value);
    }
  }
  std::vector<InFlightEvent> producer_side;
  out->push_priority(Event::barrier(7, 1234, 0), producer_side);
  ASSERT_FALSE(producer_side.empty());
  ASSERT_TRUE(eventually([&] { return consumer.task.gate.has_priority(); }));
  Event barrier;
  ASSERT_EQ(consumer.task.gate.poll_priority(barrier), 0);
  EXPECT_EQ(barrier.kind, Event::Kind::kBarrier);
  EXPECT_EQ(barrier.value, 7);
  EXPECT_EQ(barrier.timestamp, 1234);
  std::vector<InFlightEvent> consumer_side;
  consumer.task.gate.take_overtaken(consumer_side);
  ASSERT_FALSE(consumer_side.empty());
  out->push(Event::end_of_input());

  // What follows the barrier: exactly the overtaken events, consumer side first.
  std::vector<int64_t> after;
  for (;;) {
    Event e;
    ASSERT_GE(consumer.next(e), 0) << "timed out";
    if (e.kind == Event::Kind::kEndOfInput) break;
    ASSERT_NE(e.kind, Event::Kind::kBarrier);
    if (e.kind == Event::Kind::kBatch) {
      for (auto v : as<int64_t>(e).values) after.push_back(v);
    } else {
      after.push_back(-1000 - e.value);
    }
  }
  auto overtaken = values_of(consumer_side);
  const auto producer_values = values_of(producer_side);
  overtaken.insert(overtaken.end(), producer_values.begin(), producer_values.end());
  EXPECT_EQ(after, overtaken);
  // Restore order (taken before the barrier, then consumer side, then producer side) is the
  // pushed sequence.
  std::vector<int64_t> restored = before;
  restored.insert(restored.end(), overtaken.begin(), overtaken.end());
  EXPECT_EQ(restored, expected);
}

// ---- failures -----------------------------------------------------------------------------------


TEST(DataPlane, AWrongSecretIsRejectedAndTheProducerFailsWithAClearError) {
  DataPlane b({.secret = "s3cret"});
  DataPlane wrong({.secret = "guess"});
  Consumer consumer;
  ChannelStats stats;
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), 1 << 16, &stats);
  auto out = wrong.open_output(cid(0), b.address(), 1 << 16, std::function<void()>{}, &stats);
  std::string error;
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] { out->push(Event::watermark(1)); });
    return !error.empty();
  }));
  EXPECT_NE(error.find("rejected: wrong secret"), std::string::npos) << error;
  EXPECT_NE(error.find(b.address()), std::string::npos) << error;
  EXPECT_NE(error.find("channel 0 of job job-1"), std::string::npos) << error;

  // The right secret passes.
  DataPlane right({.secret = "s3cret"});
  auto out2 = right.open_output(cid(0), b.address(), 1 << 16, std::function<void()>{}, &stats);
  out2->push(Event::watermark(5));
  Event e;
  ASSERT_EQ(consumer.next(e), 0);
  EXPECT_EQ(e.value, 5);
}

TEST(DataPlane, APeerClosedMidStreamFailsTheConsumerWithAnErrorNamingThePeer) {
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  auto in = b.open_input(cid(3), 0, &consumer.task.gate, detail::type_ops<int64_t>(), 1 << 16, &stats);
  {
    DataPlane a({});
    auto out = a.open_output(cid(3), b.address(), 1 << 16, std::function<void()>{}, &stats);
    out->push(batch_event<int64_t>({1, 2, 3}));
    Event e;
    ASSERT_EQ(consumer.next(e), 0);
    EXPECT_EQ(as<int64_t>(e).values.size(), 3u);
    a.close();  // the producer's process goes away before its end of input
  }
  std::string error;
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] {
      Event e;
      consumer.task.gate.poll(e);
    });
    return !error.empty();
  }));
  EXPECT_NE(error.find("data connection from 127.0.0.1:"), std::string::npos) << error;
  EXPECT_NE(error.find("channel 3 of job job-1"), std::string::npos) << error;
}

TEST(DataPlane, AConsumerPlaneThatGoesAwayFailsTheProducerNamingIt) {
  ChannelStats stats;
  RoomSignal room;
  DataPlane a({});
  std::unique_ptr<runtime::OutputChannel> out;
  std::string address;
  {
    DataPlane b({});
    address = b.address();
    Consumer consumer;
    auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), 1 << 16, &stats);
    out = a.open_output(cid(0), address, 1 << 16, room.callback(), &stats);
    out->push(Event::watermark(1));
    Event e;
    ASSERT_EQ(consumer.next(e), 0);
  }
  std::string error;
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] { out->push(Event::watermark(2)); });
    return !error.empty();
  }));
  EXPECT_NE(error.find("data connection to " + address), std::string::npos) << error;
  // Nothing listens there now: a new channel fails to connect, with the address.
  auto out2 = a.open_output(cid(1), address, 1 << 16, room.callback(), &stats);
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] { out2->push(Event::watermark(2)); });
    return !error.empty();
  }));
  EXPECT_NE(error.find(address), std::string::npos) << error;
}

/// Writes raw bytes to a plane and returns what it answered before closing the connection.
std::string raw_exchange(uint16_t port, const std::string& bytes) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(bytes));
  std::string answer;
  char buf[4096];
  asio::error_code ec;
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    answer.append(buf, n);
  }
  return answer;
}

std::string frame(uint8_t type, const std::string& payload) {
  std::string out;
  const auto len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out.push_back(static_cast<char>(type));
  return out + payload;
}

std::string hello() {
  std::string p("WEIRDATA", 8);
  p += std::string("\x01\x00", 2);  // version 1
  p += std::string("\x00", 1);      // no secret
  return frame(1, p);
}

template <class T>
std::string le(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

TEST(DataPlane, GarbageOnTheDataPortClosesThatConnectionOnly) {
  DataPlane b({});
  // Not a hello at all; a hello claiming a 4 GB frame; a good hello followed by nonsense.
  std::string garbage = frame(9, "abc") + "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 100; ++i) garbage += static_cast<char>(i * 37);
  EXPECT_NE(raw_exchange(b.port(), garbage).find("expected a hello"), std::string::npos);
  EXPECT_NE(raw_exchange(b.port(), std::string("\xff\xff\xff\xff\x01", 5)).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(raw_exchange(b.port(), hello() + frame(4, le<uint32_t>(99) + "x")).find("unknown stream"), std::string::npos);
  EXPECT_NE(raw_exchange(b.port(), hello() + frame(77, "")).find("unknown frame type"), std::string::npos);

  // The plane still works.
  DataPlane a({});
  Consumer consumer;
  ChannelStats stats;
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), 1 << 16, &stats);
  auto out = a.open_output(cid(0), b.address(), 1 << 16, std::function<void()>{}, &stats);
  out->push(batch_event<int64_t>({42}));
  Event e;
  ASSERT_EQ(consumer.next(e), 0);
  EXPECT_EQ(as<int64_t>(e).values, std::vector<int64_t>{42});
}

TEST(DataPlane, AMalformedFrameOnAnOpenChannelFailsThatChannel) {
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  auto in = b.open_input(cid(5), 0, &consumer.task.gate, detail::type_ops<int64_t>(), 1 << 16, &stats);
  std::string open = le<uint32_t>(0) + std::string("\x05", 1) + "job-1" + le<int32_t>(0) + le<int32_t>(5);
  // A data frame of an unknown kind after a proper open.
  const auto answer = raw_exchange(b.port(), hello() + frame(2, open) + frame(4, le<uint32_t>(0) + "\x09"));
  EXPECT_NE(answer.find("unknown event kind"), std::string::npos);
  std::string error;
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] {
      Event e;
      consumer.task.gate.poll(e);
    });
    return !error.empty();
  }));
  EXPECT_NE(error.find("unknown event kind"), std::string::npos) << error;
  EXPECT_NE(error.find("channel 5 of job job-1"), std::string::npos) << error;
}

TEST(DataPlane, ABatchThatDoesNotDecodeFailsTheConsumerNamingPeerAndChannel) {
  DataPlane a({});
  DataPlane b({});
  Consumer consumer;
  ChannelStats stats;
  // The producer sends strings, the consumer expects points.
  auto in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<Point>(), 1 << 16, &stats);
  auto out = a.open_output(cid(0), b.address(), 1 << 16, std::function<void()>{}, &stats);
  out->push(batch_event<std::string>({"not a point"}));
  std::string error;
  ASSERT_TRUE(eventually([&] {
    error = error_of([&] {
      Event e;
      consumer.task.gate.poll(e);
    });
    return !error.empty();
  }));
  EXPECT_NE(error.find("does not decode"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.1:"), std::string::npos) << error;
  EXPECT_NE(error.find("channel 0 of job job-1"), std::string::npos) << error;
}

TEST(DataPlane, ChannelsMayOutliveTheirPlane) {
  ChannelStats stats;
  Consumer consumer;
  std::unique_ptr<runtime::OutputChannel> out;
  std::unique_ptr<runtime::InputChannel> in;
  {
    DataPlane a({});
    DataPlane b({});
    in = b.open_input(cid(0), 0, &consumer.task.gate, detail::type_ops<int64_t>(), 1 << 16, &stats);
    out = a.open_output(cid(0), b.address(), 1 << 16, std::function<void()>{}, &stats);
    out->push(Event::watermark(1));
  }
  EXPECT_THROW(out->push(Event::watermark(2)), NetworkError);
  Event e;
  EXPECT_THROW(consumer.task.gate.poll(e), NetworkError);
  out.reset();
  in.reset();
}

}  // namespace
}  // namespace weir::network
