// Cluster mode with real processes on loopback: a coordinator, worker processes, jobs submitted
// with `weir submit`; results compared with the same job run embedded and with a sequential
// reference; a worker killed with SIGKILL mid-stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "support/test_support.h"
#include "system/process_support.h"

namespace {

using weir::systest::Process;
using weir::systest::run_command;
using weir::testsupport::TempDir;
using namespace std::chrono_literals;

constexpr int64_t kKeys = 37;

/// Committed lines of a FileSink folder (hidden in-progress/pending files excluded).
std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind('.', 0) == 0) continue;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Every (key, c) for c in 1..n(key) once, and every value once.
void expect_keyed_exactly_once(const std::vector<std::string>& lines, int64_t count) {
  std::map<int64_t, std::vector<int64_t>> counts;
  std::vector<int64_t> values;
  for (const auto& l : lines) {
    int64_t k = 0, c = 0, v = 0;
    ASSERT_EQ(std::sscanf(l.c_str(), "%ld,%ld,%ld", &k, &c, &v), 3) << l;
    EXPECT_EQ(v % kKeys, k) << l;
    counts[k].push_back(c);
    values.push_back(v);
  }
  EXPECT_EQ(static_cast<int64_t>(lines.size()), count) << "records committed (losses or duplicates)";
  std::sort(values.begin(), values.end());
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()) && i < count; ++i) {
    if (values[static_cast<std::size_t>(i)] != i) {
      ADD_FAILURE() << "value " << i << " lost or duplicated";
      break;
    }
  }
  for (int64_t k = 0; k < kKeys; ++k) {
    auto& v = counts[k];
    std::sort(v.begin(), v.end());
    const int64_t n = count / kKeys + (k < count % kKeys ? 1 : 0);
    ASSERT_EQ(static_cast<int64_t>(v.size()), n) << "key " << k;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i + 1) << "key " << k;
  }
}

std::vector<std::string> window_reference(int64_t count) {
  std::map<std::pair<int64_t, int64_t>, int64_t> sums;
  for (int64_t v = 0; v < count; ++v) sums[{v % kKeys, v / 1000 * 1000}] += v;
  std::vector<std::string> out;
  for (auto& [kw, s] : sums) out.push_back(std::to_string(kw.first) + "," + std::to_string(kw.second) + "," + std::to_string(s));
  std::sort(out.begin(), out.end());
  return out;
}

/// A coordinator and workers on loopback, stopped when the test ends.
class LocalCluster {
 public:
  LocalCluster(const TempDir& dir, int workers, int slots, std::vector<std::string> coordinator_args = {})
      : dir_(dir) {
    std::vector<std::string> argv = {WEIR_CLI_PATH, "coordinator", "--bind", "127.0.0.1:0", "--checkpoint-dir", dir.sub("checkpoints")};
    argv.insert(argv.end(), coordinator_args.begin(), coordinator_args.end());
    coordinator_ = std::make_unique<Process>(argv, std::vector<std::string>{}, dir.sub("coordinator.log"));
    // It prints its address alone on a line (its log lines go to the same file here).
    address_ = coordinator_->first_line(20s, [](const std::string& l) {
      return !l.empty() && l.find_first_not_of("0123456789.:") == std::string::npos;
    });
    for (int i = 0; i < workers; ++i) add_worker(slots);
  }
  void add_worker(int slots) {
    const int i = static_cast<int>(workers_.size());
    workers_.push_back(std::make_unique<Process>(
        std::vector<std::string>{WEIR_CLI_PATH, "worker", "--coordinator", address_, "--slots", std::to_string(slots), "--id",
                                 "w" + std::to_string(i), "--work-dir", dir_.sub("worker" + std::to_string(i))},
        std::vector<std::string>{}, dir_.sub("worker" + std::to_string(i) + ".log")));
    EXPECT_TRUE(workers_.back()->wait_for_output("registered with the coordinator", 20s)) << workers_.back()->output();
  }
  const std::string& address() const { return address_; }
  Process& coordinator() { return *coordinator_; }
  Process& worker(int i) { return *workers_[static_cast<std::size_t>(i)]; }
  std::string logs() {
    std::string s = "--- coordinator:\n" + coordinator_->output();
    for (std::size_t i = 0; i < workers_.size(); ++i) s += "--- worker " + std::to_string(i) + ":\n" + workers_[i]->output();
    return s;
  }

 private:
  const TempDir& dir_;
  std::string address_;
  std::unique_ptr<Process> coordinator_;
  std::vector<std::unique_ptr<Process>> workers_;
};

class ClusterKeyed : public ::testing::TestWithParam<int> {};

TEST_P(ClusterKeyed, SameResultsAsEmbeddedAndExactlyOnce) {
  const int p = GetParam();
  TempDir dir;
  LocalCluster cluster(dir, 2, 2);
  ASSERT_FALSE(cluster.address().empty()) << cluster.logs();
  const int64_t n = 20000;
  const auto [code, out] = run_command({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), CLUSTER_JOB_PATH, "keyed",
                                        dir.sub("out"), std::to_string(n), "--parallelism", std::to_string(p), "--checkpoint", "100"},
                                       {}, dir.sub("submit.log"), 120s);
  ASSERT_EQ(code, 0) << out << cluster.logs();
  const auto lines = committed_lines(dir.sub("out"));
  expect_keyed_exactly_once(lines, n);
  const auto [ecode, eout] = run_command({CLUSTER_JOB_PATH, "keyed", dir.sub("embedded"), std::to_string(n), "--parallelism",
                                          std::to_string(p), "--checkpoint", "100"},
                                         {}, dir.sub("embedded.log"), 120s);
  ASSERT_EQ(ecode, 0) << eout;
  // Counts per key depend on arrival order across subtasks; the values and per-key totals must agree.
  EXPECT_EQ(lines.size(), committed_lines(dir.sub("embedded")).size());
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ClusterKeyed, ::testing::Values(1, 2, 4));

TEST(Cluster, WindowJobMatchesTheSequentialReferenceOnThreeWorkers) {
  TempDir dir;
  LocalCluster cluster(dir, 3, 1);
  const int64_t n = 30000;
  const auto [code, out] = run_command({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), "-p", "3", CLUSTER_JOB_PATH,
                                        "window", dir.sub("out"), std::to_string(n)},
                                       {}, dir.sub("submit.log"), 120s);
  ASSERT_EQ(code, 0) << out << cluster.logs();
  EXPECT_EQ(committed_lines(dir.sub("out")), window_reference(n));
  const auto [ecode, eout] = run_command({CLUSTER_JOB_PATH, "window", dir.sub("embedded"), std::to_string(n), "--parallelism", "3"}, {},
                                         dir.sub("embedded.log"), 120s);
  ASSERT_EQ(ecode, 0) << eout;
  EXPECT_EQ(committed_lines(dir.sub("embedded")), window_reference(n));
}

TEST(Cluster, AJobWaitsForSlotsThenFailsWithAClearMessage) {
  TempDir dir;
  LocalCluster cluster(dir, 1, 1);
  const auto [code, out] = run_command({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), "-p", "3", CLUSTER_JOB_PATH,
                                        "keyed", dir.sub("out"), "100"},
                                       {"WEIR_SLOT_TIMEOUT_MS=1000"}, dir.sub("submit.log"), 60s);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("could not get 3 slots"), std::string::npos) << out;
  EXPECT_NE(out.find("start more workers"), std::string::npos) << out;
}

TEST(ClusterFailover, KillingAWorkerMidStreamLosesAndDuplicatesNothing) {
  TempDir dir;
  LocalCluster cluster(dir, 3, 1, {"--heartbeat-interval", "200", "--heartbeat-timeout", "1500"});
  const int64_t n = 60000;
  Process submit({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), CLUSTER_JOB_PATH, "keyed", dir.sub("out"),
                  std::to_string(n), "--parallelism", "2", "--checkpoint", "200", "--slow-every", "20"},
                 {}, dir.sub("submit.log"));
  // Once a checkpoint has completed, kill a worker that runs part of the job.
  ASSERT_TRUE(cluster.coordinator().wait_for_output("runs", 30s)) << cluster.logs();
  bool checkpointed = false;
  for (int i = 0; i < 300 && !checkpointed; ++i) {
    const auto [c, o] = run_command({WEIR_CLI_PATH, "list", "--coordinator", cluster.address(), "--json"}, {}, dir.sub("list.log"));
    checkpointed = o.find("\"checkpoints\":0") == std::string::npos && o.find("\"checkpoints\":") != std::string::npos;
    if (!checkpointed) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(checkpointed) << cluster.logs();
  ASSERT_FALSE(submit.wait(0ms).has_value()) << "the job ended before the kill; make it slower" << submit.output();
  const auto killed = std::chrono::steady_clock::now();
  cluster.worker(0).signal(SIGKILL);
  ASSERT_TRUE(cluster.coordinator().wait_for_output("attempt 1 runs", 30s)) << cluster.logs();
  const auto recovered = std::chrono::steady_clock::now();
  std::printf("recovery: %lld ms from kill -9 to the restarted job running\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(recovered - killed).count()));
  const auto code = submit.wait(180s);
  ASSERT_TRUE(code.has_value()) << cluster.logs();
  ASSERT_EQ(*code, 0) << submit.output() << cluster.logs();
  expect_keyed_exactly_once(committed_lines(dir.sub("out")), n);
}

}  // namespace
