#pragma once
/// What a `JobClient` controls: a job running in this process (`runtime::JobRun`), or one
/// running on a cluster (`src/cluster/`), behind one interface.
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/api/job.hpp"

namespace weir::detail {

class JobHandle {
 public:
  virtual ~JobHandle() = default;
  virtual const std::string& id() const = 0;
  virtual JobStatus status() const = 0;
  virtual void cancel() = 0;
  virtual JobExecutionResult wait() = 0;
  virtual std::shared_future<JobExecutionResult> result_future() const = 0;
  virtual std::vector<TaskMetrics> metrics() const = 0;
  virtual int restart_count() const = 0;
  virtual std::size_t peak_queued_bytes() const = 0;
  virtual std::future<std::string> trigger_savepoint(const std::string& dir, bool stop) = 0;
  virtual std::future<std::string> trigger_checkpoint() = 0;
  virtual CheckpointStats checkpoint_stats() const = 0;
};

/// Where `submit_job` sends a job instead of running it in this process: set by cluster mode
/// (src/cluster/) when the process was started by `weir submit` or by a worker. Returns nothing
/// to let the job run embedded.
using ClusterSubmit = std::function<std::optional<JobClient>(EnvState& env, const std::string& job_name)>;
void set_cluster_submit(ClusterSubmit hook);

}  // namespace weir::detail
