#pragma once
/// Cluster mode inside a job's own program. `env.execute()` in a process started by
/// `weir submit` (WEIR_COORDINATOR set) submits the job to the coordinator; in a process a
/// worker started for a job attempt (WEIR_TASK_DEPLOYMENT set) it runs that process's part of
/// the job and then ends the process. Otherwise the job runs embedded.
#include <optional>
#include <string>

#include "weir/api/job.hpp"

namespace weir::cluster {

/// The job graph's fingerprint: every process of a job must build the same graph.
std::string graph_fingerprint(const std::string& job_graph_json);

/// Registers the hook `submit_job` calls (done once, when libweir loads).
void install_cluster_submit();

}  // namespace weir::cluster
