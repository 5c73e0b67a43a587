// Recovery from checkpoints: a task fails mid-stream and the job restarts from its latest
// completed checkpoint; the output shows every record's effect exactly once.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "checkpoint_test_util.h"
#include "weir/testing/faults.hpp"

namespace weir::cptest {
namespace {

std::atomic<bool> g_checkpoint_done{false};
std::atomic<bool> g_failed{false};
std::atomic<int64_t> g_fail_at{-1};

/// Passes records through; on the first attempt, after a checkpoint has completed, throws at
/// record seq == g_fail_at (once).
struct FailOnce : CheckpointListener {
  Ev operator()(const Ev& e) const {
    if (g_fail_at.load() >= 0 && e.seq >= g_fail_at.load() && !g_failed.exchange(true)) {
      throw std::runtime_error("injected failure at record " + std::to_string(e.seq));
    }
    return e;
  }
  void notify_checkpoint_complete(int64_t) override { g_checkpoint_done.store(true); }
};

void reset() {
  g_checkpoint_done = false;
  g_failed = false;
  g_fail_at = -1;
  testing::disarm_faults();
}

/// Once a checkpoint has completed: arms the failure at record `fail_at` and lets the
/// sources run to the end.
void release_after_checkpoint(JobClient& client, std::atomic<int64_t>& limit, int64_t fail_at) {
  while (client.get_checkpoint_stats().completed < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  g_fail_at = fail_at;
  limit.store(INT64_MAX);
}

class Recovery : public ::testing::TestWithParam<PB> {};

/// Gated events → map that fails once after a checkpoint → keyed count, at the parameter's
/// parallelism and backend; returns the output and the restart count.
std::pair<std::vector<std::pair<int64_t, int64_t>>, int> run_failing_count(const PB& pb, int64_t n, CheckpointingMode mode) {
  reset();
  TempDir dir;
  auto limit = std::make_shared<std::atomic<int64_t>>(n / 2);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(std::get<0>(pb));
  use_backend(env, std::get<1>(pb), dir.sub("rocksdb"));
  env.enable_checkpointing(20, mode);
  env.set_checkpoint_storage("file://" + dir.path());
  env.set_restart_strategy(RestartStrategy::fixed_delay(3, std::chrono::milliseconds(10)));
  auto out = env.from_source(GatedEvents(n, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .map(FailOnce{})
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  auto client = env.execute_async("recovery");
  release_after_checkpoint(client, *limit, n / 2);
  client.wait();
  EXPECT_TRUE(g_failed.load()) << "the failure was never injected";
  EXPECT_GE(client.get_checkpoint_stats().completed, 1);
  return {out.get(), client.get_restart_count()};
}

TEST_P(Recovery, TaskFailureRestartsFromCheckpointExactlyOnce) {
  constexpr int64_t kN = 60000;
  auto [out, restarts] = run_failing_count(GetParam(), kN, CheckpointingMode::exactly_once);
  EXPECT_EQ(restarts, 1);
  expect_exactly_once(out, expected_counts(0, kN));
}

TEST_P(Recovery, AtLeastOnceLosesNothing) {
  constexpr int64_t kN = 40000;
  auto [out, restarts] = run_failing_count(GetParam(), kN, CheckpointingMode::at_least_once);
  EXPECT_EQ(restarts, 1);
  std::set<std::pair<int64_t, int64_t>> got(out.begin(), out.end());
  for (auto& [k, n] : expected_counts(0, kN)) {
    for (int64_t c = 1; c <= n; ++c) ASSERT_TRUE(got.count({k, c})) << "lost (" << k << ", " << c << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Recovery, WEIR_PARALLELISM_AND_BACKENDS);

/// Unaligned checkpoints under backpressure: a slow stage fills the channels, barriers
/// overtake the queued records (which the checkpoint stores), and a failure after a
/// checkpoint still gives every count exactly once.
class Unaligned : public ::testing::TestWithParam<PB> {};

TEST_P(Unaligned, BarriersOvertakeBackpressuredDataExactlyOnce) {
  reset();
  const int p = std::get<0>(GetParam());
  constexpr int64_t kN = 20000;
  TempDir dir;
  auto limit = std::make_shared<std::atomic<int64_t>>(kN / 2);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(p);
  use_backend(env, std::get<1>(GetParam()), dir.sub("rocksdb"));
  env.enable_checkpointing(10);
  env.get_checkpoint_config().enable_unaligned_checkpoints();
  env.set_checkpoint_storage(dir.path());
  env.set_restart_strategy(RestartStrategy::fixed_delay(3, std::chrono::milliseconds(10)));
  auto out = env.from_source(GatedEvents(kN, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .map(FailOnce{})
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .map([](const std::pair<int64_t, int64_t>& kc) {
                   // Slow: the channels in front of this stage fill up.
                   if (kc.second % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
                   return kc;
                 })
                 .disable_chaining()
                 .collect_async();
  auto client = env.execute_async("unaligned");
  release_after_checkpoint(client, *limit, kN / 2);
  client.wait();
  EXPECT_TRUE(g_failed.load());
  EXPECT_EQ(client.get_restart_count(), 1);
  expect_exactly_once(out.get(), expected_counts(0, kN));
}

INSTANTIATE_TEST_SUITE_P(Backends, Unaligned, WEIR_PARALLELISM_AND_BACKENDS);

/// Parses "seq" lines; slow enough for checkpoints to land; fails once after one completed.
struct ParseAndFailOnce : CheckpointListener {
  Ev operator()(const std::string& line) const {
    const int64_t seq = std::stoll(line);
    // Until a checkpoint has completed, 1 ms every 20 lines (a second or more before line
    // 20,000): the failure below needs one, and a loaded machine can take long to complete it.
    // Each call returns, so barriers keep flowing.
    if (!g_checkpoint_done.load() && seq % 20 == 19) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (seq % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (seq >= 20000 && g_checkpoint_done.load() && !g_failed.exchange(true)) throw std::runtime_error("injected");
    return make_event(seq);
  }
  void notify_checkpoint_complete(int64_t) override { g_checkpoint_done.store(true); }
};

TEST(Checkpoints, WithCheckpointingAFailedJobRestartsByDefault) {
  reset();
  TempDir dir;
  constexpr int64_t kN = 20000;
  auto limit = std::make_shared<std::atomic<int64_t>>(kN / 2);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(10);  // no restart strategy set: fixed delay, as Flink
  env.set_checkpoint_storage(dir.path());
  auto out = env.from_source(GatedEvents(kN, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .map(FailOnce{})
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  auto client = env.execute_async("default restart");
  release_after_checkpoint(client, *limit, kN / 2);
  client.wait();
  EXPECT_EQ(client.get_restart_count(), 1);
  expect_exactly_once(out.get(), expected_counts(0, kN));
}

TEST(Checkpoints, ACheckpointThatTakesTooLongExpiresAndTheJobGoesOn) {
  reset();
  TempDir dir;
  static std::atomic<bool> stalled{false};
  stalled = false;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(1);
  env.enable_checkpointing(10);
  env.get_checkpoint_config().set_checkpoint_timeout(30);
  env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(100);
  env.set_checkpoint_storage(dir.path());
  auto out = env.from_source(slow_events(20000, 2000), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .map([](const Ev& e) {
                   // One long stall: the barrier behind it cannot arrive in time.
                   if (e.seq == 5000 && !stalled.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
                   return e;
                 })
                 .disable_chaining()
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  auto client = env.execute_async("expiring");
  client.wait();
  EXPECT_GE(client.get_checkpoint_stats().failed, 1);
  EXPECT_GE(client.get_checkpoint_stats().completed, 1);
  EXPECT_EQ(client.get_restart_count(), 0);
  expect_exactly_once(out.get(), expected_counts(0, 20000));
}

TEST(Checkpoints, CancelKeepsOrDeletesRetainedCheckpointsAsConfigured) {
  for (const auto retention : {CheckpointRetention::retain_on_cancellation, CheckpointRetention::delete_on_cancellation}) {
    reset();
    TempDir dir;
    auto limit = std::make_shared<std::atomic<int64_t>>(1000);
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(1);
    env.enable_checkpointing(3600 * 1000);
    env.get_checkpoint_config().set_externalized_checkpoint_retention(retention);
    env.set_checkpoint_storage(dir.sub("checkpoints"));
    env.from_source(GatedEvents(5000, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
        .key_by([](const Ev& e) { return e.key; })
        .process(CountPerKey{})
        .add_sink([](const std::pair<int64_t, int64_t>&) {});
    auto client = env.execute_async("cancel me");
    const std::string chk = client.trigger_checkpoint().get();
    client.cancel();
    EXPECT_THROW(client.wait(), JobFailure);
    EXPECT_EQ(std::filesystem::exists(chk + "/_metadata"), retention == CheckpointRetention::retain_on_cancellation);
  }
}

TEST(SourcePositions, TextFileResumesAtItsCheckpointedOffset) {
  reset();
  TempDir dir;
  constexpr int64_t kN = 30000;
  {
    std::ofstream f(dir.sub("in.txt"));
    for (int64_t i = 0; i < kN; ++i) f << i << (i % 7 == 0 ? "\r\n" : "\n");
  }
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(10);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(5)));
  auto out = env.read_text_file(dir.sub("in.txt"))
                 .map(ParseAndFailOnce{})
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  auto client = env.execute_async("file positions");
  client.wait();
  EXPECT_TRUE(g_failed.load());
  EXPECT_EQ(client.get_restart_count(), 1);
  expect_exactly_once(out.get(), expected_counts(0, kN));
}

/// Runs the keyed count with fault point `point` armed at its `nth` hit.
void run_with_fault(const std::string& point, int64_t nth, int p, const std::string& backend = "heap") {
  reset();
  constexpr int64_t kN = 40000;
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(p);
  use_backend(env, backend, dir.sub("rocksdb"));
  env.enable_checkpointing(20);
  env.set_checkpoint_storage(dir.path());
  env.set_restart_strategy(RestartStrategy::fixed_delay(5, std::chrono::milliseconds(10)));
  auto out = env.from_source(slow_events(kN, 3000), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  testing::arm_fault(point, nth);
  auto client = env.execute_async("fault " + point);
  client.wait();
  EXPECT_EQ(testing::faults_fired(point), 1) << point;
  testing::disarm_faults();
  expect_exactly_once(out.get(), expected_counts(0, kN));
}

TEST(FaultPoints, DuringSynchronousSnapshot) { run_with_fault("checkpoint.sync", 4, 2); }
TEST(FaultPoints, DuringAsynchronousWrite) { run_with_fault("checkpoint.async_write", 2, 2); }
TEST(FaultPoints, BeforeMetadataIsInPlace) { run_with_fault("checkpoint.metadata", 2, 2); }
TEST(FaultPoints, DuringSynchronousSnapshotRocksDb) { run_with_fault("checkpoint.sync", 4, 2, "rocksdb"); }
TEST(FaultPoints, DuringAsynchronousWriteRocksDb) { run_with_fault("checkpoint.async_write", 2, 2, "rocksdb"); }
TEST(FaultPoints, BeforeMetadataIsInPlaceRocksDb) { run_with_fault("checkpoint.metadata", 2, 2, "rocksdb"); }

TEST(Checkpoints, FolderHoldsMetadataAndStateFiles) {
  reset();
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);  // only on demand (and the final one)
  env.set_checkpoint_storage(dir.path());
  env.get_checkpoint_config().set_max_retained_checkpoints(2);
  auto limit = std::make_shared<std::atomic<int64_t>>(5000);
  auto out = env.from_source(GatedEvents(20000, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  auto client = env.execute_async("folders");
  const std::string first = client.trigger_checkpoint().get();
  const std::string second = client.trigger_checkpoint().get();
  EXPECT_TRUE(std::filesystem::exists(first + "/_metadata"));
  EXPECT_TRUE(std::filesystem::exists(second + "/_metadata"));
  EXPECT_EQ(std::filesystem::path(second).parent_path(), std::filesystem::path(first).parent_path());
  limit->store(INT64_MAX);
  client.wait();
  expect_exactly_once(out.get(), expected_counts(0, 20000));
  // Two retained: the oldest of the three (two on demand, one final) is gone.
  EXPECT_FALSE(std::filesystem::exists(first));
  int folders = 0;
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(first).parent_path())) {
    folders += e.path().filename().string().rfind("chk-", 0) == 0;
  }
  EXPECT_EQ(folders, 2);
}

TEST(Checkpoints, CorruptLatestCheckpointFallsBackToPrevious) {
  reset();
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.path());
  env.get_checkpoint_config().set_max_retained_checkpoints(2);
  // The collect sink may have committed the newer checkpoint's output: going past it repeats that.
  env.get_checkpoint_config().set_allow_fallback_past_committed_checkpoint(true);
  env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(10)));
  static std::atomic<bool> fail{false};
  fail = false;
  constexpr int64_t kN = 20000;
  auto limit = std::make_shared<std::atomic<int64_t>>(5000);
  auto out = env.from_source(GatedEvents(kN, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .map([](const Ev& e) {
                   if (fail.exchange(false)) throw std::runtime_error("injected");
                   return e;
                 })
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  auto client = env.execute_async("fallback");
  const std::string first = client.trigger_checkpoint().get();
  limit->store(15000);  // the second checkpoint holds more than the first
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string latest = client.trigger_checkpoint().get();
  // Flip one byte of a state file of the latest checkpoint.
  bool corrupted = false;
  for (auto& e : std::filesystem::directory_iterator(latest)) {
    if (e.path().extension() == ".state" && std::filesystem::file_size(e.path()) > 40) {
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(30);
      f.put('\x7f');
      corrupted = true;
      break;
    }
  }
  ASSERT_TRUE(corrupted);
  fail = true;
  limit->store(INT64_MAX);
  client.wait();
  EXPECT_EQ(client.get_restart_count(), 1);
  EXPECT_EQ(client.get_checkpoint_stats().restored_path, first);
  // The state is that of the older checkpoint plus the replay: every count once, none beyond
  // the true count. (The sink committed the newer checkpoint's records already, so records
  // between the two checkpoints appear twice: falling back cannot undo a commit.)
  std::set<std::pair<int64_t, int64_t>> got;
  for (auto& kv : out.get()) got.insert(kv);
  std::set<std::pair<int64_t, int64_t>> want;
  for (auto& [k, n] : expected_counts(0, kN)) {
    for (int64_t c = 1; c <= n; ++c) want.insert({k, c});
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace weir::cptest

namespace weir::cptest {
namespace {

std::mutex g_heard_mu;
std::map<std::pair<std::string, int>, std::set<int64_t>> g_heard;  // (operator, subtask) → ids heard

/// Passes records through and records each completion notice its subtask hears.
struct Hears : CheckpointListener {
  std::string tag;
  int subtask = -1;
  explicit Hears(std::string t) : tag(std::move(t)) {}
  void open(RuntimeContext& rc) { subtask = rc.get_index_of_this_subtask(); }
  Ev operator()(const Ev& e) const { return e; }
  void notify_checkpoint_complete(int64_t id) override {
    std::lock_guard lock(g_heard_mu);
    g_heard[{tag, subtask}].insert(id);
  }
};

bool heard(const std::string& tag, int subtask, int64_t id) {
  std::lock_guard lock(g_heard_mu);
  return g_heard[{tag, subtask}].count(id) != 0;
}

/// Polls (up to 10 s): completion notices are delivered by each task's own thread.
bool eventually_heard(const std::string& tag, int subtask, int64_t id) {
  for (int i = 0; i < 10000 && !heard(tag, subtask, id); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return heard(tag, subtask, id);
}

TEST(CompletionNotices, EveryTaskHearsEveryCompletedCheckpointFinishedOnesIncluded) {
  reset();
  {
    std::lock_guard lock(g_heard_mu);
    g_heard.clear();
  }
  TempDir dir;
  constexpr int64_t kN = 4000;
  // Split 0 (events 0..1999) runs to its end at once; split 1 is held back.
  auto limit = std::make_shared<std::atomic<int64_t>>(kN / 2);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.path());
  auto out = env.from_source(GatedEvents(kN, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
                 .map(Hears("source chain"))  // chained into the source tasks
                 .rebalance()
                 .map(Hears("middle"))
                 .set_parallelism(3)
                 .key_by([](const Ev& e) { return e.key; })
                 .process(CountPerKey{})
                 .collect_async();
  const std::map<std::string, int> parallelism = {{"source chain", 2}, {"middle", 3}};
  auto client = env.execute_async("notices");
  wait_for_input(client, kN / 2);
  // Checkpoints until source subtask 0 has finished and a checkpoint holding its final
  // snapshot released it (it hears the final notice).
  std::vector<int64_t> ids;
  for (int i = 0; i < 100 && !heard("source chain", 0, runtime::kFinalCheckpointId); ++i) {
    const std::string chk = client.trigger_checkpoint().get();
    ids.push_back(std::stoll(std::filesystem::path(chk).filename().string().substr(4)));
    for (const auto& [tag, p] : parallelism) {
      for (int s = 0; s < p; ++s) {
        // Subtask 0 of the sources may have been released by an earlier checkpoint.
        if (tag == "source chain" && s == 0 && heard(tag, 0, runtime::kFinalCheckpointId)) continue;
        EXPECT_TRUE(eventually_heard(tag, s, ids.back())) << tag << " subtask " << s << " checkpoint " << ids.back();
      }
    }
  }
  ASSERT_TRUE(heard("source chain", 0, runtime::kFinalCheckpointId)) << "the finished task was never released";
  limit->store(INT64_MAX);
  client.wait();
  expect_exactly_once(out.get(), expected_counts(0, kN));
  // At the end every task heard the final notice (sinks commit everything).
  for (const auto& [tag, p] : parallelism) {
    for (int s = 0; s < p; ++s) EXPECT_TRUE(heard(tag, s, runtime::kFinalCheckpointId)) << tag << " subtask " << s;
  }
}

}  // namespace
}  // namespace weir::cptest
