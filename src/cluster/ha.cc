#include "cluster/ha.h"

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
  election_->start(
      [this, on_elected](const Fence& f) {
        {
          std::lock_guard lock(mu_);
          fence_ = f;
        }
        on_elected();
      },
      [this, on_revoked] {
        {
          std::lock_guard lock(mu_);
          fence_.reset();
        }
        on_revoked();
      });
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

std::optional<Fence> HighAvailability::fence() {
  std::lock_guard lock(mu_);
  return fence_;
}

bool HighAvailability::put_job(const std::string& id, const std::string& spec) {
  auto f = fence();
  if (!f) return false;
  try {
    return store_->put_job(*f, id, spec);
  } catch (const std::exception& e) {
    spdlog::error("coordinator: cannot keep job {} in etcd: {}", id, e.what());
    return false;
  }
}

bool HighAvailability::remove_job(const std::string& id) {
  auto f = fence();
  if (!f) return false;
  try {
    return store_->remove_job(*f, id);
  } catch (const std::exception& e) {
    spdlog::error("coordinator: cannot remove job {} from etcd: {}", id, e.what());
    return false;
  }
}

bool HighAvailability::put_checkpoint(const std::string& id, const std::string& path) {
  auto f = fence();
  if (!f) return false;
  try {
    return store_->put_checkpoint(*f, id, path);
  } catch (const std::exception& e) {
    spdlog::error("coordinator: cannot record job {}'s checkpoint in etcd: {}", id, e.what());
    return false;
  }
}

std::vector<std::pair<std::string, std::string>> HighAvailability::jobs() { return store_->jobs(); }

std::string HighAvailability::checkpoint(const std::string& id) { return store_->checkpoint(id).value_or(""); }

}  // namespace weir::cluster
