#pragma once
/// Running jobs: the handle of a submitted job (settings and results: weir/runtime/execution.hpp).
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "weir/runtime/execution.hpp"
#include "weir/runtime/internal/logical_graph.hpp"

namespace weir {

namespace runtime {
class JobRun;
}
namespace detail {
class JobHandle;  // a job running in this process, or on a cluster (src/api/job_handle.h)
}

/// The handle of a submitted job. Destroying it cancels the job if it is still running and
/// waits for its tasks to end, so no thread outlives it.
class JobClient {
 public:
  explicit JobClient(std::shared_ptr<runtime::JobRun> run);
  explicit JobClient(std::shared_ptr<detail::JobHandle> job);
  JobClient(JobClient&&) noexcept;
  JobClient& operator=(JobClient&&) noexcept;
  ~JobClient();

  const std::string& get_job_id() const;
  JobStatus get_job_status() const;
  /// Asks every task to stop; returns at once. `wait()` then throws a JobFailure saying so.
  void cancel();
  /// Blocks until the job ends; returns its result or throws JobFailure with the root cause.
  JobExecutionResult wait();
  /// The job's result, ready when it ends.
  std::shared_future<JobExecutionResult> get_job_execution_result() const;
  std::vector<TaskMetrics> metrics() const;
  /// How often the job restarted after a failure.
  int get_restart_count() const;
  /// The most bytes that were queued in the job's channels at once (bounded by the channel
  /// capacities, whatever the input size).
  std::size_t peak_queued_bytes() const;

  /// Takes a savepoint into folder `dir` (created; it must not hold one already). The future
  /// holds the folder, or throws StateError when the savepoint failed.
  std::future<std::string> trigger_savepoint(const std::string& dir);
  /// Takes a savepoint, then stops the job (sources emit nothing after it; the job ends
  /// FINISHED without flushing windows). The future holds the folder.
  std::future<std::string> stop_with_savepoint(const std::string& dir);
  /// Takes a checkpoint now (besides the periodic ones). The future holds its folder.
  std::future<std::string> trigger_checkpoint();
  CheckpointStats get_checkpoint_stats() const;

 private:
  std::shared_ptr<detail::JobHandle> run_;
};

namespace detail {

struct EnvAccess;

/// The state behind a StreamExecutionEnvironment and the streams made from it.
struct EnvState {
  ExecutionConfig config;
  LogicalGraph graph;
};

/// Builds the job graph of the sinks declared since the previous job (throwing GraphError on
/// misuse), marks them executed and starts the job; the environment keeps its graph.
JobClient submit_job(EnvState& env, const std::string& job_name);
/// The chained job graph as JSON, without running it.
std::string execution_plan(const EnvState& env);

}  // namespace detail
}  // namespace weir
