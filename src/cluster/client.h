#pragma once
/// Talking to a coordinator: submitting a job from its program (`weir submit`), and the CLI's
/// `weir list|cancel|savepoint|stop`. Several coordinator addresses (HA) may be given, comma
/// separated: calls go to the one that leads.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/api/job.hpp"

namespace weir::cluster {

namespace rpc {
class JobInfo;
class JobList;
class ClusterInfo;
}  // namespace rpc

class ClusterClient {
 public:
  /// `addresses`: "HOST:PORT[,HOST:PORT...]"; `secret` from WEIR_CLUSTER_SECRET when empty.
  explicit ClusterClient(std::string addresses, std::string secret = {});
  ~ClusterClient();
  std::string submit(const std::string& spec_bytes);
  rpc::JobList list();
  rpc::JobInfo get(const std::string& job_id);
  /// Returns when the job has ended (or `timeout` passed: then its status is not final).
  rpc::JobInfo wait(const std::string& job_id, std::chrono::milliseconds timeout);
  rpc::JobInfo cancel(const std::string& job_id);
  std::string savepoint(const std::string& job_id, const std::string& dir, bool stop);
  rpc::ClusterInfo cluster();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Submits the job the environment declares to the coordinator at `addresses`; the files
/// named by WEIR_SUBMIT_FILES (the first is the one to run) and the arguments in
/// WEIR_SUBMIT_ARGS (each followed by \x1f) go with it. WEIR_SUBMIT_DETACHED=1: `wait()` returns
/// at once.
JobClient submit_to_cluster(detail::EnvState& env, const std::string& job_name, const std::string& addresses);

}  // namespace weir::cluster
