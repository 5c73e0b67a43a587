#pragma once
/// High availability of the coordinator on etcd: the election of the leader among the
/// coordinators given the same `--ha etcd://HOST:PORT/PREFIX`, and the job submissions and
/// latest completed checkpoints the leader keeps there (writes fenced by its leadership).
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/etcd.h"

namespace weir::cluster {

class HighAvailability {
 public:
  /// Throws std::invalid_argument on a malformed address.
  HighAvailability(const std::string& url, std::string candidate, std::chrono::milliseconds ttl);
  ~HighAvailability();
  /// Campaigns on its own thread; `on_elected` / `on_revoked` run when it wins / may have lost.
  void start(std::function<void()> on_elected, std::function<void()> on_revoked);
  /// Resigns (when leading) and stops campaigning.
  void stop();
  std::string current_leader();
  /// Leads now, by this process's own clock (false as soon as the lease may have expired).
  bool is_leader() const { return election_->is_leader(); }

  // Fenced writes (false: this coordinator no longer leads, or etcd did not answer) and reads
  // of the job metadata. Each write ends by the leadership's deadline: once this coordinator
  // can no longer be sure it leads, none of its writes is still under way.
  enum class Recorded {
    yes,      ///< etcd has the write
    no,       ///< it does not (not leading, or the fence refused the write)
    unknown,  ///< etcd did not answer in time: it may or may not have it
  };
  /// Each write is sent again while it gets no answer and this coordinator leads (at most 10
  /// times, each within the leadership's deadline; every write here is idempotent), so a lost
  /// answer is settled when it can be.
  Recorded put_job(const std::string& id, const std::string& spec);
  Recorded remove_job(const std::string& id);
  /// etcd names `path` as the job's latest checkpoint.
  Recorded put_checkpoint(const std::string& id, const std::string& path);
  std::vector<std::pair<std::string, std::string>> jobs();
  std::string checkpoint(const std::string& id);

 private:
  /// Runs `write(fence, deadline)` as described for put_job; `what` names it in the log.
  Recorded fenced_write(const std::string& what,
                        const std::function<bool(const Fence&, std::chrono::steady_clock::time_point)>& write);
  EtcdAddress address_;
  std::unique_ptr<EtcdClient> client_;
  std::unique_ptr<LeaderElection> election_;
  std::unique_ptr<JobStore> store_;
};

}  // namespace weir::cluster
