#pragma once
/// What the workspace (REST API, web UI, notebooks, Prometheus) shows of a job, and the jobs of
/// this process: every job submitted here to run embedded is listed while its `JobRun` lives and
/// afterwards as it ended (the last 100 ended jobs are kept, as Flink's job store).
#include <atomic>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_coordinator.h"
#include "weir/runtime/execution.hpp"

namespace weir::runtime {

class JobRun;

/// One failure of a job (a task's exception, with its traceback, or a checkpoint's cause).
struct ExceptionRecord {
  int64_t timestamp_ms = 0;  ///< wall clock
  std::string task;          ///< "<task name> (s/p)", or empty for the job itself
  std::string message;       ///< the whole cause, Python traceback included
};

/// A job's state, metrics and history at one moment.
struct JobSnapshot {
  std::string id;
  std::string name;
  JobStatus status = JobStatus::created;
  int64_t start_ms = 0;   ///< wall clock
  int64_t end_ms = -1;    ///< -1 while it runs
  std::map<std::string, int64_t> timestamps;  ///< upper-case state → wall clock it was entered
  int max_parallelism = 128;
  /// The job graph as `graph::JobGraph::to_json` writes it: vertices (id, name, parallelism,
  /// operators) and edges (from, to, input, partition).
  std::string plan_json;
  std::vector<TaskMetrics> tasks;
  std::vector<std::string> task_hosts;  ///< by task: where it runs ("localhost" embedded)
  CheckpointStats checkpoints;
  std::vector<checkpoint::CheckpointRecord> checkpoint_history;
  std::vector<ExceptionRecord> exceptions;  ///< oldest first
  int restarts = 0;
};

class JobRegistry {
 public:
  static JobRegistry& instance();
  /// Called (once per job, outside any lock) before a job is listed: the workspace starts its
  /// server on demand this way (WEIR_UI).
  void set_listener(void (*listener)()) { listener_ = listener; }
  /// Lists `run` (a job running embedded in this process).
  void add(const std::shared_ptr<JobRun>& run);
  /// A job's last snapshot, kept once its JobRun is gone.
  void archive(JobSnapshot snapshot);
  /// Every job, newest first.
  std::vector<JobSnapshot> jobs();
  std::optional<JobSnapshot> job(const std::string& id);
  /// The job if it still runs here.
  std::shared_ptr<JobRun> find(const std::string& id);

 private:
  struct Entry {
    std::string id;
    std::weak_ptr<JobRun> run;
    std::optional<JobSnapshot> archived;
  };
  std::mutex mu_;
  std::atomic<void (*)()> listener_{nullptr};
  std::vector<Entry> entries_;  ///< oldest first
};

}  // namespace weir::runtime
