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
#include "system/cluster_support.h"

namespace {

using namespace weir::systest;
using weir::testsupport::TempDir;
using namespace std::chrono_literals;

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
  EXPECT_EQ(committed_lines(dir.sub("out")), window_reference(n)) << cluster.logs() << "\nfiles:\n"
                                                                  << run_command({"/bin/ls", "-la", dir.sub("out")}, {}, dir.sub("ls.log")).second;
  const auto [ecode, eout] = run_command({CLUSTER_JOB_PATH, "window", dir.sub("embedded"), std::to_string(n), "--parallelism", "3"}, {},
                                         dir.sub("embedded.log"), 120s);
  ASSERT_EQ(ecode, 0) << eout;
  EXPECT_EQ(committed_lines(dir.sub("embedded")), window_reference(n));
}

std::vector<std::string> join_reference(int64_t count) {
  std::vector<std::string> out;
  for (int64_t l = 0; l < count; ++l) {
    for (int64_t r = (l / 100) * 100; r < (l / 100 + 1) * 100 && r < count; r += 2) {
      if (r / 2 < count / 2 && l % kKeys == r % kKeys) out.push_back(std::to_string(l) + "," + std::to_string(r));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Cluster, WindowJoinMatchesTheSequentialReferenceAndTheEmbeddedRun) {
  TempDir dir;
  LocalCluster cluster(dir, 2, 2);
  const int64_t n = 3000;
  const auto [code, out] = run_command({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), "-p", "4", CLUSTER_JOB_PATH,
                                        "join", dir.sub("out"), std::to_string(n), "--checkpoint", "50"},
                                       {}, dir.sub("submit.log"), 120s);
  ASSERT_EQ(code, 0) << out << cluster.logs();
  const auto want = join_reference(n);
  const auto got = committed_lines(dir.sub("out"));
  EXPECT_EQ(got, want) << cluster.logs();
  if (got != want) {
    std::vector<std::string> missing;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
    std::string m;
    for (const auto& x : missing) m += x + " ";
    ADD_FAILURE() << missing.size() << " missing: " << m.substr(0, 3000);
  }
  const auto [ecode, eout] = run_command({CLUSTER_JOB_PATH, "join", dir.sub("embedded"), std::to_string(n), "--parallelism", "4"}, {},
                                         dir.sub("embedded.log"), 120s);
  ASSERT_EQ(ecode, 0) << eout;
  EXPECT_EQ(committed_lines(dir.sub("embedded")), want);
}

TEST(Cluster, SavepointThenStopWithSavepointThenResumeIsExactlyOnceOverall) {
  TempDir dir;
  LocalCluster cluster(dir, 2, 1);
  const int64_t n = 60000;
  const std::vector<std::string> job = {CLUSTER_JOB_PATH, "keyed", dir.sub("out"), std::to_string(n), "--parallelism", "2",
                                        "--checkpoint", "200", "--slow-every", "5"};
  std::vector<std::string> argv = {WEIR_CLI_PATH, "submit", "--coordinator", cluster.address()};
  argv.insert(argv.end(), job.begin(), job.end());
  Process submit(argv, {}, dir.sub("submit.log"));
  ASSERT_TRUE(wait_for_checkpoint(dir, cluster.address(), 15s)) << cluster.logs();
  const auto list = run_command({WEIR_CLI_PATH, "list", "--coordinator", cluster.address(), "--json"}, {}, dir.sub("list.log")).second;
  const auto id = list.substr(list.find("\"id\":\"") + 6, 32);
  const auto [sc, so] = run_command({WEIR_CLI_PATH, "savepoint", id, dir.sub("sp1"), "--coordinator", cluster.address()}, {},
                                    dir.sub("sp1.log"));
  ASSERT_EQ(sc, 0) << so << cluster.logs();
  EXPECT_NE(so.find("Savepoint completed: "), std::string::npos) << so;
  EXPECT_TRUE(std::filesystem::exists(dir.sub("sp1") + "/_metadata")) << so;
  const auto [tc, to] = run_command({WEIR_CLI_PATH, "stop", id, "--savepoint", dir.sub("sp2"), "--coordinator", cluster.address()}, {},
                                    dir.sub("stop.log"));
  ASSERT_EQ(tc, 0) << to << cluster.logs();
  EXPECT_NE(to.find("FINISHED"), std::string::npos) << to;
  ASSERT_EQ(submit.wait(60s).value_or(-1), 0) << submit.output() << cluster.logs();
  const auto stopped_at = committed_lines(dir.sub("out")).size();
  EXPECT_LT(stopped_at, static_cast<std::size_t>(n)) << "the job ended before it was stopped; make it slower";
  // Resume from the stop's savepoint: both runs' committed output together is exactly once.
  argv.push_back("--restore");
  argv.push_back(dir.sub("sp2"));
  const auto [rc, ro] = run_command(argv, {}, dir.sub("resume.log"), 120s);
  ASSERT_EQ(rc, 0) << ro << cluster.logs();
  expect_keyed_exactly_once(committed_lines(dir.sub("out")), n);
}

TEST(Cluster, AFailedJobMakesSubmitExit1WithTheCauseEvenWhenTheProgramDoesNotCatchIt) {
  TempDir dir;
  LocalCluster cluster(dir, 1, 1);
  const auto [code, out] = run_command({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), CLUSTER_JOB_PATH, "fail",
                                        dir.sub("out"), "100", "--parallelism", "1"},
                                       {}, dir.sub("submit.log"), 60s);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("seven is not allowed"), std::string::npos) << out;
  EXPECT_NE(out.find("weir submit: "), std::string::npos) << out;
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
                  std::to_string(n), "--parallelism", "2", "--checkpoint", "200", "--slow-every", "5"},
                 {}, dir.sub("submit.log"));
  // Once a checkpoint has completed, kill a worker that runs part of the job.
  ASSERT_TRUE(cluster.coordinator().wait_for_output("runs", 30s)) << cluster.logs();
  ASSERT_TRUE(wait_for_checkpoint(dir, cluster.address(), 15s)) << cluster.logs();
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

/// Resident memory of a process, in bytes (0 when it is gone).
int64_t rss_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}

/// The task processes of the cluster job running `mode` (its program, children of workers).
std::vector<pid_t> job_processes(const std::string& mode) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find("cluster_job") != std::string::npos && cmd.find(std::string(1, '\0') + mode + '\0') != std::string::npos) {
      std::ifstream env(e.path() / "environ");
      std::string vars((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
      if (vars.find("WEIR_TASK_DEPLOYMENT=") != std::string::npos) out.push_back(std::atoi(name.c_str()));
    }
  }
  return out;
}

TEST(ClusterBackpressure, ASlowConsumerOnAnotherWorkerKeepsProducerMemoryFlatAndCheckpointsComplete) {
  TempDir dir;
  LocalCluster cluster(dir, 2, 1);
  Process submit({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), "--detached", CLUSTER_JOB_PATH, "slow",
                  dir.sub("out"), "1000000000", "--parallelism", "2", "--checkpoint", "100"},
                 {}, dir.sub("submit.log"));
  ASSERT_EQ(submit.wait(60s).value_or(-1), 0) << submit.output() << cluster.logs();
  ASSERT_TRUE(cluster.coordinator().wait_for_output("attempt 0 runs", 30s)) << cluster.logs();
  std::vector<pid_t> procs;
  for (int i = 0; i < 200 && procs.size() < 2; ++i) {
    procs = job_processes("slow");
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(procs.size(), 2u) << cluster.logs();
  // Let the channels fill, then watch memory for 3 s while the source could produce gigabytes.
  std::this_thread::sleep_for(1s);
  std::vector<int64_t> first, peak;
  for (pid_t p : procs) first.push_back(rss_of(p));
  peak = first;
  const auto [c0, l0] = run_command({WEIR_CLI_PATH, "list", "--coordinator", cluster.address(), "--json"}, {}, dir.sub("l0.log"));
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(100ms);
    for (std::size_t k = 0; k < procs.size(); ++k) peak[k] = std::max(peak[k], rss_of(procs[k]));
  }
  for (std::size_t k = 0; k < procs.size(); ++k) {
    std::printf("task process %d: %lld KiB after 1 s, peak %lld KiB over the next 3 s\n", procs[k],
                static_cast<long long>(first[k] / 1024), static_cast<long long>(peak[k] / 1024));
    EXPECT_LT(peak[k] - first[k], 32 << 20) << "memory grew under backpressure";
  }
  const auto checkpoints = [](const std::string& json) {
    const auto at = json.find("\"checkpoints\":");
    return at == std::string::npos ? -1 : std::atoll(json.c_str() + at + 14);
  };
  // Checkpoints keep completing under backpressure: five more than before the memory window
  // (one is triggered every 100 ms; a loaded machine may take longer than the window for five).
  std::string l1;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  do {
    l1 = run_command({WEIR_CLI_PATH, "list", "--coordinator", cluster.address(), "--json"}, {}, dir.sub("l1.log")).second;
    if (checkpoints(l1) - checkpoints(l0) >= 5) break;
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  std::printf("completed checkpoints: %lld after 1 s, %lld at the end\n", static_cast<long long>(checkpoints(l0)),
              static_cast<long long>(checkpoints(l1)));
  EXPECT_GE(checkpoints(l1) - checkpoints(l0), 5) << l0 << l1 << cluster.logs();
  const auto id = l1.substr(l1.find("\"id\":\"") + 6, 32);
  const auto [cc, co] = run_command({WEIR_CLI_PATH, "cancel", "--coordinator", cluster.address(), id}, {}, dir.sub("cancel.log"));
  EXPECT_EQ(cc, 0) << co;
  EXPECT_NE(co.find("CANCELED"), std::string::npos) << co;
}

}  // namespace
