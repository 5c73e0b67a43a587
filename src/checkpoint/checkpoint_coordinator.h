#pragma once
/// Triggers checkpoints and savepoints of one job, collects the tasks' snapshots, writes them
/// (asynchronously, on its own thread), completes them, and picks the state a restart starts
/// from.
///
/// A checkpoint: the coordinator sends a trigger to every running source task; each source
/// snapshots its chain and sends a barrier; every other task snapshots when barriers from all
/// its inputs have arrived (aligned for exactly-once; unaligned: at the first barrier), and
/// forwards the barrier. A task that has finished contributes the snapshot it took when it
/// finished. When every task has acknowledged, the writer thread writes the state files, then
/// `_metadata` last; the checkpoint is then complete and every task hears
/// `notify_checkpoint_complete` (of savepoints, only the one that stops the job).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_gateway.h"
#include "checkpoint/storage.h"
#include "weir/runtime/checkpoint_config.hpp"
#include "weir/state/snapshot.hpp"
#include "weir/time/clock.hpp"

namespace weir::checkpoint {

using runtime::OperatorSnapshot;
using runtime::StateRestore;

/// Per operator uid, the state of each new subtask.
using RestorePlan = std::map<std::string, std::vector<StateRestore>>;

/// What the restore needs to know of an operator of the new job.
struct OperatorShape {
  std::string uid;
  std::string name;
  int parallelism = 1;
};

/// Reads a checkpoint or savepoint folder and deals its state out to the operators of the new
/// job (key groups by range, operator lists split or united). Throws StateError on corrupt
/// data and on state of an operator the job does not have (unless `allow_non_restored`).
/// `checkpoint_id`, when given, receives the id the metadata records.
RestorePlan load_restore_plan(const std::string& dir, const std::vector<OperatorShape>& operators, int max_parallelism,
                              bool allow_non_restored, int64_t* checkpoint_id = nullptr);

/// One checkpoint or savepoint in a job's history, as Flink's checkpoint statistics.
struct CheckpointRecord {
  enum class Status { in_progress, completed, failed };
  int64_t id = 0;
  Status status = Status::in_progress;
  bool savepoint = false;
  int64_t trigger_ms = 0;      ///< wall clock
  int64_t latest_ack_ms = 0;   ///< wall clock of the newest acknowledgement (or the end)
  int64_t duration_ms = 0;     ///< trigger to completion (or to now / the failure)
  int64_t size_bytes = 0;      ///< bytes written (new files only, for incremental ones)
  int64_t alignment_ms = 0;    ///< the longest barrier alignment of a task
  int num_subtasks = 0;
  int num_acknowledged = 0;
  std::string path;            ///< its folder, once complete
  std::string failure;         ///< why it failed
};
const char* to_string(CheckpointRecord::Status status);

/// Thrown by Callbacks::record_completed when the record of a checkpoint may or may not have
/// been made (HA storage did not answer): the checkpoint fails, but its folder is kept.
class CheckpointRecordUnknown : public StateError {
 public:
  using StateError::StateError;
};

class CheckpointCoordinator final : public CheckpointResponder {
 public:
  struct Callbacks {
    std::function<void(const std::string&)> fail_job;  ///< too many checkpoint failures, a failed final checkpoint
    std::function<void()> stopped;                     ///< a stop-with-savepoint completed
    /// A checkpoint (not a savepoint) is written; runs before any task hears of its completion
    /// (sinks commit then), on the writer thread. Cluster mode records it in HA storage here; a
    /// throw fails the checkpoint as a failed write does, and the folder is removed unless the
    /// throw is a CheckpointRecordUnknown (the record may name the folder). Returns whether a
    /// record now names the folder (it is then never removed).
    std::function<bool(int64_t id, const std::string& dir)> record_completed;
  };
  CheckpointCoordinator(CheckpointConfig config, std::string job_id, std::string job_name, std::string backend,
                        std::shared_ptr<Clock> clock, Callbacks callbacks);
  ~CheckpointCoordinator();

  /// The tasks of the current attempt (after a restart: the new ones) and their operators.
  struct TaskEntry {
    TaskGateway* task;
    int vertex;
    bool source;
    std::vector<std::string> uids;   ///< chain order
    std::vector<std::string> names;
    int parallelism;
    int subtask;
  };
  void set_tasks(std::vector<TaskEntry> tasks, int max_parallelism);
  /// Starts the writer thread, and periodic checkpoints when an interval is set.
  void start();
  /// Stops the periodic thread and the writer; aborts what is pending. Idempotent.
  void shutdown();

  /// Triggers a checkpoint now (`savepoint_dir` empty) or a savepoint into `savepoint_dir`.
  /// The future holds the folder written, or the reason it failed.
  std::future<std::string> trigger(const std::string& savepoint_dir = {}, bool stop = false);

  // From tasks (their threads).
  void acknowledge(TaskGateway* task, int64_t id, std::vector<OperatorSnapshot> snapshots) override;
  void decline(int64_t id, const std::string& reason) override;
  /// A task finished: its final snapshot stands in for it in this and later checkpoints.
  void task_finished(TaskGateway* task, std::vector<OperatorSnapshot> snapshots) override;

  /// A task finished while checkpointing is off (no final snapshot): savepoints can no
  /// longer cover the whole job.
  void task_ended_without_state(TaskGateway* task) override;

  /// The job failed: pending checkpoints are aborted (tasks are gone).
  void abort_pending(const std::string& reason);
  /// Deletes the retained checkpoints (a canceled job with `delete_on_cancellation`).
  void discard_retained();
  /// The retained completed checkpoints (id, folder), newest first.
  std::vector<std::pair<int64_t, std::string>> completed() const;
  /// Stops counting `dir` as a retained checkpoint (a damaged one a restart went past); its
  /// folder stays on disk for inspection.
  void forget_completed(const std::string& dir);

  /// A task is about to deliver `notify_checkpoint_complete(id)` to its operators (sinks
  /// commit): from now on, restoring a checkpoint older than `id` repeats committed output.
  /// Thread-safe (tasks' threads).
  void completion_delivered(int64_t id) override;
  /// The highest checkpoint id whose completion a task delivered (0: none).
  int64_t delivered_through() const;

  /// What the current attempt started from, for CheckpointStats.
  void set_restored(int64_t id, std::string dir);
  void count_fallback_past_committed();
  int64_t restored_id() const;
  std::string restored_dir() const;
  int64_t fallbacks_past_committed() const;

  /// The latest checkpoints and savepoints, newest first: those in progress, then up to the
  /// last 100 that completed or failed.
  std::vector<CheckpointRecord> history() const;

  int64_t completed_count() const;
  int64_t failed_count() const;
  /// Duration of the last completed checkpoint or savepoint, ms: trigger to complete.
  int64_t last_duration_ms() const;
  int64_t last_size_bytes() const;

 private:
  /// A task's snapshots (chain order); shared, since a final one stands in for its task in
  /// every later checkpoint.
  using Snapshots = std::shared_ptr<const std::vector<OperatorSnapshot>>;
  struct Pending {
    int64_t id = 0;
    int64_t timestamp = 0;
    bool savepoint = false;
    bool stop = false;
    std::string dir;
    std::map<TaskGateway*, Snapshots> acks;
    std::set<TaskGateway*> finals;  ///< tasks that stood in with their final snapshot
    std::promise<std::string> promise;
    std::chrono::steady_clock::time_point started;
    int64_t trigger_wall_ms = 0;
    int64_t latest_ack_wall_ms = 0;
    int64_t alignment_ns = 0;
    bool writing = false;
  };
  void periodic_loop();
  void trigger_locked(std::unique_lock<std::mutex>& lock, std::shared_ptr<Pending> p);
  void maybe_complete_locked(const std::shared_ptr<Pending>& p);
  void writer_loop();
  void write(const std::shared_ptr<Pending>& p);
  /// Fails a pending checkpoint; returns what to run once the lock is released (failing the job).
  std::function<void()> fail_pending_locked(const std::shared_ptr<Pending>& p, const std::string& reason);
  void prune_locked();

  CheckpointConfig config_;
  std::string job_id_;
  std::string job_name_;
  std::string backend_;
  std::string job_dir_;     ///< <storage>/<job id>
  bool temp_dir_ = false;   ///< no storage configured: a temporary folder, removed at the end
  std::shared_ptr<Clock> clock_;
  Callbacks callbacks_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TaskEntry> tasks_;
  int max_parallelism_ = 128;
  std::map<TaskGateway*, Snapshots> finished_;  // final snapshots of this attempt, shared by every later checkpoint
  std::set<TaskGateway*> released_;  // finished tasks whose final snapshot a completed checkpoint holds
  std::set<TaskGateway*> ended_without_state_;  // tasks that finished with checkpointing off: no savepoint can cover the job
  std::map<int64_t, std::shared_ptr<Pending>> pending_;
  std::deque<std::shared_ptr<Pending>> to_write_;
  std::vector<std::pair<int64_t, std::string>> completed_;  // (id, folder), oldest first
  std::map<std::string, detail::KvFile> uploaded_;           // shared RocksDB files by name
  int64_t next_id_ = 1;
  std::deque<CheckpointRecord> history_;  ///< completed and failed, newest last
  void record_ended_locked(const Pending& p, CheckpointRecord::Status status, int64_t size, std::string path,
                           std::string failure);
  int64_t consecutive_failures_ = 0;
  int64_t completed_count_ = 0;
  int64_t failed_count_ = 0;
  int64_t last_duration_ms_ = 0;
  int64_t last_size_ = 0;
  int64_t last_completed_at_ = std::numeric_limits<int64_t>::min() / 2;
  std::atomic<int64_t> delivered_{0};
  int64_t restored_id_ = -1;
  std::string restored_dir_;
  int64_t fallbacks_past_committed_ = 0;
  bool stopping_ = false;
  uint64_t clock_listener_ = 0;
  std::thread periodic_;
  std::thread writer_;
};

}  // namespace weir::checkpoint
