#pragma once
/// The settings a job runs with, and what it reports: status, result, counters.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/runtime/checkpoint_config.hpp"
#include "weir/runtime/restart.hpp"
#include "weir/state/backend.hpp"
#include "weir/time/clock.hpp"

namespace weir {

/// A lock every task thread holds while it runs a slice of one of the job's tasks (at most
/// about a millisecond of work) and releases between slices. Jobs whose functions need a
/// process-wide lock to run (Python functions and the interpreter lock) set it; without one,
/// tasks run freely in parallel.
class TaskLock {
 public:
  virtual ~TaskLock() = default;
  virtual void lock() = 0;
  virtual void unlock() = 0;
};

/// Settings of one environment's jobs. Set through `StreamExecutionEnvironment`.
struct ExecutionConfig {
  int parallelism = 0;             ///< default operator parallelism; 0: the hardware threads
  int max_parallelism = 0;         ///< key groups; 0: 128 (or more for parallelism above 128)
  int worker_threads = 0;          ///< threads running tasks; 0: the hardware threads
  bool chaining = true;            ///< chain forward edges of equal parallelism
  std::size_t batch_records = 1024;          ///< a batch leaves when it holds this many records
  std::size_t batch_bytes = 32 * 1024;       ///< ... or this many bytes
  std::size_t channel_capacity_bytes = 256 * 1024;  ///< a producer parks at this many queued bytes
  /// The longest a partly filled output batch waits before it is sent (Flink's buffer timeout):
  /// 0 sends every record at once, a negative value only full batches (and at the end of an
  /// input or before control events). Set with `set_buffer_timeout`.
  std::chrono::microseconds buffer_timeout{kDefaultBufferTimeout};
  /// 250 us: a record waits at most that plus one source step (kept to half of it) in a
  /// partly filled batch, which keeps the 99th percentile of end-to-end latency below 1 ms
  /// under a steady trickle, while a busy task fills most batches well before it.
  static constexpr int64_t kDefaultBufferTimeout = 250;
  int64_t auto_watermark_interval = 200;  ///< ms between periodic watermarks; 0 turns them off
  std::shared_ptr<Clock> clock = std::make_shared<SystemClock>();  ///< processing time
  RestartStrategy restart_strategy = RestartStrategy::no_restart();  ///< what a failure does
  bool restart_strategy_set = false;  ///< else: no restart, or fixed delay with checkpointing (as Flink)
  CheckpointConfig checkpoint;        ///< checkpoints (off unless an interval is set)
  SavepointRestoreSettings savepoint_restore;  ///< the state a job starts from
  StateBackend state_backend = StateBackend::heap();
  /// Every record that leaves its task may be serialised (set by modes that send batches between
  /// processes): the job graph then refuses edges whose record type has no `weir::Serde`.
  /// Unaligned checkpoints need the same of every non-chained edge and imply it.
  bool serializable_edges = false;
  /// Held by a task thread around each slice of this job's tasks (see `TaskLock`); none by default.
  std::shared_ptr<TaskLock> task_lock;
};

/// Counters of a job's checkpoints.
struct CheckpointStats {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t last_duration_ms = 0;  ///< trigger to complete, of the newest completed checkpoint or savepoint
  int64_t last_size_bytes = 0;   ///< bytes written by it (new files only, for incremental ones)
  std::string latest_path;       ///< folder of the newest completed checkpoint
  /// The checkpoint or savepoint the running attempt started from (as Flink's latest restored
  /// checkpoint): its id, -1 when it started without state, and its folder.
  int64_t restored_checkpoint_id = -1;
  std::string restored_path;
  /// Restarts that restored an older checkpoint past a damaged newer one whose completion
  /// tasks had acted on, so that output between the two was written again (only when
  /// CheckpointConfig::set_allow_fallback_past_committed_checkpoint allows it).
  int64_t fallbacks_past_committed = 0;
};

/// The lifecycle of a job, as Flink's JobStatus.
enum class JobStatus { created, running, failing, failed, canceling, canceled, finished, restarting };
const char* to_string(JobStatus status);

/// What a finished job reports.
class JobExecutionResult {
 public:
  JobExecutionResult() = default;
  JobExecutionResult(std::string job_id, std::string job_name, std::chrono::milliseconds runtime)
      : job_id_(std::move(job_id)), job_name_(std::move(job_name)), runtime_(runtime) {}
  const std::string& get_job_id() const { return job_id_; }
  const std::string& get_job_name() const { return job_name_; }
  /// Wall-clock time from submission to the end of the last task.
  int64_t get_net_runtime() const { return runtime_.count(); }

 private:
  std::string job_id_;
  std::string job_name_;
  std::chrono::milliseconds runtime_{0};
};

/// One input channel of a subtask (the watermark view: which input holds event time back).
struct InputChannelMetrics {
  int input = 0;             ///< which input of the head operator (1: the second of a two-input one)
  int upstream_vertex = -1;  ///< the job-graph vertex of the producer
  int upstream_subtask = -1;
  int64_t watermark = std::numeric_limits<int64_t>::min();
  bool idle = false;
  bool ended = false;
};

/// Counters of one subtask (read while the job runs; each value is exact, the set is not a
/// consistent snapshot).
struct TaskMetrics {
  std::string task_name;
  int subtask = 0;
  uint64_t records_in = 0;   ///< records consumed from channels
  uint64_t records_out = 0;  ///< records a source emitted
  uint64_t backpressured_count = 0;  ///< times the task parked because downstream was full
  int64_t input_watermark = std::numeric_limits<int64_t>::min();   ///< event time of the head operator
  int64_t output_watermark = std::numeric_limits<int64_t>::min();  ///< last watermark sent downstream
  /// The input channel whose watermark holds the task back (-1: none); channels are numbered
  /// by incoming edge (in job-graph order), then by producer subtask.
  int watermark_holding_channel = -1;
  /// RocksDB state of the task's operators: memory it holds (memtables, block cache, readers)
  /// now and at the peak, and bytes of live data files. Sampled every few slices; 0 on the heap.
  uint64_t state_memory_bytes = 0;
  uint64_t state_memory_peak_bytes = 0;
  uint64_t state_disk_bytes = 0;
  /// The metrics of the task's operators (`MetricGroup`), as "<operator name>.<metric>":
  /// connectors' per-partition records, bytes and lag, bad-record counts, user counters.
  std::map<std::string, int64_t> operator_metrics;
  int vertex = -1;           ///< index of the task's vertex in the job graph
  uint64_t bytes_in = 0;     ///< bytes of the batches consumed from channels (as buffered)
  uint64_t bytes_out = 0;    ///< bytes of the batches sent to channels
  /// Time since the task started, and the parts of it the task was busy (running a slice) and
  /// backpressured (parked because an output was full); the rest it was idle. As Flink's
  /// busyTimeMsPerSecond / backPressuredTimeMsPerSecond, once divided by the time between reads.
  int64_t lifetime_ns = 0;
  int64_t busy_ns = 0;
  int64_t backpressured_ns = 0;
  /// The task's input channels in gate order (empty for a source).
  std::vector<InputChannelMetrics> inputs;
};

}  // namespace weir
