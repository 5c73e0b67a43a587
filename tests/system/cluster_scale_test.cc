// The control plane at scale (`make system-test`, not `make test`): 100 worker processes on
// loopback with 2 slots each register; a job of parallelism 200 is scheduled and checkpoints
// every second. Prints the time to schedule and the checkpoint coordination time.
#include <gtest/gtest.h>

#include "system/cluster_support.h"

namespace {

using namespace weir::systest;

int64_t json_number(const std::string& json, const std::string& field) {
  const auto at = json.find("\"" + field + "\":");
  return at == std::string::npos ? -1 : std::atoll(json.c_str() + at + field.size() + 3);
}

TEST(ClusterScale, HundredWorkersTwoHundredSubtasksCheckpointEverySecond) {
  const int workers = std::getenv("WEIR_SCALE_WORKERS") ? std::atoi(std::getenv("WEIR_SCALE_WORKERS")) : 100;
  TempDir dir;
  LocalCluster cluster(dir, 0, 2, {"--heartbeat-interval", "1000", "--heartbeat-timeout", "20000"});
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < workers; ++i) cluster.add_worker(2, false);
  for (int i = 0; i < workers; ++i) {
    ASSERT_TRUE(cluster.worker(i).wait_for_output("registered with the coordinator", 120s)) << cluster.worker(i).output();
  }
  const auto registered = std::chrono::steady_clock::now();
  Process submit({WEIR_CLI_PATH, "submit", "--coordinator", cluster.address(), "--detached", CLUSTER_JOB_PATH, "idle",
                  dir.sub("out"), "1000000000000", "--parallelism", std::to_string(2 * workers), "--checkpoint", "1000"},
                 {}, dir.sub("submit.log"));
  ASSERT_EQ(submit.wait(120s).value_or(-1), 0) << submit.output();
  const auto submitted = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster.coordinator().wait_for_output("attempt 0 runs", 300s)) << cluster.coordinator().output();
  const auto running = std::chrono::steady_clock::now();
  // Five checkpoints.
  std::string json;
  for (int i = 0; i < 600; ++i) {
    json = run_command({WEIR_CLI_PATH, "list", "--coordinator", cluster.address(), "--json"}, {}, dir.sub("list.log")).second;
    if (json_number(json, "checkpoints") >= 5) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(json_number(json, "checkpoints"), 5) << json << cluster.coordinator().output();
  const auto ms = [](auto d) { return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
  std::printf("%d workers registered in %lld ms; job of parallelism %d: submitted (weir submit returned) in %lld ms, all %d "
              "processes attached and running %lld ms after that; checkpoints: %lld completed, the last took %lld ms "
              "(trigger to complete, %d tasks acknowledging)\n",
              workers, ms(registered - t0), 2 * workers, ms(submitted - registered), workers, ms(running - submitted),
              static_cast<long long>(json_number(json, "checkpoints")), static_cast<long long>(json_number(json, "last_checkpoint_ms")),
              2 * workers);
  const auto id = json.substr(json.find("\"id\":\"") + 6, 32);
  run_command({WEIR_CLI_PATH, "cancel", "--coordinator", cluster.address(), id}, {}, dir.sub("cancel.log"));
}

}  // namespace
