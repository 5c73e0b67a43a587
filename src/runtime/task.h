#pragma once
/// A task: one subtask of one chain of operators, run as an actor on the worker pool.
///
/// All operator calls happen inside `run()`, which the pool calls on one thread at a time; the
/// scheduling state (`state_`) guarantees that. Other threads only call `notify()` (new input,
/// room downstream, a source's data arrived) and `request_cancel()`.
///
/// A slice of `run()` takes input (or lets the source emit) while every output channel has
/// room, for about a millisecond, then yields. When input runs dry it flushes partial output
/// batches and goes idle; when downstream is full it flushes and parks until the consumer
/// drains (backpressure). A channel that fills up stops the source's step or the input batch
/// between two records; partial batches older than the buffer timeout leave after a step.
/// Shutdown: inputs end → `end_input`/`finish` down the chain → flush → end-of-input on every
/// output channel → (with checkpointing: a final snapshot, then a wait for a completed
/// checkpoint that holds it) → `close` → done. On failure or cancellation: `close` → done.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_gateway.h"
#include "runtime/channel.h"
#include "weir/runtime/internal/operator.hpp"
#include "weir/runtime/internal/partition.hpp"

namespace weir::runtime {

class JobRun;
class WorkerPool;

/// The channels of one producer subtask on one edge.
class ResultPartition final : public ResultPartitionWriter {
 public:
  /// `buffer_timeout_us`: the longest a partly filled batch waits (0: batches of one record;
  /// negative: no bound).
  ResultPartition(std::vector<OutputChannel*> channels, int producer_subtask, std::size_t batch_records,
                  std::size_t batch_bytes, int64_t buffer_timeout_us = -1)
      : channels_(std::move(channels)),
        producer_subtask_(producer_subtask),
        batch_records_(buffer_timeout_us == 0 ? 1 : batch_records),
        batch_bytes_(batch_bytes),
        buffer_timeout_us_(buffer_timeout_us) {}
  int num_channels() const override { return static_cast<int>(channels_.size()); }
  void push(int channel, std::unique_ptr<BatchBase> batch) override {
    Event e;
    pushed_bytes_ += batch->bytes();
    e.batch = std::move(batch);
    OutputChannel* c = channels_[static_cast<std::size_t>(channel)];
    c->push(std::move(e));
    // Tells the producer to stop between two records: the channel has no room left.
    if (full_flag_ != nullptr && c->full()) *full_flag_ = true;
  }
  /// Where `push` reports a channel at capacity (task thread).
  void set_full_flag(bool* flag) { full_flag_ = flag; }
  /// Bytes of the batches pushed so far.
  uint64_t pushed_bytes() const { return pushed_bytes_; }
  int64_t buffer_timeout_us() const { return buffer_timeout_us_; }
  std::size_t batch_records() const override { return batch_records_; }
  std::size_t batch_bytes() const override { return batch_bytes_; }
  int producer_subtask() const override { return producer_subtask_; }
  void broadcast_watermark(int64_t wm) override {
    for (auto* c : channels_) c->push(Event::watermark(wm));
    if (on_watermark_) on_watermark_(wm);
  }
  void broadcast_watermark_status(bool idle) override {
    for (auto* c : channels_) c->push(Event::watermark_status(idle));
  }
  /// Observes the watermarks sent (the task's output watermark).
  void set_watermark_observer(std::function<void(int64_t)> f) { on_watermark_ = std::move(f); }
  void broadcast_end_of_input() {
    for (auto* c : channels_) c->push(Event::end_of_input());
  }
  void broadcast_barrier(int64_t id, int64_t timestamp, uint8_t flags) {
    for (auto* c : channels_) c->push(Event::barrier(id, timestamp, flags));
  }
  /// Unaligned: the barrier goes ahead of what the channels hold; what it overtook is added to
  /// `out` as this partition's channel states.
  void broadcast_barrier_priority(int64_t id, int64_t timestamp, uint8_t flags, int partition,
                                  std::vector<ChannelState>& out) {
    for (std::size_t j = 0; j < channels_.size(); ++j) {
      ChannelState cs;
      cs.partition = partition;
      cs.channel = static_cast<int32_t>(j);
      channels_[j]->push_priority(Event::barrier(id, timestamp, flags), cs.events);
      if (!cs.events.empty()) out.push_back(std::move(cs));
    }
  }
  /// True when every channel has room; otherwise registers for a wake-up.
  bool available() {
    for (auto* c : channels_) {
      if (!c->producer_available()) return false;
    }
    return true;
  }

 private:
  std::vector<OutputChannel*> channels_;
  int producer_subtask_;
  std::size_t batch_records_;
  std::size_t batch_bytes_;
  int64_t buffer_timeout_us_;
  bool* full_flag_ = nullptr;
  uint64_t pushed_bytes_ = 0;
  std::function<void(int64_t)> on_watermark_;
};

class Task final : public ProcessingTimeService, public checkpoint::TaskGateway {
 public:
  Task(JobRun* job, WorkerPool* pool, TaskInfo info) : info_(std::move(info)), job_(job), pool_(pool) {}

  /// Schedules the task if it is idle (or makes a running slice look again). Thread-safe.
  void notify();
  /// Runs one slice. Called by the worker pool only.
  void run();
  /// Makes the task stop at its next step: close operators, end. Thread-safe.
  void request_cancel();

  // Checkpoints; each posts a message the task handles on its own thread. Thread-safe.
  /// A source task snapshots its chain and sends barrier `id` downstream; with `stop` it then
  /// emits nothing more (stop-with-savepoint).
  void trigger_barrier(int64_t id, int64_t timestamp, uint8_t flags, bool stop) override;
  /// Checkpoint `id` completed; `release`: it holds this task's final snapshot, so a finished
  /// task may end now.
  /// `stop`: it was the savepoint of a stop-with-savepoint.
  void post_checkpoint_complete(int64_t id, bool release, bool stop = false) override;
  void post_checkpoint_aborted(int64_t id) override;
  int64_t alignment_ns(int64_t id) const override {
    return last_alignment_id_.load(std::memory_order_acquire) == id ? last_alignment_ns_.load(std::memory_order_relaxed) : 0;
  }

  const TaskInfo& info() const { return info_; }

  // ProcessingTimeService, for the operators of this task (task thread only).
  int64_t now() const override;
  void register_timer(int64_t time, std::function<void(int64_t)> callback) override;

  // Built by the JobRun before the first `notify()`.
  struct InputChannelState {
    int input_index = 0;
    BatchConsumer* consumer = nullptr;
    bool ended = false;
    bool idle = false;
    int64_t watermark = std::numeric_limits<int64_t>::min();
  };
  std::vector<std::unique_ptr<StreamOperator>> operators;  ///< chain order; [0] is the head
  /// The operators' metric groups by operator name, kept after the operators close (thread-safe).
  std::vector<std::pair<std::string, std::shared_ptr<MetricGroup>>> metric_groups() const {
    std::lock_guard lock(metric_groups_mu_);
    return metric_groups_;
  }
  std::vector<std::unique_ptr<OutputBase>> outputs;        ///< owned outputs of the chain
  std::vector<WriterBase*> writers;                        ///< outputs that batch to channels
  std::vector<std::unique_ptr<ResultPartition>> partitions;
  std::vector<std::unique_ptr<BatchConsumer>> consumers;
  std::vector<InputChannelState> channels;  ///< by gate index
  InputGate gate{this};
  SourceOperator* source = nullptr;
  /// The state each operator starts from (chain order).
  std::vector<StateRestore> restores;
  /// Where snapshots and acknowledgements go (null: none).
  checkpoint::CheckpointResponder* coordinator = nullptr;
  bool exactly_once = true;     ///< align barriers (else at-least-once)
  bool unaligned = false;       ///< exactly-once without alignment: barriers overtake, in-flight records are stored
  /// Records in flight at the restored unaligned checkpoint, replayed before live input:
  /// (gate index, event), in order per channel.
  std::vector<std::pair<int, InFlightEvent>> replay;
  bool final_checkpoint = false; ///< checkpointing is on: a finished task waits for a checkpoint holding its final state

  std::atomic<uint64_t> records_in{0};
  std::atomic<uint64_t> records_out{0};
  std::atomic<uint64_t> backpressured{0};
  // Watermarks, for metrics and the UI: the combined input watermark of the head operator, the
  // last watermark sent downstream, and the channel (gate index) holding the input back.
  std::atomic<int64_t> input_watermark{std::numeric_limits<int64_t>::min()};
  std::atomic<int64_t> output_watermark{std::numeric_limits<int64_t>::min()};
  std::atomic<int> holding_channel{-1};
  int vertex = -1;  ///< the task's vertex in the job graph
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};  ///< updated at the end of each slice
  std::atomic<int64_t> busy_ns{0};
  std::atomic<int64_t> backpressured_ns{0};
  const std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  /// What other threads read of each input channel (metrics, the watermark view); made by the
  /// JobRun once `channels` is complete, before the task first runs.
  struct ChannelView {
    std::atomic<int64_t> watermark{std::numeric_limits<int64_t>::min()};
    std::atomic<uint8_t> flags{0};  ///< 1: idle, 2: ended
    int input = 0;
    int upstream_vertex = -1;
    int upstream_subtask = -1;
  };
  std::unique_ptr<ChannelView[]> channel_views;
  std::size_t channel_view_count = 0;
  std::atomic<uint64_t> state_memory{0};
  std::atomic<uint64_t> state_memory_peak{0};
  std::atomic<uint64_t> state_disk{0};

 private:
  enum class Slice { kYield, kWait, kDone };
  enum State : int { kIdle = 0, kQueued = 1, kRunning = 2, kRunningNotified = 3, kDone = 4 };

  Slice run_slice();
  Slice run_source_slice();
  Slice run_input_slice();
  void open_chain();
  bool outputs_available();
  void flush_outputs();
  /// After a step that may have emitted: sends partly filled batches once the oldest of them
  /// may be older than the buffer timeout. `now` is read once per step anyway.
  void flush_if_due(std::chrono::steady_clock::time_point step_start, std::chrono::steady_clock::time_point now);
  /// The number of records the source's next step may emit: grows to the batch size, and is
  /// kept so that a step takes about half the buffer timeout and emits about a quarter of a
  /// channel's capacity.
  void adapt_source_step(std::size_t emitted, uint64_t bytes, std::chrono::nanoseconds took);
  /// Feeds the rest of a batch interrupted when an output channel filled up; returns true when
  /// it is done. `stop`: whether to stop again when a channel fills up.
  bool consume_pending(bool stop);
  void handle_end_of_channel(int gate_index);
  void handle_watermark(int gate_index, int64_t watermark);
  void handle_watermark_status(int gate_index, bool idle);
  /// Recomputes one input's watermark from its channels and passes changes to the head.
  void update_input(int input);
  void fire_due_timers();
  void request_wakeup();
  /// Ends the chain's input; returns kDone, or kWait while a finished task waits for the
  /// checkpoint that holds its final state.
  Slice finish_chain();
  void close_chain() noexcept;
  void post(std::function<void()> mail);
  void run_mail();
  std::vector<OperatorSnapshot> snapshot_chain(int64_t id, int64_t timestamp, uint8_t flags);
  void snapshot_and_forward(int64_t id, int64_t timestamp, uint8_t flags);
  /// `overtaken`: the events a priority barrier overtook in the channel's consumer-side queue
  /// (remote channels); they join the in-flight input of that channel.
  void handle_barrier(int gate_index, const Event& barrier, std::vector<InFlightEvent> overtaken = {});
  void check_alignment();
  void end_alignment();
  std::string describe_failure(std::exception_ptr error) const;
  /// False for failures a restart would meet again (an IncompatibleStateError).
  static bool is_recoverable(std::exception_ptr error);

  TaskInfo info_;
  JobRun* job_;
  WorkerPool* pool_;
  std::atomic<int> state_{kIdle};
  std::atomic<bool> cancel_{false};
  bool opened_ = false;
  mutable std::mutex metric_groups_mu_;
  std::vector<std::pair<std::string, std::shared_ptr<MetricGroup>>> metric_groups_;
  std::vector<int> open_channels_;       ///< per head input: channels not yet ended
  std::vector<int64_t> input_watermark_; ///< per head input
  std::vector<bool> input_idle_;         ///< per head input

  struct Timer {
    int64_t time;
    uint64_t seq;
    std::function<void(int64_t)> callback;
    bool operator>(const Timer& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };
  std::vector<Timer> timers_;  ///< min-heap by (time, seq); task thread only
  uint64_t timer_seq_ = 0;
  int64_t wakeup_at_ = std::numeric_limits<int64_t>::max();  ///< the wake-up already asked for

  std::mutex mail_mu_;
  std::vector<std::function<void()>> mail_;  // guarded by mail_mu_
  std::atomic<bool> has_mail_{false};
  // Barrier alignment (task thread only).
  int64_t aligning_ = -1;         ///< checkpoint being aligned, -1: none
  int64_t aligning_ts_ = 0;
  std::chrono::steady_clock::time_point align_started_{};
  std::atomic<int64_t> last_alignment_ns_{0};
  std::atomic<int64_t> last_alignment_id_{-1};
  uint8_t aligning_flags_ = 0;
  int64_t last_barrier_ = 0;      ///< newest checkpoint id seen
  std::vector<char> barrier_seen_;  ///< per gate channel
  std::vector<OperatorSnapshot> unaligned_snaps_;  ///< taken at the first barrier, acknowledged at the last
  std::vector<char> recording_;     ///< per gate channel: record what arrives until its barrier
  void record_inflight(int gate_index, const Event& e);
  ChannelState& inflight_in(int gate_index);
  void forward_barrier_priority(int64_t id, int64_t timestamp, uint8_t flags);
  void replay_inflight();
  bool waiting_final_ = false;    ///< finished; waiting for the checkpoint with the final state
  bool released_ = false;         ///< that checkpoint completed
  bool suspended_ = false;        ///< a source stopped by stop-with-savepoint
  bool parked_on_output_ = false; ///< the last slice ended because an output was full
  std::chrono::steady_clock::time_point parked_at_{};
  void publish_channel(int gate_index);
  uint32_t slices_ = 0;
  void sample_state_size();

  // Bounded output (task thread only).
  /// Set by a ResultPartition when a push leaves a channel at capacity; read by the source and
  /// batch consumers between records, cleared before each step.
  bool output_full_ = false;
  /// A batch of which only the first `pending_pos_` records were fed, because an output channel
  /// filled up; fed before anything else is taken from the gate.
  std::unique_ptr<BatchBase> pending_batch_;
  std::size_t pending_pos_ = 0;
  int pending_gi_ = -1;
  /// The buffer timeout of the task's outputs (the smallest of its partitions'); max: none.
  std::chrono::nanoseconds buffer_timeout_ = std::chrono::nanoseconds::max();
  bool unflushed_ = false;  ///< a step may have left records in partly filled batches since the last flush
  std::chrono::steady_clock::time_point unflushed_since_{};
  std::size_t source_step_ = 1;  ///< records the source's next step may emit
  std::size_t step_bytes_budget_ = 64 * 1024;
  uint64_t pushed_bytes() const;
};

}  // namespace weir::runtime
