// The watermark of a task with several upstream subtasks: a channel that is idle (idleness from
// the watermark strategy) or has ended does not hold the task back, and an ended channel does
// not push the task's watermark ahead of a channel that is only idle for now.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;

struct Ev {
  std::string key;
  int64_t ts = 0;
  int64_t value = 0;
};

}  // namespace
WEIR_SERDE(Ev, key, ts, value)

namespace {

/// What the test tells the readers, and what they report.
struct Control {
  std::atomic<bool> stop{false};        ///< every split ends
  std::atomic<bool> resume{false};      ///< the quiet split emits its second part
  std::atomic<bool> short_done{false};  ///< the short split has ended
  std::atomic<bool> quiet_read{false};  ///< the quiet split has emitted its first record
};

/// Two splits, one per subtask at parallelism 2.
/// - split 0, `busy`: records ts 0, 10, 20, ... until `stop` (kShortSplit: ts 0..9, then ends);
/// - split 1, quiet: one record at ts 5, then nothing until `resume`, then ts 20..29, and ends.
class TwoSplits final : public weir::Source<Ev> {
 public:
  TwoSplits(std::shared_ptr<Control> c, bool busy) : c_(std::move(c)), busy_(busy) {}
  int num_splits(int) const override { return 2; }
  std::unique_ptr<weir::SplitReader<Ev>> create_reader(int split, int) const override {
    struct Reader final : weir::SplitReader<Ev> {
      std::shared_ptr<Control> c;
      int split = 0;
      bool busy = false;
      int64_t next = 0;
      bool resumed = false;
      Status read(std::size_t max, weir::SourceOutput<Ev>& out) override {
        if (split == 0 && busy) {
          if (c->stop.load()) return Status::kEndOfSplit;
          for (std::size_t i = 0; i < std::min<std::size_t>(max, 10); ++i, ++next) out.collect(Ev{"busy", next * 10, 1}, next * 10);
          std::this_thread::sleep_for(200us);
          return Status::kMoreAvailable;
        }
        if (split == 0) {
          for (int64_t t = 0; t < 10; ++t) out.collect(Ev{"k", t, 1}, t);
          c->short_done.store(true);
          return Status::kEndOfSplit;
        }
        if (next == 0) {
          ++next;
          out.collect(Ev{busy ? "quiet" : "k", 5, 1}, 5);
          c->quiet_read.store(true);
          return Status::kNothingAvailable;
        }
        if (c->stop.load()) return Status::kEndOfSplit;
        if (!busy && c->resume.load()) {
          for (int64_t t = 20; t < 30; ++t) out.collect(Ev{"k", t, 1}, t);
          return Status::kEndOfSplit;
        }
        return Status::kNothingAvailable;
      }
    };
    auto r = std::make_unique<Reader>();
    r->c = c_;
    r->split = split;
    r->busy = busy_;
    return r;
  }

 private:
  std::shared_ptr<Control> c_;
  bool busy_;
};

/// Windows fired: (key, window start) → count.
struct Fired {
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::map<std::pair<std::string, int64_t>, int64_t>> windows =
      std::make_shared<std::map<std::pair<std::string, int64_t>, int64_t>>();
  auto sink() const {
    return [mu = mu, windows = windows](const Ev& e) {
      std::lock_guard lock(*mu);
      (*windows)[{e.key, e.ts}] += e.value;
    };
  }
  std::map<std::pair<std::string, int64_t>, int64_t> get() const {
    std::lock_guard lock(*mu);
    return *windows;
  }
};

/// The metrics of the window task (the one task of parallelism 1 that is not a source).
weir::TaskMetrics window_task(weir::JobClient& client) {
  for (auto& m : client.metrics()) {
    if (m.task_name.find("quiet") == std::string::npos) return m;
  }
  return {};
}

/// Source (parallelism 2, so the window task has two upstream channels) → key_by → tumbling
/// event-time window (summing values; a result carries its window's first timestamp) → sink.
weir::JobClient start(weir::StreamExecutionEnvironment& env, std::shared_ptr<Control> c, bool busy,
                      std::chrono::milliseconds window, const Fired& fired) {
  env.set_parallelism(1).set_worker_threads(2);
  env.from_source(TwoSplits(c, busy),
                  weir::WatermarkStrategy<Ev>::for_monotonous_timestamps().with_idleness(1000ms), "quiet")
      .set_parallelism(2)
      .key_by([](const Ev& e) { return e.key; })
      .window(weir::TumblingEventTimeWindows::of(window))
      .reduce([](const Ev& a, const Ev& b) { return Ev{a.key, std::min(a.ts, b.ts), a.value + b.value}; })
      .add_sink(fired.sink());
  return env.execute_async("two upstream subtasks");
}

TEST(WatermarkChannels, IdleUpstreamSubtaskDoesNotHoldBackTheTasksWatermark) {
  // Subtask 1 of the source has nothing to read after its first record and becomes idle after
  // 1 s of processing time; subtask 0 keeps producing. The window task downstream must then
  // follow subtask 0's watermark alone, and fire its windows.
  auto env = weir::StreamExecutionEnvironment::create();
  auto clock = std::make_shared<weir::ManualClock>(0);
  env.set_clock(clock);
  auto c = std::make_shared<Control>();
  Fired fired;
  auto client = start(env, c, /*busy=*/true, 100ms, fired);
  auto busy_fired = [&] {
    for (auto& [k, n] : fired.get()) {
      if (k.first == "busy") return true;
    }
    return false;
  };
  for (int i = 0; i < 300 && !busy_fired(); ++i) {
    clock->advance(200);
    std::this_thread::sleep_for(10ms);
  }
  const auto got = fired.get();
  c->stop.store(true);
  clock->advance(200);
  client.wait();
  ASSERT_TRUE(got.count({"busy", 0})) << "the idle subtask held back the window task's watermark";
  // Records ts 0, 10, ..., 90 fall into [0, 100).
  EXPECT_EQ(got.at({"busy", 0}), 10);
}

TEST(WatermarkChannels, EndedUpstreamSubtaskDoesNotOutrunAnIdleOne) {
  // Subtask 0 ends (after ts 0..9) while subtask 1 is active at watermark 4; then subtask 1
  // becomes idle. Its later records (ts 20..29) must not be late: the ended channel's final
  // watermark may not stand in for the idle one's.
  auto env = weir::StreamExecutionEnvironment::create();
  auto clock = std::make_shared<weir::ManualClock>(0);
  env.set_clock(clock);
  auto c = std::make_shared<Control>();
  Fired fired;
  auto client = start(env, c, /*busy=*/false, 10ms, fired);
  auto wait_for = [&](auto&& done, const char* what) {
    for (int i = 0; i < 500; ++i) {
      if (done()) return;
      clock->advance(100);
      std::this_thread::sleep_for(5ms);
    }
    FAIL() << "timed out waiting for " << what;
  };
  // Subtask 0 has ended and subtask 1's periodic watermark (max timestamp 5, minus 1) arrived.
  // Its record is read before the clock moves; one periodic emit 200 ms later carries
  // watermark 4. The clock then stands still: were it to run on past 1 s of idleness before the
  // task took that emit (a stalled thread on a loaded machine), the emit would mark the input
  // idle instead.
  auto poll = [&](auto&& done, const char* what) {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) {
        ADD_FAILURE() << "timed out waiting for " << what;
        return false;
      }
      std::this_thread::sleep_for(2ms);
    }
    return true;
  };
  ASSERT_TRUE(poll([&] { return c->quiet_read.load(); }, "the quiet split's first record"));
  clock->advance(200);
  ASSERT_TRUE(poll([&] { return c->short_done.load() && window_task(client).input_watermark == 4; }, "watermark 4"));
  // Subtask 1 becomes idle (1 s of processing time without records): nothing holds the task.
  wait_for([&] { return window_task(client).watermark_holding_channel == -1; }, "the idle channel");
  c->resume.store(true);
  clock->advance(200);  // the periodic watermark timer wakes the source task, which reads again
  client.wait();
  const auto got = fired.get();
  const std::map<std::pair<std::string, int64_t>, int64_t> want{{{"k", 0}, 11}, {{"k", 20}, 10}};
  EXPECT_EQ(got, want) << "records of the idle subtask were dropped as late";
}

}  // namespace
