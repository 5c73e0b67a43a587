#include "cluster/coordinator.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "checkpoint/checkpoint_coordinator.h"
#include "checkpoint/storage.h"
#include "cluster/cluster.grpc.pb.h"
#include "cluster/codec.h"
#include "cluster/ha.h"
#include "cluster/session.h"
#include "rest/server.h"
#include "runtime/job_id.h"
#include "weir/runtime/execution.hpp"

namespace weir::cluster {

namespace {

using checkpoint::CheckpointCoordinator;
using checkpoint::TaskGateway;

struct TaskSess {
  int process = 0;
  std::unique_ptr<Outbox<rpc::ToTask>> out;
  grpc::ServerContext* ctx = nullptr;
  int64_t last_heartbeat = 0;
  bool ended = false;
};

/// The sessions of one attempt of a job: what its task gateways send through.
struct Attempt {
  int number = 0;
  std::mutex mu;
  std::vector<std::shared_ptr<TaskSess>> sessions;  // by process; null until attached
  bool closed = false;
  void send(int process, rpc::ToTask m) {
    std::lock_guard lock(mu);
    if (closed) return;
    auto& s = sessions[static_cast<std::size_t>(process)];
    if (s) s->out->send(std::move(m));
  }
};

/// A task of a job, as the checkpoint coordinator sees it: messages go to its process.
class RemoteTask final : public TaskGateway {
 public:
  RemoteTask(std::shared_ptr<Attempt> a, int task, int process) : a_(std::move(a)), task_(task), process_(process) {}
  void trigger_barrier(int64_t id, int64_t timestamp, uint8_t flags, bool stop) override {
    rpc::ToTask m;
    auto* t = m.mutable_trigger();
    t->set_task(task_);
    t->set_checkpoint_id(id);
    t->set_timestamp(timestamp);
    t->set_flags(flags);
    t->set_stop(stop);
    a_->send(process_, std::move(m));
  }
  void post_checkpoint_complete(int64_t id, bool release, bool stop) override {
    rpc::ToTask m;
    auto* t = m.mutable_complete();
    t->set_task(task_);
    t->set_checkpoint_id(id);
    t->set_release(release);
    t->set_stop(stop);
    a_->send(process_, std::move(m));
  }
  void post_checkpoint_aborted(int64_t id) override {
    rpc::ToTask m;
    auto* t = m.mutable_aborted();
    t->set_task(task_);
    t->set_checkpoint_id(id);
    a_->send(process_, std::move(m));
  }

 private:
  std::shared_ptr<Attempt> a_;
  int task_;
  int process_;
};

struct WorkerEntry {
  std::string id;
  std::string host;
  int slots = 0;
  int used = 0;
  int64_t last_heartbeat = 0;
  std::unique_ptr<Outbox<rpc::ToWorker>> out;
  grpc::ServerContext* ctx = nullptr;
  bool alive = true;
};

struct Job {
  std::string id;
  rpc::JobSpec spec;
  CheckpointConfig checkpoint;
  RestartStrategy restart = RestartStrategy::no_restart();
  JobStatus status = JobStatus::created;
  std::string failure;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t schedule_at = 0;        // steady ms: when to try scheduling (created / restarting)
  int64_t slots_deadline = 0;     // steady ms: fail when no slots by then
  std::shared_ptr<Attempt> attempt;
  int attempt_no = -1;
  std::vector<int32_t> task_process;
  std::vector<std::string> process_worker;  // worker ids, by process
  std::vector<int> process_slots;           // slots the attempt holds on each process's worker
  std::vector<std::string> data_addresses;
  int attached = 0;
  int parts_done = 0;
  bool started = false;           // StartTasks sent for this attempt
  int64_t deployed_at = 0;        // steady ms
  std::vector<std::unique_ptr<RemoteTask>> all_gateways;  // every attempt's, for the job's life
  std::vector<RemoteTask*> gateways;  // the current attempt's, by plan task
  std::unique_ptr<CheckpointCoordinator> cc;
  bool cc_started = false;
  std::string restore_dir;
  bool allow_non_restored = false;
  bool stop_requested = false;
  bool cancel_requested = false;
  int restarts = 0;
  int64_t restored_id = -1;
  std::vector<runtime::ExceptionRecord> exceptions;  // every attempt's failure, oldest first
  std::vector<rpc::TaskStatus> tasks;
  std::condition_variable ended_cv;
  bool ended() const { return status == JobStatus::finished || status == JobStatus::failed || status == JobStatus::canceled; }
};

int total_tasks(const rpc::JobSpec& spec) {
  int n = 0;
  for (const auto& v : spec.vertices()) n += v.parallelism();
  return n;
}
int slots_needed(const rpc::JobSpec& spec) {
  int n = 1;
  for (const auto& v : spec.vertices()) n = std::max(n, v.parallelism());
  return n;
}

}  // namespace

struct Coordinator::Impl final : public rpc::Coordinator::Service {
  explicit Impl(CoordinatorOptions o) : opt(std::move(o)) {}

  CoordinatorOptions opt;
  std::unique_ptr<grpc::Server> server;
  int bound_port = 0;
  std::string host;
  std::unique_ptr<HighAvailability> ha;
  std::atomic<bool> leader{true};
  std::unique_ptr<rest::Server> rest;

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<WorkerEntry>> workers;
  std::map<std::string, std::shared_ptr<Job>> jobs;
  bool stopping = false;
  std::thread monitor;

  bool authorized(const std::string& s) const { return opt.secret.empty() || same_secret(s, opt.secret); }

  // ---- jobs --------------------------------------------------------------------------------

  std::shared_ptr<Job> make_job(const std::string& id, const rpc::JobSpec& spec) {
    auto job = std::make_shared<Job>();
    job->id = id;
    job->spec = spec;
    job->checkpoint = detail::ConfigCodec::decode_checkpoint_config(spec.checkpoint_config());
    if (job->checkpoint.get_checkpoint_storage().empty() && !opt.checkpoint_dir.empty()) {
      job->checkpoint.set_checkpoint_storage(opt.checkpoint_dir);
    }
    job->restart = detail::ConfigCodec::decode_restart_strategy(spec.restart_strategy());
    job->restore_dir = spec.restore_path();
    job->allow_non_restored = spec.allow_non_restored();
    job->start_ms = now_ms();
    job->schedule_at = steady_ms();
    const int64_t timeout = spec.slot_timeout_ms() > 0 ? spec.slot_timeout_ms() : opt.slot_timeout.count();
    job->slots_deadline = steady_ms() + timeout;
    CheckpointCoordinator::Callbacks cb;
    std::weak_ptr<Job> weak = job;
    cb.fail_job = [this, weak](const std::string& m) {
      if (auto j = weak.lock()) attempt_failed(j, -1, m, true);
    };
    cb.stopped = [this, weak] {
      if (auto j = weak.lock()) stopped_with_savepoint(j);
    };
    // With HA, a checkpoint counts only once etcd names it as the job's latest: a coordinator
    // taking over restores from there, so no sink may commit what etcd does not know of.
    cb.record_completed = [this, id](int64_t n, const std::string& dir) -> bool {
      if (!ha) return false;
      switch (ha->put_checkpoint(id, dir)) {
        case HighAvailability::Recorded::yes:
          return true;
        case HighAvailability::Recorded::no:
          throw StateError("checkpoint " + std::to_string(n) + " cannot be recorded in etcd (this coordinator no longer leads)");
        case HighAvailability::Recorded::unknown:
          // etcd may name it: a coordinator taking over would restore it, so its folder stays.
          throw checkpoint::CheckpointRecordUnknown("checkpoint " + std::to_string(n) +
                                                    " may or may not be recorded in etcd (no answer in time); it is not counted, and its "
                                                    "folder is kept");
      }
      return false;
    };
    job->cc = std::make_unique<CheckpointCoordinator>(job->checkpoint, id, spec.name(), spec.state_backend(),
                                                      std::make_shared<SystemClock>(), cb);
    return job;
  }

  /// Tries to place every due job on free slots (under mu).
  void schedule_locked() {
    const int64_t now = steady_ms();
    for (auto& [id, job] : jobs) {
      if (!(job->status == JobStatus::created || job->status == JobStatus::restarting) || job->attempt) continue;
      if (now < job->schedule_at) continue;
      const int need = slots_needed(job->spec);
      // Free slots, spread: one slot from each worker in turn.
      std::vector<std::shared_ptr<WorkerEntry>> alive;
      int free = 0;
      for (auto& [wid, w] : workers) {
        if (w->alive && w->slots > w->used) {
          alive.push_back(w);
          free += w->slots - w->used;
        }
      }
      if (free < need) {
        if (now >= job->slots_deadline) {
          end_job_locked(job, JobStatus::failed,
                         fmt::format("Job '{}' could not get {} slots within {} ms: the cluster has {} free slots on {} workers; "
                                     "start more workers (weir worker --slots N) or lower the job's parallelism",
                                     job->spec.name(), need, job->spec.slot_timeout_ms() > 0 ? job->spec.slot_timeout_ms() : opt.slot_timeout.count(),
                                     free, workers.size()));
        }
        continue;
      }
      std::vector<int> taken(alive.size(), 0);
      std::vector<int> slot_worker;  // slot s -> index into alive
      for (std::size_t k = 0; static_cast<int>(slot_worker.size()) < need; k = (k + 1) % alive.size()) {
        if (alive[k]->slots - alive[k]->used - taken[k] > 0) {
          ++taken[k];
          slot_worker.push_back(static_cast<int>(k));
        }
      }
      // Processes: the workers used, in order of first slot.
      std::vector<int> process_of_alive(alive.size(), -1);
      job->process_worker.clear();
      job->process_slots.clear();
      for (int k : slot_worker) {
        if (process_of_alive[static_cast<std::size_t>(k)] < 0) {
          process_of_alive[static_cast<std::size_t>(k)] = static_cast<int>(job->process_worker.size());
          job->process_worker.push_back(alive[static_cast<std::size_t>(k)]->id);
          job->process_slots.push_back(taken[static_cast<std::size_t>(k)]);
        }
      }
      for (std::size_t k = 0; k < alive.size(); ++k) alive[k]->used += taken[k];
      job->task_process.clear();
      for (const auto& v : job->spec.vertices()) {
        for (int s = 0; s < v.parallelism(); ++s) {
          job->task_process.push_back(process_of_alive[static_cast<std::size_t>(slot_worker[static_cast<std::size_t>(s)])]);
        }
      }
      deploy_locked(job);
    }
  }

  void deploy_locked(const std::shared_ptr<Job>& job) {
    ++job->attempt_no;
    job->attempt = std::make_shared<Attempt>();
    job->attempt->number = job->attempt_no;
    job->attempt->sessions.resize(job->process_worker.size());
    job->data_addresses.assign(job->process_worker.size(), "");
    job->attached = 0;
    job->parts_done = 0;
    job->started = false;
    job->deployed_at = steady_ms();
    job->gateways.clear();
    job->tasks.clear();
    int t = 0;
    for (const auto& v : job->spec.vertices()) {
      for (int s = 0; s < v.parallelism(); ++s, ++t) {
        const int p = job->task_process[static_cast<std::size_t>(t)];
        job->all_gateways.push_back(std::make_unique<RemoteTask>(job->attempt, t, p));
        job->gateways.push_back(job->all_gateways.back().get());
        rpc::TaskStatus ts;
        ts.set_task(t);
        ts.set_vertex(v.name());
        ts.set_subtask(s);
        ts.set_worker(job->process_worker[static_cast<std::size_t>(p)]);
        ts.set_state("deploying");
        ts.set_watermark(std::numeric_limits<int64_t>::min());  // none until its metrics arrive (not 0: epoch)
        job->tasks.push_back(ts);
      }
    }
    spdlog::info("job '{}' ({}) attempt {}: {} tasks on {} workers{}", job->spec.name(), job->id, job->attempt_no,
                 total_tasks(job->spec), job->process_worker.size(),
                 job->restore_dir.empty() ? "" : ", restoring " + job->restore_dir);
    for (std::size_t p = 0; p < job->process_worker.size(); ++p) {
      auto& w = workers[job->process_worker[p]];
      rpc::TaskDeployment d;
      d.set_coordinator(address());
      d.set_job_id(job->id);
      d.set_attempt(job->attempt_no);
      d.set_process(static_cast<int>(p));
      d.set_fingerprint(job->spec.fingerprint());
      for (int32_t tp : job->task_process) d.add_task_process(tp);
      d.set_restore_dir(job->restore_dir);
      d.set_allow_non_restored(job->allow_non_restored);
      d.set_data_host(w->host);
      d.set_secret(opt.secret);
      d.set_heartbeat_interval_ms(opt.heartbeat_interval.count());
      d.set_heartbeat_timeout_ms(opt.heartbeat_timeout.count());
      rpc::ToWorker m;
      auto* dep = m.mutable_deploy();
      dep->set_job_id(job->id);
      dep->set_attempt(job->attempt_no);
      dep->set_process(static_cast<int>(p));
      *dep->mutable_files() = job->spec.files();
      dep->set_entry(job->spec.entry());
      *dep->mutable_args() = job->spec.args();
      dep->set_deployment(d.SerializeAsString());
      *dep->mutable_env() = job->spec.env();
      w->out->send(std::move(m));
    }
  }

  /// Ends the current attempt: its processes are killed and its slots freed (under mu).
  void release_attempt_locked(const std::shared_ptr<Job>& job) {
    if (!job->attempt) return;
    {
      std::lock_guard lock(job->attempt->mu);
      job->attempt->closed = true;
      for (auto& s : job->attempt->sessions) {
        if (s && s->ctx) s->ctx->TryCancel();
      }
    }
    for (std::size_t p = 0; p < job->process_worker.size(); ++p) {
      const int n = job->process_slots[p];
      auto it = workers.find(job->process_worker[p]);
      if (it == workers.end()) continue;
      it->second->used = std::max(0, it->second->used - n);
      rpc::ToWorker m;
      m.mutable_kill()->set_job_id(job->id);
      m.mutable_kill()->set_attempt(job->attempt_no);
      it->second->out->send(std::move(m));
    }
    job->attempt.reset();
    cv.notify_all();
  }

  void end_job_locked(const std::shared_ptr<Job>& job, JobStatus status, const std::string& failure) {
    if (job->ended()) return;
    release_attempt_locked(job);
    job->status = status;
    job->failure = failure;
    job->end_ms = now_ms();
    spdlog::info("job '{}' ({}) {}{}{}", job->spec.name(), job->id, to_string(status), failure.empty() ? "" : ": ", failure);
    if (ha && leader) ha->remove_job(job->id);
    job->ended_cv.notify_all();
    cv.notify_all();
  }

  /// A task, a process or the checkpoint coordinator failed the current attempt (attempt -1: whichever is current).
  void attempt_failed(const std::shared_ptr<Job>& job, int attempt, const std::string& message, bool recoverable) {
    std::unique_lock lock(mu);
    if (ha && !leader) return;  // deposed: the next leader restarts its jobs
    if (job->ended() || !job->attempt) return;
    if (attempt >= 0 && attempt != job->attempt_no) return;
    if (job->status != JobStatus::running && job->status != JobStatus::created && job->status != JobStatus::restarting) return;
    spdlog::error("job '{}' ({}) attempt {} failed: {}", job->spec.name(), job->id, job->attempt_no, message);
    job->exceptions.push_back(runtime::ExceptionRecord{now_ms(), "", message});
    if (job->exceptions.size() > 100) job->exceptions.erase(job->exceptions.begin());
    release_attempt_locked(job);
    if (job->cancel_requested) {
      end_job_locked(job, JobStatus::canceled, "");
      return;
    }
    std::optional<int64_t> delay;
    if (recoverable) delay = job->restart.on_failure(now_ms());
    if (!delay) {
      const int n = job->restart.restarts();
      const std::string after = n > 0 ? " (after " + std::to_string(n) + (n == 1 ? " restart)" : " restarts)") : "";
      end_job_locked(job, JobStatus::failed, "Job '" + job->spec.name() + "' failed" + after + ": " + message);
      lock.unlock();
      job->cc->abort_pending("the job failed");
      return;
    }
    job->status = JobStatus::restarting;
    job->failure = message;
    ++job->restarts;
    job->schedule_at = steady_ms() + *delay;
    job->slots_deadline = job->schedule_at + (job->spec.slot_timeout_ms() > 0 ? job->spec.slot_timeout_ms() : opt.slot_timeout.count());
    lock.unlock();
    job->cc->abort_pending("the job restarts");
    choose_restore(job);
    cv.notify_all();
  }

  /// The newest retained checkpoint that reads back intact becomes the restore of the next attempt.
  /// With HA, a newer one etcd names comes first: its record got no answer, so this coordinator
  /// did not count it, but a coordinator taking over would restore it.
  void choose_restore(const std::shared_ptr<Job>& job) {
    std::vector<checkpoint::OperatorShape> shapes;
    for (const auto& v : job->spec.vertices()) {
      for (int i = 0; i < v.uids_size(); ++i) shapes.push_back({v.uids(i), v.names(i), v.parallelism()});
    }
    auto candidates = job->cc->completed();
    if (ha) {
      try {
        const std::string named = ha->checkpoint(job->id);
        if (!named.empty() && (candidates.empty() || candidates.front().second != named)) {
          const auto meta = checkpoint::read_metadata(named);
          if (candidates.empty() || meta.checkpoint_id > candidates.front().first) {
            spdlog::warn("job '{}': etcd names checkpoint {} ({}), newer than this coordinator counted; it restores that",
                         job->spec.name(), meta.checkpoint_id, named);
            candidates.insert(candidates.begin(), {meta.checkpoint_id, named});
          }
        }
      } catch (const std::exception& e) {
        spdlog::error("job '{}': cannot read its latest checkpoint from etcd ({}); it restores the newest it counted",
                      job->spec.name(), e.what());
      }
    }
    for (const auto& [id, dir] : candidates) {
      try {
        checkpoint::load_restore_plan(dir, shapes, job->spec.max_parallelism(), false);
        std::lock_guard lock(mu);
        job->restore_dir = dir;
        job->allow_non_restored = false;
        job->restored_id = id;
        job->cc->set_restored(id, dir);
        spdlog::info("job '{}' restores checkpoint {} ({})", job->spec.name(), id, dir);
        return;
      } catch (const std::exception& e) {
        spdlog::error("job '{}': checkpoint {} ({}) cannot be restored: {}", job->spec.name(), id, dir, e.what());
        job->cc->forget_completed(dir);
      }
    }
  }

  void stopped_with_savepoint(const std::shared_ptr<Job>& job) {
    std::lock_guard lock(mu);
    job->stop_requested = true;
    if (job->attempt) {
      rpc::ToTask m;
      m.set_cancel("stopped with a savepoint");
      for (std::size_t p = 0; p < job->process_worker.size(); ++p) job->attempt->send(static_cast<int>(p), m);
    }
  }

  void fill_info(const Job& job, rpc::JobInfo* info) {
    info->set_job_id(job.id);
    info->set_name(job.spec.name());
    info->set_status(to_string(job.status));
    info->set_failure(job.failure);
    info->set_restarts(job.restarts);
    info->set_start_ms(job.start_ms);
    info->set_end_ms(job.end_ms);
    info->set_attempt(job.attempt_no);
    info->set_plan_json(job.spec.plan_json());
    const auto done = job.cc->completed();
    if (!done.empty()) info->set_latest_checkpoint(done.front().second);
    info->set_completed_checkpoints(job.cc->completed_count());
    info->set_last_checkpoint_ms(job.cc->last_duration_ms());
    info->set_restored_checkpoint(job.restored_id);
    for (const auto& t : job.tasks) *info->add_tasks() = t;
  }

  // ---- RPCs ----------------------------------------------------------------------------------

  /// The checks every client call opens with: the secret, then this coordinator leads.
  grpc::Status admit(const std::string& secret) const {
    if (!authorized(secret)) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "wrong secret");
    if (!leader) return not_leader();
    return grpc::Status::OK;
  }
  /// `admit`, then the job: `job` is set when the status is OK.
  grpc::Status admit_job(const std::string& secret, const std::string& id, std::shared_ptr<Job>& job) {
    auto st = admit(secret);
    if (!st.ok()) return st;
    job = find(id);
    if (!job) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job " + id);
    return grpc::Status::OK;
  }

  grpc::Status not_leader() const {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "this coordinator is a standby; the leader is " + (ha ? ha->current_leader() : std::string("unknown")));
  }

  grpc::Status Submit(grpc::ServerContext*, const rpc::SubmitRequest* req, rpc::SubmitReply* reply) override {
    if (auto st = admit(req->secret()); !st.ok()) return st;
    const auto& spec = req->spec();
    if (spec.vertices_size() == 0) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the job has no operators");
    // A crafted submission must not make the coordinator allocate without bound.
    if (spec.max_parallelism() < 1 || spec.max_parallelism() > checkpoint::kMaxKeyGroups) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "max parallelism " + std::to_string(spec.max_parallelism()) +
                                                                  " is outside 1.." + std::to_string(checkpoint::kMaxKeyGroups));
    }
    int64_t tasks = 0;
    for (const auto& v : spec.vertices()) {
      if (v.parallelism() < 1 || v.parallelism() > spec.max_parallelism() || v.uids_size() != v.names_size() || v.uids_size() == 0) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "vertex '" + v.name() + "' is malformed (parallelism " +
                                                                    std::to_string(v.parallelism()) + ")");
      }
      tasks += v.parallelism();
    }
    if (tasks > 1000000) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the job has more than a million tasks");
    for (const auto& f : spec.files()) {
      if (f.name().empty() || f.name().find('/') != std::string::npos || f.name() == "." || f.name() == "..") {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "job file name '" + f.name() + "' is not a plain file name");
      }
    }
    // The client's submission id is the job's id: a retried submission (its answer lost, or
    // sent again to a coordinator that took over) finds the job instead of making another.
    const std::string& sid = req->submission_id();
    if (!sid.empty()) {
      if (sid.size() != 32 || sid.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the submission id must be 32 lowercase hex digits");
      }
      if (auto existing = find(sid)) {
        reply->set_job_id(existing->id);
        return grpc::Status::OK;
      }
    }
    std::shared_ptr<Job> job;
    try {
      job = make_job(sid.empty() ? runtime::new_job_id() : sid, spec);
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string("the job's settings cannot be read: ") + e.what());
    }
    if (ha) {
      switch (ha->put_job(job->id, spec.SerializeAsString())) {
        case HighAvailability::Recorded::yes:
          break;
        case HighAvailability::Recorded::no:
          return not_leader();
        case HighAvailability::Recorded::unknown:
          // etcd may hold it: the client sends the same submission again (the same id), to
          // this coordinator or the one that takes over with it.
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcd did not answer whether it recorded the job; sending it again");
      }
    }
    {
      std::lock_guard lock(mu);
      if (auto it = jobs.find(job->id); it != jobs.end()) {  // the same submission, twice at once
        reply->set_job_id(job->id);
        return grpc::Status::OK;
      }
      jobs[job->id] = job;
      schedule_locked();
    }
    spdlog::info("job '{}' ({}) submitted: {} tasks, {} slots", spec.name(), job->id, total_tasks(spec), slots_needed(spec));
    reply->set_job_id(job->id);
    return grpc::Status::OK;
  }

  std::shared_ptr<Job> find(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = jobs.find(id);
    return it == jobs.end() ? nullptr : it->second;
  }

  grpc::Status ListJobs(grpc::ServerContext*, const rpc::JobRef* req, rpc::JobList* reply) override {
    if (auto st = admit(req->secret()); !st.ok()) return st;
    std::lock_guard lock(mu);
    for (auto& [id, job] : jobs) fill_info(*job, reply->add_jobs());
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext*, const rpc::JobRef* req, rpc::JobInfo* reply) override {
    std::shared_ptr<Job> job;
    if (auto st = admit_job(req->secret(), req->job_id(), job); !st.ok()) return st;
    std::lock_guard lock(mu);
    fill_info(*job, reply);
    return grpc::Status::OK;
  }

  grpc::Status WaitJob(grpc::ServerContext* ctx, const rpc::JobRef* req, rpc::JobInfo* reply) override {
    std::shared_ptr<Job> job;
    if (auto st = admit_job(req->secret(), req->job_id(), job); !st.ok()) return st;
    std::unique_lock lock(mu);
    while (!job->ended() && !ctx->IsCancelled() && !stopping && leader) {
      job->ended_cv.wait_for(lock, std::chrono::milliseconds(200));
    }
    fill_info(*job, reply);
    return grpc::Status::OK;
  }

  grpc::Status Cancel(grpc::ServerContext*, const rpc::JobRef* req, rpc::JobInfo* reply) override {
    std::shared_ptr<Job> job;
    if (auto st = admit_job(req->secret(), req->job_id(), job); !st.ok()) return st;
    {
      std::lock_guard lock(mu);
      job->cancel_requested = true;
      if (!job->ended()) {
        end_job_locked(job, JobStatus::canceled, "");
        if (job->checkpoint.get_externalized_checkpoint_retention() == CheckpointRetention::delete_on_cancellation) {
          job->cc->discard_retained();
        }
      }
      fill_info(*job, reply);
    }
    job->cc->abort_pending("the job was canceled");
    return grpc::Status::OK;
  }

  grpc::Status Savepoint(grpc::ServerContext*, const rpc::SavepointRequest* req, rpc::SavepointReply* reply) override {
    std::shared_ptr<Job> job;
    if (auto st = admit_job(req->secret(), req->job_id(), job); !st.ok()) return st;
    if (req->dir().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the savepoint folder must not be empty");
    {
      std::lock_guard lock(mu);
      if (job->status != JobStatus::running || !job->started) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            std::string("job ") + job->id + " is " + to_string(job->status) + ", not running: no savepoint");
      }
    }
    try {
      auto f = job->cc->trigger(checkpoint::path_of_uri(req->dir()), req->stop());
      reply->set_path(f.get());
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::ABORTED, std::string("the savepoint failed: ") + e.what());
    }
    return grpc::Status::OK;
  }

  grpc::Status Cluster(grpc::ServerContext*, const rpc::JobRef* req, rpc::ClusterInfo* reply) override {
    if (!authorized(req->secret())) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "wrong secret");
    reply->set_leader(leader ? address() : (ha ? ha->current_leader() : ""));
    std::lock_guard lock(mu);
    for (auto& [id, w] : workers) {
      auto* wi = reply->add_workers();
      wi->set_worker_id(id);
      wi->set_host(w->host);
      wi->set_slots(w->slots);
      wi->set_free_slots(w->slots - w->used);
      wi->set_last_heartbeat_ms(w->last_heartbeat);
    }
    return grpc::Status::OK;
  }

  grpc::Status WorkerSession(grpc::ServerContext* ctx, grpc::ServerReaderWriter<rpc::ToWorker, rpc::WorkerMessage>* stream) override {
    rpc::WorkerMessage m;
    if (!stream->Read(&m) || !m.has_register_()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a registration");
    const auto& r = m.register_();
    auto reject = [&](const std::string& why) {
      rpc::ToWorker out;
      out.set_rejected(why);
      stream->Write(out);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why);
    };
    if (!authorized(r.secret())) return reject("wrong secret");
    if (!leader) return reject("this coordinator is a standby; the leader is " + (ha ? ha->current_leader() : std::string("unknown")));
    if (r.slots() <= 0) return reject("a worker needs at least one slot");
    auto w = std::make_shared<WorkerEntry>();
    w->id = r.worker_id().empty() ? runtime::new_job_id().substr(0, 12) : r.worker_id();
    w->host = r.host();
    w->slots = r.slots();
    w->ctx = ctx;
    w->last_heartbeat = steady_ms();
    w->out = std::make_unique<Outbox<rpc::ToWorker>>([stream](const rpc::ToWorker& x) { return stream->Write(x); },
                                                     [ctx] { ctx->TryCancel(); });
    {
      rpc::ToWorker out;
      auto* reg = out.mutable_registered();
      reg->set_worker_id(w->id);
      reg->set_heartbeat_interval_ms(opt.heartbeat_interval.count());
      reg->set_heartbeat_timeout_ms(opt.heartbeat_timeout.count());
      w->out->send(std::move(out));
    }
    {
      std::lock_guard lock(mu);
      auto old = workers.find(w->id);
      if (old != workers.end()) {
        lock_free_worker_locked(old->second, "it registered again");
      }
      workers[w->id] = w;
      spdlog::info("worker {} ({}) registered with {} slots", w->id, w->host, w->slots);
      schedule_locked();
    }
    while (stream->Read(&m)) {
      if (m.has_heartbeat()) {
        std::lock_guard lock(mu);
        w->last_heartbeat = steady_ms();
      } else if (m.has_exited()) {
        const auto& e = m.exited();
        auto job = find(e.job_id());
        if (job && e.exit_code() != 0) {
          attempt_failed(job, e.attempt(),
                         fmt::format("the task process {} of attempt {} on worker {} ({}) ended with {} {}{}{}", e.process(),
                                     e.attempt(), w->id, w->host, e.exit_code() < 0 ? "signal" : "exit code",
                                     std::abs(e.exit_code()), e.output_tail().empty() ? "" : "; its last output: ", e.output_tail()),
                         true);
        }
      }
    }
    std::vector<std::shared_ptr<Job>> affected;
    {
      std::lock_guard lock(mu);
      auto it = workers.find(w->id);
      if (it != workers.end() && it->second == w) {
        affected = lock_free_worker_locked(w, "its connection ended");
      }
    }
    const std::string why = "worker " + w->id + " (" + w->host + ") was lost";
    for (auto& j : affected) attempt_failed(j, -1, why, true);
    w->out->close();
    return grpc::Status::OK;
  }

  /// Removes a worker; returns the jobs that had processes on it (under mu).
  std::vector<std::shared_ptr<Job>> lock_free_worker_locked(const std::shared_ptr<WorkerEntry>& w, const std::string& why) {
    w->alive = false;
    workers.erase(w->id);
    std::vector<std::shared_ptr<Job>> affected;
    for (auto& [id, job] : jobs) {
      if (!job->attempt) continue;
      if (std::find(job->process_worker.begin(), job->process_worker.end(), w->id) != job->process_worker.end()) {
        affected.push_back(job);
      }
    }
    if (affected.empty()) {
      spdlog::info("worker {} ({}) leaves the cluster: {}", w->id, w->host, why);
    } else {
      spdlog::warn("worker {} ({}) leaves the cluster: {}; {} running jobs had tasks on it", w->id, w->host, why, affected.size());
    }
    if (w->ctx) w->ctx->TryCancel();
    return affected;
  }

  grpc::Status TaskSession(grpc::ServerContext* ctx, grpc::ServerReaderWriter<rpc::ToTask, rpc::TaskMessage>* stream) override {
    rpc::TaskMessage m;
    if (!stream->Read(&m) || !m.has_attach()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected an attach");
    const auto a = m.attach();
    auto reject = [&](const std::string& why) {
      rpc::ToTask out;
      out.set_rejected(why);
      stream->Write(out);
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, why);
    };
    if (!authorized(a.secret())) return reject("wrong secret");
    if (!leader) return reject("this coordinator is a standby");
    auto job = find(a.job_id());
    if (!job) return reject("no job " + a.job_id());
    auto sess = std::make_shared<TaskSess>();
    sess->process = a.process();
    sess->ctx = ctx;
    sess->last_heartbeat = steady_ms();
    sess->out = std::make_unique<Outbox<rpc::ToTask>>([stream](const rpc::ToTask& x) { return stream->Write(x); },
                                                      [ctx] { ctx->TryCancel(); });
    std::shared_ptr<Attempt> attempt;
    bool start_now = false;
    {
      std::lock_guard lock(mu);
      if (!job->attempt || job->attempt_no != a.attempt() || a.process() < 0 ||
          a.process() >= static_cast<int>(job->process_worker.size())) {
        sess->out->close();
        return reject("attempt " + std::to_string(a.attempt()) + " of job " + a.job_id() + " is over");
      }
      if (a.fingerprint() != job->spec.fingerprint()) {
        sess->out->close();
        const std::string why = "the task process " + std::to_string(a.process()) +
                                " built a different job graph than the one submitted (a job must build the same graph in "
                                "every process: no randomness, host names or files that differ between hosts in its main)";
        std::thread([this, job, why, n = job->attempt_no] { attempt_failed(job, n, why, false); }).detach();
        return reject(why);
      }
      attempt = job->attempt;
      {
        std::lock_guard al(attempt->mu);
        attempt->sessions[static_cast<std::size_t>(a.process())] = sess;
      }
      job->data_addresses[static_cast<std::size_t>(a.process())] = a.data_address();
      ++job->attached;
      if (job->attached == static_cast<int>(job->process_worker.size()) && !job->started) {
        job->started = true;
        start_now = true;
      }
    }
    if (start_now) start_attempt(job, attempt);
    const int my_attempt = a.attempt();
    bool reported_end = false;
    while (stream->Read(&m)) {
      {
        std::lock_guard lock(mu);
        sess->last_heartbeat = steady_ms();
        if (job->attempt_no != my_attempt) continue;  // a late message of a finished attempt
      }
      if (m.has_ack()) {
        auto* gw = gateway(job, my_attempt, m.ack().task());
        if (!gw) continue;
        std::vector<std::string> files(m.ack().snapshots().begin(), m.ack().snapshots().end());
        try {
          job->cc->acknowledge(gw, m.ack().checkpoint_id(), decode_snapshots(files));
        } catch (const std::exception& e) {
          job->cc->decline(m.ack().checkpoint_id(), std::string("a task's snapshot cannot be read: ") + e.what());
        }
      } else if (m.has_decline()) {
        job->cc->decline(m.decline().checkpoint_id(), m.decline().reason());
      } else if (m.has_finished()) {
        auto* gw = gateway(job, my_attempt, m.finished().task());
        if (!gw) continue;
        if (m.finished().with_state()) {
          std::vector<std::string> files(m.finished().snapshots().begin(), m.finished().snapshots().end());
          job->cc->task_finished(gw, decode_snapshots(files));
        } else {
          job->cc->task_ended_without_state(gw);
        }
        std::lock_guard lock(mu);
        if (m.finished().task() >= 0 && m.finished().task() < static_cast<int>(job->tasks.size())) {
          job->tasks[static_cast<std::size_t>(m.finished().task())].set_state("finished");
        }
      } else if (m.has_delivered()) {
        job->cc->completion_delivered(m.delivered().checkpoint_id());
      } else if (m.has_metrics()) {
        std::lock_guard lock(mu);
        for (const auto& t : m.metrics().tasks()) {
          if (t.task() >= 0 && t.task() < static_cast<int>(job->tasks.size())) {
            auto& ts = job->tasks[static_cast<std::size_t>(t.task())];
            const std::string worker = ts.worker();
            const bool finished = ts.state() == "finished";
            ts = t;
            ts.set_worker(worker);
            if (finished) ts.set_state("finished");
          }
        }
      } else if (m.has_ended()) {
        reported_end = true;
        {
          std::lock_guard al(attempt->mu);
          sess->ended = true;
        }
        if (m.ended().failed()) {
          bool stopped;
          {
            std::lock_guard lock(mu);
            stopped = job->stop_requested;
          }
          if (!stopped) {
            attempt_failed(job, my_attempt, m.ended().message(), m.ended().recoverable());
            break;
          }
        }
        part_done(job, my_attempt);
      }
    }
    if (!reported_end) {
      std::string where;
      {
        std::lock_guard lock(mu);
        if (a.process() < static_cast<int>(job->process_worker.size())) where = job->process_worker[static_cast<std::size_t>(a.process())];
      }
      attempt_failed(job, my_attempt,
                     "the task process " + std::to_string(a.process()) + " on worker " + where + " was lost (its session ended)", true);
    }
    {
      std::lock_guard al(attempt->mu);
      sess->ended = true;
      sess->ctx = nullptr;  // the call ends: nothing may cancel it any more
    }
    sess->out->close();
    return grpc::Status::OK;
  }

  RemoteTask* gateway(const std::shared_ptr<Job>& job, int attempt, int task) {
    std::lock_guard lock(mu);
    if (job->attempt_no != attempt || task < 0 || task >= static_cast<int>(job->gateways.size())) return nullptr;
    return job->gateways[static_cast<std::size_t>(task)];
  }

  void start_attempt(const std::shared_ptr<Job>& job, const std::shared_ptr<Attempt>& attempt) {
    rpc::ToTask start;
    std::vector<CheckpointCoordinator::TaskEntry> entries;
    {
      std::lock_guard lock(mu);
      for (const auto& addr : job->data_addresses) start.mutable_start()->add_data_addresses(addr);
      int t = 0;
      int vi = 0;
      for (const auto& v : job->spec.vertices()) {
        for (int s = 0; s < v.parallelism(); ++s, ++t) {
          CheckpointCoordinator::TaskEntry e{job->gateways[static_cast<std::size_t>(t)], vi, v.source(), {}, {}, v.parallelism(), s};
          e.uids.assign(v.uids().begin(), v.uids().end());
          e.names.assign(v.names().begin(), v.names().end());
          entries.push_back(std::move(e));
          job->tasks[static_cast<std::size_t>(t)].set_state("running");
        }
        ++vi;
      }
      job->status = JobStatus::running;
    }
    job->cc->abort_pending("a new attempt starts");
    job->cc->set_tasks(std::move(entries), job->spec.max_parallelism());
    for (std::size_t p = 0; p < attempt->sessions.size(); ++p) attempt->send(static_cast<int>(p), start);
    if (!job->cc_started) {
      job->cc_started = true;
      job->cc->start();
    }
    spdlog::info("job '{}' ({}) attempt {} runs", job->spec.name(), job->id, attempt->number);
  }

  void part_done(const std::shared_ptr<Job>& job, int attempt) {
    std::unique_lock lock(mu);
    if (job->attempt_no != attempt || job->ended()) return;
    if (++job->parts_done < static_cast<int>(job->process_worker.size())) return;
    end_job_locked(job, JobStatus::finished, "");
    lock.unlock();
    job->cc->abort_pending("the job ended");
  }

  // ---- heartbeats, scheduling, HA ----------------------------------------------------------

  void monitor_loop() {
    int64_t last_beat = 0;
    std::unique_lock lock(mu);
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(50));
      if (stopping) break;
      if (ha && leader && !ha->is_leader()) {
        // The lease may have expired while the election thread was held up: stop acting now.
        lock.unlock();
        on_revoked();
        lock.lock();
        continue;
      }
      if (!leader) continue;
      const int64_t now = steady_ms();
      std::vector<std::pair<std::shared_ptr<Job>, std::string>> failures;
      // Lost workers: no heartbeat within the timeout.
      std::vector<std::shared_ptr<WorkerEntry>> lost;
      for (auto& [id, w] : workers) {
        if (now - w->last_heartbeat > opt.heartbeat_timeout.count()) lost.push_back(w);
      }
      for (auto& w : lost) {
        const std::string why = fmt::format("worker {} ({}) was lost: no heartbeat for {} ms", w->id, w->host, now - w->last_heartbeat);
        for (auto& j : lock_free_worker_locked(w, "no heartbeat")) failures.emplace_back(j, why);
      }
      // Task processes that stopped answering, or never attached.
      for (auto& [id, job] : jobs) {
        if (!job->attempt) continue;
        if (!job->started && now - job->deployed_at > opt.attach_timeout.count()) {
          failures.emplace_back(job, fmt::format("{} of the {} task processes of attempt {} did not attach within {} ms (see the "
                                                 "workers' logs of the job's processes)",
                                                 job->process_worker.size() - static_cast<std::size_t>(job->attached),
                                                 job->process_worker.size(), job->attempt_no, opt.attach_timeout.count()));
          continue;
        }
        std::lock_guard al(job->attempt->mu);
        for (auto& s : job->attempt->sessions) {
          if (s && !s->ended && now - s->last_heartbeat > opt.heartbeat_timeout.count()) {
            failures.emplace_back(job, fmt::format("the task process {} of job {} stopped answering (no heartbeat for {} ms)",
                                                   s->process, job->id, now - s->last_heartbeat));
            break;
          }
        }
      }
      if (now - last_beat >= opt.heartbeat_interval.count()) {
        last_beat = now;
        rpc::ToWorker hw;
        hw.mutable_heartbeat()->set_sent_ms(now_ms());
        for (auto& [id, w] : workers) w->out->send(hw);
        rpc::ToTask ht;
        ht.mutable_heartbeat()->set_sent_ms(now_ms());
        for (auto& [id, job] : jobs) {
          if (!job->attempt) continue;
          for (std::size_t p = 0; p < job->attempt->sessions.size(); ++p) job->attempt->send(static_cast<int>(p), ht);
        }
      }
      schedule_locked();
      lock.unlock();
      for (auto& [job, why] : failures) attempt_failed(job, -1, why, true);
      lock.lock();
    }
  }

  /// This coordinator became the leader: it takes over the jobs kept in HA storage; each
  /// restarts from its latest completed checkpoint once workers have registered.
  void on_elected() {
    std::vector<std::pair<std::string, std::string>> stored;
    try {
      stored = ha->jobs();
    } catch (const std::exception& e) {
      spdlog::error("coordinator: cannot read the jobs kept in etcd: {}", e.what());
    }
    std::lock_guard lock(mu);
    jobs.clear();
    for (auto& [id, blob] : stored) {
      rpc::JobSpec spec;
      if (!spec.ParseFromString(blob)) {
        spdlog::error("coordinator: job {} in etcd cannot be read; skipped", id);
        continue;
      }
      try {
        auto job = make_job(id, spec);
        const auto cp = ha->checkpoint(id);
        if (!cp.empty()) {
          try {
            const auto meta = checkpoint::read_metadata(cp);
            job->restored_id = meta.checkpoint_id;
            job->cc->set_restored(meta.checkpoint_id, cp);
          } catch (const std::exception& e) {
            spdlog::error("coordinator: job {}'s latest checkpoint {} cannot be read ({}); it restarts from it anyway and "
                          "fails if it cannot",
                          id, cp, e.what());
          }
          job->restore_dir = cp;
          job->allow_non_restored = false;
          job->status = JobStatus::restarting;
          job->restarts = 0;
        }
        // Workers need a moment to find the new leader.
        job->slots_deadline = steady_ms() + opt.slot_timeout.count();
        spdlog::info("coordinator: takes over job '{}' ({}){}", spec.name(), id, cp.empty() ? "" : ", from checkpoint " + cp);
        jobs[id] = job;
      } catch (const std::exception& e) {
        spdlog::error("coordinator: job {} cannot be taken over: {}", id, e.what());
      }
    }
    leader = true;
    spdlog::info("coordinator {} leads ({} jobs to take over)", address(), jobs.size());
    cv.notify_all();
  }

  /// This coordinator may no longer be the leader: it stops acting at once.
  void on_revoked() {
    leader = false;
    std::vector<std::shared_ptr<Job>> dropped;
    {
      std::lock_guard lock(mu);
      for (auto& [id, w] : workers) {
        if (w->ctx) w->ctx->TryCancel();
      }
      for (auto& [id, job] : jobs) {
        if (job->attempt) {
          std::lock_guard al(job->attempt->mu);
          job->attempt->closed = true;
          for (auto& s : job->attempt->sessions) {
            if (s && s->ctx) s->ctx->TryCancel();
          }
        }
        dropped.push_back(job);
      }
      jobs.clear();
      cv.notify_all();
    }
    for (auto& j : dropped) j->cc->shutdown();
    spdlog::warn("coordinator {}: no longer the leader; it stops acting", address());
  }

  std::string address() const { return host + ":" + std::to_string(bound_port); }
};

namespace {

/// The workspace's view of the coordinator's jobs and workers (src/rest/).
class ClusterBackend final : public rest::Backend {
 public:
  explicit ClusterBackend(Coordinator::Impl* c) : c_(c) {}
  std::string mode() const override { return "cluster"; }
  std::vector<runtime::JobSnapshot> jobs() override {
    std::vector<runtime::JobSnapshot> out;
    std::lock_guard lock(c_->mu);
    for (auto& [id, job] : c_->jobs) out.push_back(snapshot_locked(*job));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start_ms > b.start_ms; });
    return out;
  }
  std::optional<runtime::JobSnapshot> job(const std::string& id) override {
    std::lock_guard lock(c_->mu);
    auto it = c_->jobs.find(id);
    if (it == c_->jobs.end()) return std::nullopt;
    return snapshot_locked(*it->second);
  }
  bool cancel(const std::string& id) override {
    rpc::JobRef ref;
    ref.set_job_id(id);
    ref.set_secret(c_->opt.secret);
    rpc::JobInfo info;
    {
      std::lock_guard lock(c_->mu);
      auto it = c_->jobs.find(id);
      if (it == c_->jobs.end() || it->second->ended()) return false;
    }
    return c_->Cancel(nullptr, &ref, &info).ok();
  }
  std::future<std::string> savepoint(const std::string& id, const std::string& dir, bool stop) override {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lock(c_->mu);
      auto it = c_->jobs.find(id);
      if (it == c_->jobs.end() || it->second->ended()) throw std::invalid_argument("no running job " + id);
    }
    auto* c = c_;
    return std::async(std::launch::async, [c, id, dir, stop] {
      rpc::SavepointRequest req;
      req.set_job_id(id);
      req.set_dir(dir);
      req.set_stop(stop);
      req.set_secret(c->opt.secret);
      rpc::SavepointReply reply;
      auto st = c->Savepoint(nullptr, &req, &reply);
      if (!st.ok()) throw std::runtime_error(st.error_message());
      return reply.path();
    });
  }
  std::vector<rest::WorkerSnapshot> workers() override {
    std::vector<rest::WorkerSnapshot> out;
    const int64_t steady = steady_ms(), wall = now_ms();
    std::lock_guard lock(c_->mu);
    for (auto& [id, w] : c_->workers) {
      rest::WorkerSnapshot s;
      s.id = id;
      s.host = w->host;
      s.slots = w->slots;
      s.free_slots = w->slots - w->used;
      s.last_heartbeat_ms = wall - (steady - w->last_heartbeat);
      s.cpu_cores = w->slots;
      out.push_back(std::move(s));
    }
    return out;
  }
  bool can_run_programs() const override { return true; }
  std::string run_program(const std::string& path, const std::vector<std::string>& args, int parallelism) override {
    // As `weir submit --detached`: the program's execute() submits its job here.
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot find the weir binary to run the program with");
    std::vector<std::string> argv = {self.string(), "submit", "--coordinator", c_->address(), "--detached"};
    if (parallelism > 0) {
      argv.push_back("-p");
      argv.push_back(std::to_string(parallelism));
    }
    argv.push_back(path);
    for (const auto& a : args) argv.push_back(a);
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("cannot run the program: pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(out[0]);
      ::close(out[1]);
      throw std::runtime_error("cannot run the program: fork failed");
    }
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      ::close(out[0]);
      ::close(out[1]);
      if (!c_->opt.secret.empty()) ::setenv("WEIR_CLUSTER_SECRET", c_->opt.secret.c_str(), 1);
      ::unsetenv("WEIR_UI");
      std::vector<char*> av;
      for (auto& a : argv) av.push_back(a.data());
      av.push_back(nullptr);
      ::execv(av[0], av.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string text;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n > 0) {
        if (text.size() < (1 << 20)) text.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string marker = "Job submitted: ";
    const auto pos = text.find(marker);
    if (pos != std::string::npos) {
      auto end = text.find_first_of("\r\n", pos);
      return text.substr(pos + marker.size(), end == std::string::npos ? std::string::npos : end - pos - marker.size());
    }
    if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
    throw std::runtime_error("the program submitted no job (exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                             "): " + text);
  }

 private:
  runtime::JobSnapshot snapshot_locked(const Job& job) {
    runtime::JobSnapshot s;
    s.id = job.id;
    s.name = job.spec.name();
    s.status = job.status;
    s.start_ms = job.start_ms;
    s.end_ms = job.ended() ? job.end_ms : -1;
    s.timestamps["CREATED"] = job.start_ms;
    if (job.ended()) s.timestamps[to_string(job.status)] = job.end_ms;
    s.max_parallelism = job.spec.max_parallelism();
    s.plan_json = job.spec.plan_json();
    for (std::size_t i = 0; i < job.tasks.size(); ++i) {
      const auto& t = job.tasks[i];
      auto m = decode_task_metrics(t);
      if (t.lifetime_ns() == 0) {
        // Not reported yet (proto3 reads an absent vertex index as 0): place it by name.
        m.vertex = -1;
        m.input_watermark = m.output_watermark = std::numeric_limits<int64_t>::min();
        for (int v = 0; v < job.spec.vertices_size(); ++v) {
          if (job.spec.vertices(v).name() == t.vertex()) m.vertex = v;
        }
      }
      s.tasks.push_back(std::move(m));
      std::string host = t.worker();
      auto w = c_->workers.find(t.worker());
      if (w != c_->workers.end()) host = w->second->host;
      s.task_hosts.push_back(host);
    }
    s.checkpoints.completed = job.cc->completed_count();
    s.checkpoints.failed = job.cc->failed_count();
    s.checkpoints.last_duration_ms = job.cc->last_duration_ms();
    s.checkpoints.last_size_bytes = job.cc->last_size_bytes();
    const auto done = job.cc->completed();
    if (!done.empty()) s.checkpoints.latest_path = done.front().second;
    s.checkpoints.restored_checkpoint_id = job.cc->restored_id();
    s.checkpoints.restored_path = job.cc->restored_dir();
    s.checkpoint_history = job.cc->history();
    s.exceptions = job.exceptions;
    s.restarts = job.restarts;
    return s;
  }
  Coordinator::Impl* c_;
};

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Coordinator::~Coordinator() { shutdown(); }

void Coordinator::start() {
  auto& i = *impl_;
  const auto colon = i.opt.bind.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--bind " + i.opt.bind + ": expected HOST:PORT");
  i.host = i.opt.bind.substr(0, colon);
  grpc::ServerBuilder b;
  b.AddListeningPort(i.opt.bind, grpc::InsecureServerCredentials(), &i.bound_port);
  b.RegisterService(&i);
  b.SetMaxReceiveMessageSize(1 << 30);
  b.SetMaxSendMessageSize(1 << 30);
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 4);
  i.server = b.BuildAndStart();
  if (!i.server || i.bound_port == 0) throw std::runtime_error("the coordinator cannot listen on " + i.opt.bind);
  if (!i.opt.ha.empty()) {
    i.leader = false;
    i.ha = std::make_unique<HighAvailability>(i.opt.ha, i.address(), i.opt.heartbeat_timeout);
    i.ha->start([&i] { i.on_elected(); }, [&i] { i.on_revoked(); });
  }
  i.monitor = std::thread([&i] { i.monitor_loop(); });
  spdlog::info("coordinator listens on {}{}", i.address(), i.ha ? " (high availability on etcd; waiting to lead)" : "");
  if (!i.opt.rest_bind.empty()) {
    rest::ServerOptions ro;
    ro.bind = i.opt.rest_bind;
    ro.token = i.opt.rest_token;
    ro.upload_dir = i.opt.upload_dir;
    ro.log_dir = i.opt.log_dir;
    ro.web_root = i.opt.web_root;
    i.rest = std::make_unique<rest::Server>(std::make_shared<ClusterBackend>(&i), ro);
  }
}

std::string Coordinator::address() const { return impl_->address(); }
std::string Coordinator::rest_url() const { return impl_->rest ? impl_->rest->url() : std::string(); }

void Coordinator::wait(const std::atomic<bool>* stop_flag) {
  std::unique_lock lock(impl_->mu);
  while (!impl_->stopping && !(stop_flag && stop_flag->load())) impl_->cv.wait_for(lock, std::chrono::milliseconds(100));
}

void Coordinator::shutdown() {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.mu);
    if (i.stopping) return;
    i.stopping = true;
    for (auto& [id, w] : i.workers) {
      if (w->ctx) w->ctx->TryCancel();
    }
    for (auto& [id, job] : i.jobs) {
      if (!job->attempt) continue;
      std::lock_guard al(job->attempt->mu);
      for (auto& s : job->attempt->sessions) {
        if (s && s->ctx) s->ctx->TryCancel();
      }
    }
  }
  i.cv.notify_all();
  if (i.rest) i.rest->stop();
  if (i.ha) i.ha->stop();
  if (i.server) i.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (i.monitor.joinable()) i.monitor.join();
  std::map<std::string, std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(i.mu);
    jobs = i.jobs;
  }
  for (auto& [id, job] : jobs) job->cc->shutdown();
}

}  // namespace weir::cluster
