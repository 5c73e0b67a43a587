#include "cluster/ha.h"

#include <thread>

#include <spdlog/spdlog.h>

namespace weir::cluster {

HighAvailability::HighAvailability(const std::string& url, std::string candidate, std::chrono::milliseconds ttl)
    : address_(parse_etcd_address(url)) {
  client_ = std::make_unique<EtcdClient>(address_.endpoints);
  election_ = std::make_unique<LeaderElection>(*client_, address_.prefix, std::move(candidate), ttl);
  store_ = std::make_unique<JobStore>(*client_, address_.prefix);
}

HighAvailability::~HighAvailability() { stop(); }

void HighAvailability::start(std::function<void()> on_elected, std::function<void()> on_revoked) {
  // The election clears its leadership before on_revoked runs: writes stop being made then.
  election_->start([on_elected](const Fence&) { on_elected(); }, [on_revoked] { on_revoked(); });
}

void HighAvailability::stop() {
  if (election_) election_->resign();
}

std::string HighAvailability::current_leader() {
  try {
    return election_->current_leader().value_or("");
  } catch (const std::exception& e) {
    return std::string("unknown (") + e.what() + ")";
  }
}

HighAvailability::Recorded HighAvailability::fenced_write(
    const std::string& what, const std::function<bool(const Fence&, std::chrono::steady_clock::time_point)>& write) {
  // A write without an answer may have been applied: the outcome is unknown from then on,
  // unless the same write, sent again while this coordinator still leads, gets an answer.
  bool sent = false;
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto l = election_->leadership();
    if (!l) break;
    try {
      if (write(l->first, l->second)) return Recorded::yes;
      // The fence refused it: another leads. An earlier send may have landed before that.
      return sent ? Recorded::unknown : Recorded::no;
    } catch (const std::exception& e) {
      sent = true;
      spdlog::error("coordinator: no answer from etcd to {} (attempt {}): {}", what, attempt + 1, e.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!sent) return Recorded::no;  // never sent: not leading
  spdlog::error("coordinator: cannot tell whether etcd took {}", what);
  return Recorded::unknown;
}

HighAvailability::Recorded HighAvailability::put_job(const std::string& id, const std::string& spec) {
  return fenced_write("the record of job " + id,
                      [&](const Fence& f, std::chrono::steady_clock::time_point until) { return store_->put_job(f, id, spec, until); });
}

HighAvailability::Recorded HighAvailability::remove_job(const std::string& id) {
  return fenced_write("the removal of job " + id,
                      [&](const Fence& f, std::chrono::steady_clock::time_point until) { return store_->remove_job(f, id, until); });
}

HighAvailability::Recorded HighAvailability::put_checkpoint(const std::string& id, const std::string& path) {
  return fenced_write("the record of job " + id + "'s checkpoint " + path,
                      [&](const Fence& f, std::chrono::steady_clock::time_point until) {
                        return store_->put_checkpoint(f, id, path, until);
                      });
}

std::vector<std::pair<std::string, std::string>> HighAvailability::jobs() { return store_->jobs(); }

std::string HighAvailability::checkpoint(const std::string& id) { return store_->checkpoint(id).value_or(""); }

}  // namespace weir::cluster
