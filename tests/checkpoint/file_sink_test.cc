// The exactly-once file sink: every record in the committed part files exactly once, under
// failures at every named point; in-progress and pending files stay hidden.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include "checkpoint_test_util.h"

namespace weir::cptest {
namespace {

namespace fs = std::filesystem;

/// Lines of the committed part files (names not starting with '.').
std::vector<std::string> committed_lines(const std::string& dir, int* files = nullptr) {
  std::vector<std::string> lines;
  int n = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    ++n;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  if (files) *files = n;
  return lines;
}

void expect_each_once(std::vector<std::string> lines, int64_t n) {
  std::vector<int64_t> seqs;
  for (auto& l : lines) seqs.push_back(std::stoll(l));
  std::sort(seqs.begin(), seqs.end());
  int64_t dups = 0, lost = 0;
  std::size_t i = 0;
  for (int64_t want = 0; want < n; ++want) {
    std::size_t c = 0;
    while (i < seqs.size() && seqs[i] == want) ++i, ++c;
    if (c == 0) ++lost;
    if (c > 1) dups += static_cast<int64_t>(c - 1);
  }
  EXPECT_EQ(lost, 0) << "records lost";
  EXPECT_EQ(dups, 0) << "records duplicated";
  EXPECT_EQ(i, seqs.size()) << "unexpected records";
}

FileSink<Ev> seq_sink(const std::string& dir, uint64_t part_size = 64 << 10) {
  return FileSink<Ev>::for_row_format(dir, [](const Ev& e, std::string& out) { out += std::to_string(e.seq) + "\n"; })
      .with_rolling_policy(DefaultRollingPolicy::builder().with_max_part_size(part_size).build())
      .build();
}

TEST(FileSink, WithoutCheckpointsCommitsAtTheEnd) {
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.from_source(DataGeneratorSource<Ev>(make_event, 20000), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .sink_to(seq_sink(dir.sub("out"), 16 << 10));
  env.execute("file sink");
  int files = 0;
  expect_each_once(committed_lines(dir.sub("out"), &files), 20000);
  EXPECT_GT(files, 2) << "parts roll at the size limit";
  for (auto& e : fs::directory_iterator(dir.sub("out"))) EXPECT_NE(e.path().filename().string()[0], '.');
}

TEST(FileSink, DefaultEncoderWritesTextLines) {
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(1);
  env.from_elements(std::string("a"), std::string("b")).sink_to(FileSink<std::string>::for_row_format(dir.sub("o")).build());
  env.execute("default encoder");
  auto lines = committed_lines(dir.sub("o"));
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b"}));
}

TEST(FileSink, PendingFilesStayHiddenUntilTheCheckpointCompletes) {
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(1);
  env.enable_checkpointing(3600 * 1000);
  auto limit = std::make_shared<std::atomic<int64_t>>(1000);
  env.from_source(GatedEvents(3000, limit), WatermarkStrategy<Ev>::no_watermarks(), "events").sink_to(seq_sink(dir.sub("out")));
  auto client = env.execute_async("hidden");
  // Wait for the first 1000 to reach the sink's in-progress file.
  for (int i = 0; i < 5000; ++i) {
    uint64_t in = 0;
    for (const auto& m : client.metrics()) in += m.records_in;
    if (in >= 1000 || i == 4999) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(committed_lines(dir.sub("out")).empty()) << "nothing is visible before a checkpoint";
  client.trigger_checkpoint().get();
  // Committed on notify (the sink's task handles it right after): poll briefly.
  for (int i = 0; i < 2000 && committed_lines(dir.sub("out")).size() < 1000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(committed_lines(dir.sub("out")).size(), 1000u);
  limit->store(INT64_MAX);
  client.wait();
  expect_each_once(committed_lines(dir.sub("out")), 3000);
}

/// The failure matrix: a fault at `point` (its `nth` hit), with checkpoints every 10 ms.
void run_matrix(const std::string& point, int64_t nth, const PB& pb, CheckpointingMode mode = CheckpointingMode::exactly_once) {
  const int p = std::get<0>(pb);
  testing::disarm_faults();
  TempDir dir;
  constexpr int64_t kN = 30000;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(p);
  use_backend(env, std::get<1>(pb), dir.sub("rocksdb"));
  env.enable_checkpointing(10, mode);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  env.set_restart_strategy(RestartStrategy::fixed_delay(5, std::chrono::milliseconds(5)));
  env.from_source(slow_events(kN, 4000), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .key_by([](const Ev& e) { return e.key; })
      .process(CountPerKey{})  // keyed state on the way
      .map([](const std::pair<int64_t, int64_t>& kc) { return kc; })
      .sink_to(FileSink<std::pair<int64_t, int64_t>>::for_row_format(
                   dir.sub("out"),
                   [](const std::pair<int64_t, int64_t>& kc, std::string& out) {
                     out += std::to_string(kc.first) + " " + std::to_string(kc.second) + "\n";
                   })
                   .build());
  if (!point.empty()) testing::arm_fault(point, nth);
  auto client = env.execute_async("matrix " + point);
  client.wait();
  if (!point.empty()) {
    EXPECT_EQ(testing::faults_fired(point), 1) << point;
    EXPECT_EQ(client.get_restart_count(), 1) << point;
  }
  testing::disarm_faults();
  // Each (key, count) once: the keyed state and the files agree with the failure-free run.
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (auto& l : committed_lines(dir.sub("out"))) {
    const auto sp = l.find(' ');
    pairs.emplace_back(std::stoll(l.substr(0, sp)), std::stoll(l.substr(sp + 1)));
  }
  if (mode == CheckpointingMode::exactly_once) {
    expect_exactly_once(pairs, expected_counts(0, kN));
  } else {
    std::set<std::pair<int64_t, int64_t>> got(pairs.begin(), pairs.end());
    for (auto& [k, n] : expected_counts(0, kN)) {
      for (int64_t c = 1; c <= n; ++c) ASSERT_TRUE(got.count({k, c})) << "lost (" << k << ", " << c << ")";
    }
  }
}

class Matrix : public ::testing::TestWithParam<PB> {};
TEST_P(Matrix, NoFault) { run_matrix("", 0, GetParam()); }
TEST_P(Matrix, FailDuringProcessing) { run_matrix("task.process", 60, GetParam()); }
TEST_P(Matrix, FailDuringSynchronousSnapshot) { run_matrix("checkpoint.sync", 3, GetParam()); }
TEST_P(Matrix, FailDuringAsynchronousWrite) { run_matrix("checkpoint.async_write", 2, GetParam()); }
TEST_P(Matrix, FailBetweenPreCommitAndCommit) { run_matrix("sink.commit", 2, GetParam()); }
TEST_P(Matrix, FailRightAfterPreCommit) { run_matrix("sink.pre_commit", 2, GetParam()); }
TEST_P(Matrix, FileSystemWriteFails) { run_matrix("fs.write", 3, GetParam()); }
TEST_P(Matrix, FileSystemTornWrite) { run_matrix("fs.torn_write", 4, GetParam()); }
TEST_P(Matrix, FileSystemFsyncFails) { run_matrix("fs.fsync", 5, GetParam()); }
TEST_P(Matrix, FileSystemRenameFails) { run_matrix("fs.rename", 6, GetParam()); }
TEST_P(Matrix, AtLeastOnceLosesNothing) { run_matrix("task.process", 60, GetParam(), CheckpointingMode::at_least_once); }
INSTANTIATE_TEST_SUITE_P(Backends, Matrix, WEIR_PARALLELISM_AND_BACKENDS);

}  // namespace
}  // namespace weir::cptest

namespace weir::cptest {
namespace {

namespace fs = std::filesystem;

void touch(const std::string& path) { std::ofstream(path) << "leftover\n"; }

std::set<std::string> hidden_files(const std::string& dir) {
  std::set<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] == '.') out.insert(name);
  }
  return out;
}

TEST(FileSinkLeftovers, HiddenPartFilesOfOtherRunsAreRemovedWhenTheSinkFinishes) {
  TempDir dir;
  const std::string out = dir.sub("out");
  fs::create_directories(out);
  // A killed run at parallelism 6 left these; subtask s of 2 removes those of s, s + 2, s + 4.
  const std::vector<std::string> leftovers = {".part-0-0123456789abcdef-3.inprogress", ".part-1-0123456789abcdef-0.pending",
                                              ".part-5-fedcba9876543210-7.pending", ".part-4-fedcba9876543210-12.inprogress"};
  // Not this sink's pattern: never touched.
  const std::set<std::string> foreign = {".other-0-0123456789abcdef-1.inprogress", ".part-0-notahexrun-1.pending",
                                         ".part-0-0123456789abcdef-1.tmp"};
  for (const auto& f : leftovers) touch(out + "/" + f);
  for (const auto& f : foreign) touch(out + "/" + f);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.from_source(DataGeneratorSource<Ev>(make_event, 5000), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .sink_to(seq_sink(out, 16 << 10));
  env.execute("leftovers");
  EXPECT_EQ(hidden_files(out), foreign);
  expect_each_once(committed_lines(out), 5000);
}

TEST(FileSinkLeftovers, FilesOfAFailedAttemptAreRemovedWhenTheSinkRestores) {
  for (const int p : {1, 2, 4}) {
    SCOPED_TRACE("parallelism " + std::to_string(p));
    testing::disarm_faults();
    TempDir dir;
    const std::string out = dir.sub("out");
    constexpr int64_t kN = 12000;
    auto limit = std::make_shared<std::atomic<int64_t>>(3000);
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(p);
    env.enable_checkpointing(3600 * 1000);
    env.set_checkpoint_storage(dir.sub("checkpoints"));
    env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(1);
    env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(5)));
    count_into_files(env, kN, limit, out);
    auto client = env.execute_async("orphans");
    wait_for_input(client, 3000);
    client.trigger_checkpoint().get();
    limit->store(6000);
    wait_for_input(client, 6000);
    // A checkpoint that never completes pre-commits (a `.pending` file) and then fails.
    testing::arm_fault("checkpoint.async_write", 1);
    EXPECT_THROW(client.trigger_checkpoint().get(), StateError);
    testing::disarm_faults();
    const auto first_attempt = hidden_files(out);
    ASSERT_FALSE(first_attempt.empty()) << "the records after the checkpoint are in hidden files";
    testing::arm_fault("task.process", 1);
    for (int i = 0; i < 10000 && !(client.get_restart_count() == 1 && client.get_job_status() == JobStatus::running); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    testing::disarm_faults();
    ASSERT_EQ(client.get_restart_count(), 1);
    wait_for_input(client, 3000);  // the new attempt replays 3000..5999: every sink has opened
    for (const auto& f : first_attempt) EXPECT_FALSE(fs::exists(out + "/" + f)) << f << " outlived its attempt";
    limit->store(INT64_MAX);
    client.wait();
    EXPECT_EQ(hidden_files(out), std::set<std::string>{});
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (auto& l : committed_lines(out)) {
      const auto sp = l.find(' ');
      pairs.emplace_back(std::stoll(l.substr(0, sp)), std::stoll(l.substr(sp + 1)));
    }
    expect_exactly_once(pairs, expected_counts(0, kN));
  }
}

struct CountTxn {
  int64_t n = 0;
};
WEIR_SERDE(CountTxn, n)

/// Its abort fails, as a file system that went away.
struct AbortFails final : TwoPhaseCommitSink<int64_t, CountTxn> {
  CountTxn begin_transaction() override { return {}; }
  void invoke(CountTxn& t, const int64_t&, SinkContext&) override { ++t.n; }
  void pre_commit(CountTxn&) override {}
  void commit(CountTxn&) override {}
  void abort(CountTxn&) override { throw std::runtime_error("the disk went away"); }
};

TEST(TwoPhaseCommit, AFailingAbortAtCloseIsReportedWithItsCause) {
  weir::detail::TwoPhaseCommitSinkOperator<int64_t, CountTxn, AbortFails> op{AbortFails{}};
  runtime::TaskInfo info;
  info.task_name = "sink task";
  op.set_name("my sink");
  op.setup(info);
  op.open();
  try {
    op.close();
    ADD_FAILURE() << "the failed abort was swallowed";
  } catch (const StateError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("my sink"), std::string::npos) << m;
    EXPECT_NE(m.find("aborting the open transaction failed: the disk went away"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace weir::cptest
