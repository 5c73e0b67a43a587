#include "runtime/job_registry.h"

#include "runtime/job_run.h"

namespace weir::runtime {

namespace {
constexpr std::size_t kKeptEnded = 100;
}

JobRegistry& JobRegistry::instance() {
  static auto* registry = new JobRegistry();  // never destroyed: JobRuns may end during exit
  return *registry;
}

void JobRegistry::add(const std::shared_ptr<JobRun>& run) {
  if (auto* l = listener_.load()) l();
  std::lock_guard lock(mu_);
  entries_.push_back(Entry{run->id(), run, std::nullopt});
  std::size_t ended = 0;
  for (const auto& e : entries_) ended += e.archived ? 1 : 0;
  for (auto it = entries_.begin(); ended > kKeptEnded && it != entries_.end();) {
    if (it->archived) {
      it = entries_.erase(it);
      --ended;
    } else {
      ++it;
    }
  }
}

void JobRegistry::archive(JobSnapshot snapshot) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_) {
    if (e.id == snapshot.id) {
      e.archived = std::move(snapshot);
      return;
    }
  }
}

std::vector<JobSnapshot> JobRegistry::jobs() {
  std::vector<std::pair<std::shared_ptr<JobRun>, std::optional<JobSnapshot>>> found;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      auto run = it->run.lock();
      if (run || it->archived) found.emplace_back(std::move(run), run ? std::nullopt : it->archived);
    }
  }
  std::vector<JobSnapshot> out;
  for (auto& [run, archived] : found) out.push_back(run ? run->snapshot() : std::move(*archived));
  return out;
}

std::optional<JobSnapshot> JobRegistry::job(const std::string& id) {
  std::shared_ptr<JobRun> run;
  {
    std::lock_guard lock(mu_);
    for (auto& e : entries_) {
      if (e.id != id) continue;
      run = e.run.lock();
      if (!run) return e.archived;
    }
  }
  if (!run) return std::nullopt;
  return run->snapshot();
}

std::shared_ptr<JobRun> JobRegistry::find(const std::string& id) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_) {
    if (e.id == id) return e.run.lock();
  }
  return nullptr;
}

}  // namespace weir::runtime
