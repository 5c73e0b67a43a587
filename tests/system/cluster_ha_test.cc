// High availability with real processes: etcd, two coordinators (leader and standby), workers
// that know both; the leader is killed with SIGKILL mid-stream and the standby takes the job over
// from its latest checkpoint, with nothing lost or duplicated in the committed output.
#include <gtest/gtest.h>

#include "cluster/tests/etcd_process.h"
#include "system/cluster_support.h"

namespace {

using namespace weir::systest;
using weir::cluster::testing::EtcdProcess;

/// The index of the coordinator that says it leads (-1: none within the timeout).
int leader_of(LocalCluster& cluster, int coordinators, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    for (int c = 0; c < coordinators; ++c) {
      if (cluster.coordinator(c).output().find(" leads (") != std::string::npos) return c;
    }
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

TEST(ClusterHa, KillingTheLeaderHandsTheJobToTheStandbyWithNothingLostOrDuplicated) {
  TempDir dir;
  EtcdProcess etcd(dir.sub("etcd"));
  const std::string ha = "etcd://" + etcd.endpoint() + "/weir-test";
  LocalCluster cluster(dir, 2, 2, {"--ha", ha, "--heartbeat-interval", "200", "--heartbeat-timeout", "2000"}, 2);
  const int leader = leader_of(cluster, 2, 20s);
  ASSERT_GE(leader, 0) << cluster.logs();
  const int64_t n = 60000;
  Process submit({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), CLUSTER_JOB_PATH, "keyed", dir.sub("out"),
                  std::to_string(n), "--parallelism", "2", "--checkpoint", "200", "--slow-every", "5"},
                 {}, dir.sub("submit.log"));
  ASSERT_TRUE(wait_for_checkpoint(dir, cluster.address_of(leader), 20s)) << cluster.logs();
  ASSERT_FALSE(submit.wait(0ms).has_value()) << "the job ended before the kill; make it slower" << submit.output();
  const auto killed = std::chrono::steady_clock::now();
  cluster.coordinator(leader).signal(SIGKILL);
  const int standby = 1 - leader;
  ASSERT_TRUE(cluster.coordinator(standby).wait_for_output(" leads (1 jobs", 30s)) << cluster.logs();
  ASSERT_TRUE(cluster.coordinator(standby).wait_for_output("attempt 0 runs", 30s)) << cluster.logs();
  const auto recovered = std::chrono::steady_clock::now();
  std::printf("recovery: %lld ms from kill -9 of the leader to the job running under the new leader\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(recovered - killed).count()));
  EXPECT_NE(cluster.coordinator(standby).output().find("from checkpoint"), std::string::npos) << cluster.logs();
  const auto code = submit.wait(120s);
  ASSERT_TRUE(code.has_value()) << cluster.logs();
  ASSERT_EQ(*code, 0) << submit.output() << cluster.logs();
  expect_keyed_exactly_once(committed_lines(dir.sub("out")), n);
}

}  // namespace
