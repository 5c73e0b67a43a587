#pragma once
/// The calls between a checkpoint coordinator and the tasks of its job, as two interfaces. In
/// one process the runtime's tasks and the `CheckpointCoordinator` implement them directly; a
/// runtime spread over processes would put a proxy on each side that forwards the calls.
///
/// Threading: every call may come from any thread and must not block; implementations post the
/// work to their own thread (a task's mailbox, the coordinator's lock and writer thread).
#include <cstdint>
#include <string>
#include <vector>

#include "weir/state/snapshot.hpp"

namespace weir::checkpoint {

/// What the coordinator asks of one task.
class TaskGateway {
 public:
  virtual ~TaskGateway() = default;
  /// A source task snapshots its chain and sends barrier `id` downstream; with `stop` it then
  /// emits nothing more (stop-with-savepoint).
  virtual void trigger_barrier(int64_t id, int64_t timestamp, uint8_t flags, bool stop) = 0;
  /// Checkpoint `id` completed. `release`: it holds this task's final snapshot, so a finished
  /// task may end now. `stop`: it was the savepoint of a stop-with-savepoint.
  virtual void post_checkpoint_complete(int64_t id, bool release, bool stop) = 0;
  virtual void post_checkpoint_aborted(int64_t id) = 0;
  /// How long the task aligned barriers of checkpoint `id` (first to last barrier), read when
  /// it acknowledges; 0 when unknown.
  virtual int64_t alignment_ns(int64_t /*id*/) const { return 0; }
};

/// What a task reports to the coordinator.
class CheckpointResponder {
 public:
  virtual ~CheckpointResponder() = default;
  /// The task's snapshots for checkpoint `id`, in chain order.
  virtual void acknowledge(TaskGateway* task, int64_t id, std::vector<runtime::OperatorSnapshot> snapshots) = 0;
  /// The task cannot take part in checkpoint `id` (it is aborted).
  virtual void decline(int64_t id, const std::string& reason) = 0;
  /// The task finished: its final snapshot stands in for it in this and later checkpoints.
  virtual void task_finished(TaskGateway* task, std::vector<runtime::OperatorSnapshot> snapshots) = 0;
  /// The task finished while checkpointing is off (no final snapshot).
  virtual void task_ended_without_state(TaskGateway* task) = 0;
  /// The task is about to deliver `notify_checkpoint_complete(id)` to its operators (sinks
  /// commit): from then on, restoring a checkpoint older than `id` repeats committed output.
  virtual void completion_delivered(int64_t id) = 0;
};

}  // namespace weir::checkpoint
