#pragma once
/// One running job: its tasks, channels and worker pool, and its status.
///
/// Built and started on the submitting thread. Tasks report their end from worker threads
/// (`task_done`, `task_failed`); the last one completes the job and stops the pool. `wait()`
/// and the destructor join the pool's threads; the destructor cancels a job still running.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <thread>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "graph/job_graph.h"
#include "graph/physical_plan.h"
#include "runtime/channel.h"
#include "runtime/job_registry.h"
#include "runtime/task.h"
#include "runtime/worker_pool.h"
#include "weir/runtime/execution.hpp"

namespace weir::runtime {

using checkpoint::CheckpointCoordinator;
using checkpoint::OperatorShape;
using checkpoint::RestorePlan;
using checkpoint::load_restore_plan;

/// Cluster mode: this process runs the part of a job its plan places here; the rest runs in
/// other processes, reached through remote channels. The job's checkpoint coordinator and its
/// restarts are elsewhere (the cluster's coordinator): the part reports to `responder` and
/// ends at its first failure, which it reports through `failed`.
struct Placement {
  int32_t process = 0;
  std::vector<int32_t> task_process;  ///< by plan task: the process that runs it
  int attempt = 0;
  std::string job_id;
  checkpoint::CheckpointResponder* responder = nullptr;
  /// The producer's end of plan channel `channel`, whose consumer runs in `consumer_process`.
  std::function<std::unique_ptr<OutputChannel>(int32_t channel, int32_t consumer_process, Task* producer)> open_output;
  /// The consumer's end of plan channel `channel`, whose producer runs in `producer_process`.
  std::function<std::unique_ptr<InputChannel>(int32_t channel, int32_t producer_process, int gate_index, InputGate* gate,
                                              std::shared_ptr<const detail::TypeOps> type)>
      open_input;
  /// Each local task once built, with its index in the plan (before any runs).
  std::function<void(int32_t task, Task*)> task_built;
  /// The first failure of a local task (or of the part), from a worker thread.
  std::function<void(const std::string& message, bool recoverable)> failed;
  /// A checkpoint or savepoint folder to start from (empty: none); `allow_non_restored` as in
  /// SavepointRestoreSettings.
  std::string restore_dir;
  bool allow_non_restored = false;
};

class JobRun {
 public:
  JobRun(detail::LogicalGraph logical, graph::JobGraph graph, ExecutionConfig config);
  /// The part of a job that `placement` puts in this process (cluster mode).
  JobRun(detail::LogicalGraph logical, graph::JobGraph graph, ExecutionConfig config, Placement placement);
  ~JobRun();
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  /// Creates the tasks and schedules them. Throws JobFailure when an operator cannot be made.
  void start();
  void cancel();
  /// Blocks until every task has ended; returns the result or throws JobFailure.
  JobExecutionResult wait();
  JobStatus status() const;
  const std::string& id() const { return id_; }
  const std::string& name() const { return graph_.job_name; }
  /// The tasks and channels this job runs (set by `start`).
  const graph::PhysicalPlan& physical_plan() const { return physical_; }
  std::shared_future<JobExecutionResult> result_future() const { return future_; }
  /// The uid of job-graph node `node` in checkpoints (the user's, or one derived from its place).
  static std::string operator_uid(const graph::JobGraph& graph, int node);
  std::vector<TaskMetrics> metrics() const;
  const ExecutionConfig& config() const { return config_; }
  int restart_count() const;
  /// Bytes queued in the job's channels now and at the peak.
  const ChannelStats& channel_stats() const { return stats_; }

  Clock& clock() const { return *config_.clock; }
  /// Makes `task` run once processing time reaches `time` (to fire its timers). Thread-safe.
  void schedule_wakeup(Task* task, int64_t time);

  // Called by tasks, from worker threads.
  void task_done(Task* task);
  /// `recoverable` false: the job fails without restarting (a restart would fail the same way).
  void task_failed(Task* task, const std::string& message, bool recoverable = true);

  /// Savepoints and checkpoints on demand.
  std::future<std::string> trigger_savepoint(const std::string& dir, bool stop);
  std::future<std::string> trigger_checkpoint();
  CheckpointStats checkpoint_stats() const;
  /// The job's state, metrics and history now (the workspace's view).
  JobSnapshot snapshot() const;
  /// Lists the job in this process's JobRegistry; its snapshot is archived there when it ends.
  void set_registered() { registered_ = true; }

 private:
  static int64_t wall_ms();
  void build();
  /// Operators of the job graph as the restore sees them (uid, name, parallelism).
  std::vector<OperatorShape> operator_shapes() const;
  std::string uid_of(int node) const { return operator_uid(graph_, node); }
  /// Fails the job for a reason outside any task (a checkpoint).
  void fail(const std::string& message);
  void stopped_with_savepoint();
  void complete();
  /// After a failure the strategy allows to retry: wait, rebuild the tasks, start them again.
  void restart(int64_t delay_ms);
  /// Picks the retained checkpoint a restart restores into `plan_` (none: the job starts over).
  /// Throws StateError when none can be read back, or when going past a damaged one would
  /// repeat committed output and the configuration does not allow that.
  void choose_restore();
  void join_pool();
  void wakeup_loop();
  void wake_due_tasks();

  detail::LogicalGraph logical_;  // owns the operator factories the job graph points to
  graph::JobGraph graph_;
  graph::PhysicalPlan physical_;  ///< the tasks and channels of the current attempt
  ExecutionConfig config_;
  std::string id_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::optional<RestorePlan> plan_;  // the state the next build starts from
  mutable std::mutex tasks_mu_;  // guards replacing tasks_ (restart) against readers on other threads
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<std::unique_ptr<LocalChannel>> channels_;
  // Cluster mode: the part placed here, and the ends of channels to other processes.
  std::optional<Placement> placement_;
  std::vector<std::unique_ptr<OutputChannel>> remote_out_;
  std::vector<std::unique_ptr<InputChannel>> remote_in_;
  ChannelStats stats_;
  std::atomic<int> remaining_{0};
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> registered_{false};
  int64_t start_wall_ms_ = 0;
  int64_t end_wall_ms_ = -1;                    // guarded by mu_
  std::map<std::string, int64_t> status_times_;  // guarded by mu_
  std::vector<ExceptionRecord> exceptions_;      // guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  JobStatus status_ = JobStatus::created;  // guarded by mu_
  std::string failure_;                    // guarded by mu_: the root cause
  bool unrecoverable_ = false;             // guarded by mu_: the root cause rules out a restart
  bool ended_ = false;                     // guarded by mu_
  bool joined_ = false;                    // guarded by mu_
  bool stop_requested_ = false;            // guarded by mu_: a stop-with-savepoint ends the job
  RestartStrategy restart_strategy_;
  int attempt_ = 0;
  std::thread restart_thread_;  // guarded by mu_
  std::promise<JobExecutionResult> promise_;
  std::shared_future<JobExecutionResult> future_;

  // Processing-time wake-ups: a thread sleeping until the earliest one (system clock), or the
  // clock's listener (manual clock).
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::multimap<int64_t, Task*> wakeups_;  // guarded by wake_mu_
  bool wake_stop_ = false;                 // guarded by wake_mu_
  std::thread wake_thread_;
  uint64_t clock_listener_ = 0;
};

}  // namespace weir::runtime
