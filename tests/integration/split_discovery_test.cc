// Sources whose splits an enumerator finds while the job runs (FLIP-27): every split's records
// arrive exactly once, across a failure and restore from a checkpoint and across a savepoint
// resumed at another parallelism, including splits found after the checkpoint.
#include <gtest/gtest.h>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;

struct Range {
  int64_t id = 0;
  int64_t from = 0;
  int64_t to = 0;
};
WEIR_SERDE(Range, id, from, to)

/// Shared by the test and the job's enumerator and readers: which splits exist now, and how far
/// each split may be read.
struct World {
  int64_t total = 0;      ///< splits that will exist in the end
  int64_t per_split = 0;  ///< records per split; split k holds k*per_split .. (k+1)*per_split-1
  std::atomic<int64_t> available{0};   ///< splits that exist now (found at the next discovery)
  std::atomic<int64_t> grow_every{0};  ///< > 0: one more split exists per this many records read
  std::atomic<int64_t> read_records{0};
  std::atomic<int64_t> assigned_late{0};  ///< splits assigned after the enumerator started

  /// Splits may emit their first `limit` records; raising it wakes the readers.
  void set_limit(int64_t l) {
    std::vector<weir::SourceWakeup> ws;
    {
      std::lock_guard lock(mu);
      limit.store(l);
      ws = wakeups;
    }
    for (auto& w : ws) w.wakeup();
  }
  void add_reader(const weir::SourceWakeup& w) {
    std::lock_guard lock(mu);
    wakeups.push_back(w);
  }
  int64_t discoverable() const {
    int64_t n = available.load();
    if (const int64_t g = grow_every.load(); g > 0) n = std::max(n, 2 + read_records.load() / g);
    return std::min(n, total);
  }
  std::atomic<int64_t> limit{INT64_MAX};
  std::mutex mu;
  std::vector<weir::SourceWakeup> wakeups;  // guarded by mu
};

/// Finds splits by polling `World::discoverable` every 2 ms and assigns them round-robin; its
/// state is the number of splits assigned. Bounded: no more splits once all `total` exist.
class RangeEnumerator final : public weir::SplitEnumerator<Range> {
 public:
  RangeEnumerator(weir::SplitEnumeratorContext<Range>& ctx, std::shared_ptr<World> w, int64_t assigned)
      : ctx_(ctx), w_(std::move(w)), next_(assigned) {}
  void start() override {
    ctx_.call_async([w = w_] { return w->discoverable(); },
                    [this](int64_t n, std::exception_ptr error) {
                      if (error) std::rethrow_exception(error);
                      assign_up_to(n);
                    },
                    0ms, 2ms);
  }
  void add_reader(int subtask) override {
    if (next_ == w_->total) ctx_.signal_no_more_splits(subtask);  // after a restore
  }
  std::string snapshot_state(int64_t) override { return weir::serialize(next_); }

 private:
  void assign_up_to(int64_t n) {
    const int p = ctx_.current_parallelism();
    if (next_ < n && started_) w_->assigned_late.fetch_add(n - next_);
    started_ = true;
    for (; next_ < n; ++next_) {
      ctx_.assign_split(static_cast<int>(next_ % p), Range{next_, next_ * w_->per_split, (next_ + 1) * w_->per_split});
    }
    if (next_ == w_->total && !signaled_) {
      signaled_ = true;
      for (int s = 0; s < p; ++s) ctx_.signal_no_more_splits(s);
    }
  }
  weir::SplitEnumeratorContext<Range>& ctx_;
  std::shared_ptr<World> w_;
  int64_t next_;
  bool started_ = false;
  bool signaled_ = false;
};

class RangeSource final : public weir::EnumeratedSource<int64_t, Range> {
 public:
  explicit RangeSource(std::shared_ptr<World> w) : w_(std::move(w)) {}
  std::unique_ptr<weir::SplitEnumerator<Range>> create_enumerator(weir::SplitEnumeratorContext<Range>& ctx) const override {
    return std::make_unique<RangeEnumerator>(ctx, w_, 0);
  }
  std::unique_ptr<weir::SplitEnumerator<Range>> restore_enumerator(weir::SplitEnumeratorContext<Range>& ctx,
                                                                   std::string_view state) const override {
    return std::make_unique<RangeEnumerator>(ctx, w_, weir::deserialize<int64_t>(state));
  }
  std::unique_ptr<weir::SplitReader<int64_t>> create_reader(const Range& r) const override {
    struct Reader final : weir::SplitReader<int64_t> {
      Range r;
      int64_t next;
      std::shared_ptr<World> w;
      Reader(Range range, std::shared_ptr<World> world) : r(range), next(range.from), w(std::move(world)) {
        w->add_reader(wakeup_handle());
      }
      Status read(std::size_t max, weir::SourceOutput<int64_t>& out) override {
        const int64_t end = r.from + std::min(r.to - r.from, std::max<int64_t>(0, w->limit.load()));
        std::size_t n = 0;
        for (; n < max && next < end; ++n) out.collect(next++);
        w->read_records.fetch_add(static_cast<int64_t>(n));
        if (next == r.to) return Status::kEndOfSplit;
        return n > 0 ? Status::kMoreAvailable : Status::kNothingAvailable;  // held back: woken by set_limit
      }
      std::optional<std::string> snapshot_position() const override { return weir::serialize(next); }
      void restore_position(std::string_view p) override { next = weir::deserialize<int64_t>(p); }
    };
    return std::make_unique<Reader>(r, w_);
  }

 private:
  std::shared_ptr<World> w_;
};

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

std::vector<int64_t> sorted(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// Waits for the job, failing the test (instead of hanging) if it does not end.
void wait_or_fail(weir::JobClient& client) {
  auto result = client.get_job_execution_result();
  if (result.wait_for(60s) != std::future_status::ready) {
    client.cancel();
    ADD_FAILURE() << "the job did not end";
  }
  client.wait();
}

using weir::testsupport::TempDir;

class Discovery : public ::testing::TestWithParam<int> {};

TEST_P(Discovery, SplitsFoundWhileTheJobRunsAreReadExactlyOnce) {
  auto w = std::make_shared<World>();
  w->total = 12;
  w->per_split = 400;
  w->grow_every = 250;  // two splits at the start, one more per 250 records read
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  auto out = env.from_source(RangeSource(w), weir::WatermarkStrategy<int64_t>::no_watermarks(), "ranges").collect_async();
  auto client = env.execute_async("discovery");
  wait_or_fail(client);
  EXPECT_EQ(sorted(out.get()), iota(w->total * w->per_split));
  EXPECT_GE(w->assigned_late.load(), 1) << "splits were found while the job ran";
}

TEST_P(Discovery, ReaderWithoutSplitsWaitsWithoutSpinningUntilOneIsAssigned) {
  auto w = std::make_shared<World>();
  w->total = 2 * GetParam();
  w->per_split = 100;
  w->available = 0;  // nothing exists yet
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.set_auto_watermark_interval(std::chrono::milliseconds(0));  // no timer wakes the tasks
  auto out = env.from_source(RangeSource(w), weir::WatermarkStrategy<int64_t>::no_watermarks(), "ranges").collect_async();
  auto client = env.execute_async("late splits");
  const int64_t cpu0 = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  }();
  std::this_thread::sleep_for(300ms);  // idleness to measure, not synchronisation
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  const int64_t idle_cpu = static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000 - cpu0;
  w->available = w->total;  // the splits appear: the enumerator assigns them and wakes the readers
  wait_or_fail(client);
  EXPECT_EQ(sorted(out.get()), iota(w->total * w->per_split));
  EXPECT_LT(idle_cpu, 150000) << "CPU time (µs) of 300 ms waiting for splits";
}

/// Fails the job once, at a record of a split found after the first checkpoint.
std::atomic<int64_t> g_fail_at{-1};
std::atomic<bool> g_failed{false};

TEST_P(Discovery, RestoreFromACheckpointKeepsEverySplitExactlyOnce) {
  TempDir dir;
  g_failed = false;
  g_fail_at = -1;
  auto w = std::make_shared<World>();
  w->total = 10;
  w->per_split = 1000;
  w->available = 3;
  w->set_limit(300);  // the first splits stop part-way until a checkpoint is through
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.enable_checkpointing(20);
  env.set_checkpoint_storage("file://" + dir.path());
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, std::chrono::milliseconds(10)));
  auto out = env.from_source(RangeSource(w), weir::WatermarkStrategy<int64_t>::no_watermarks(), "ranges")
                 .uid("ranges")
                 .map([](int64_t v) {
                   if (v == g_fail_at.load() && !g_failed.exchange(true)) throw std::runtime_error("injected failure");
                   return v;
                 })
                 .collect_async();
  auto client = env.execute_async("discovery with failure");
  while (client.get_checkpoint_stats().completed < 1) std::this_thread::sleep_for(1ms);
  // After the checkpoint: the other splits appear, and the job fails inside one of them.
  g_fail_at = 8 * w->per_split + w->per_split / 2;
  w->available = w->total;
  w->set_limit(INT64_MAX);
  wait_or_fail(client);
  EXPECT_TRUE(g_failed.load()) << "the failure was never injected";
  EXPECT_EQ(client.get_restart_count(), 1);
  EXPECT_EQ(sorted(out.get()), iota(w->total * w->per_split));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Discovery, ::testing::Values(1, 2, 4));

class DiscoveryRescale : public ::testing::TestWithParam<int> {};

TEST_P(DiscoveryRescale, SavepointResumedAtAnotherParallelismReadsEverySplitOnce) {
  TempDir dir;
  auto w = std::make_shared<World>();
  w->total = 10;
  w->per_split = 1000;
  w->available = 4;
  w->set_limit(200);
  std::vector<int64_t> before;
  std::string path;
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(3).set_worker_threads(2);
    env.enable_checkpointing(3600 * 1000);
    auto out = env.from_source(RangeSource(w), weir::WatermarkStrategy<int64_t>::no_watermarks(), "ranges")
                   .uid("ranges")
                   .collect_async();
    auto client = env.execute_async("first part");
    // Every found split has read up to the limit.
    while (w->read_records.load() < 4 * 200) std::this_thread::sleep_for(1ms);
    path = client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
    before = out.get();
  }
  EXPECT_EQ(before.size(), 800u) << "the savepoint was taken part-way";
  // The rest: splits 0-3 from their saved positions, 4-9 found after the savepoint.
  w->available = w->total;
  w->set_limit(INT64_MAX);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(path));
  auto out = env.from_source(RangeSource(w), weir::WatermarkStrategy<int64_t>::no_watermarks(), "ranges")
                 .uid("ranges")
                 .collect_async();
  auto client = env.execute_async("second part");
  wait_or_fail(client);
  auto all = before;
  for (auto v : out.get()) all.push_back(v);
  EXPECT_EQ(sorted(all), iota(w->total * w->per_split));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, DiscoveryRescale, ::testing::Values(1, 2, 5));

}  // namespace
