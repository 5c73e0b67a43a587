#pragma once
/// Channels: bounded, ordered, single-producer single-consumer queues of events (record batches
/// and control events) between two subtasks, and the input gate that tells a task which of its
/// channels hold data.
///
/// A producer sees a channel as an `OutputChannel`, a consumer as an `InputChannel`. In one
/// process both ends are the same `LocalChannel`, which moves batch objects; a channel between
/// processes would implement each end on its own side (serialising batches with `Serde<T>`,
/// with credit-based flow control standing in for `producer_available`).
///
/// Threading: `OutputChannel` calls come from the producer's task, `InputChannel` calls from the
/// consumer's task (through its `InputGate`); both may run at once on different worker threads.
#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "weir/state/snapshot.hpp"
#include "weir/runtime/internal/record.hpp"

namespace weir::detail {
class TypeOps;
}

namespace weir::runtime {

class Task;
class InputGate;

/// The stored form of a record batch or watermark event in flight (unaligned checkpoints);
/// false for events that are not stored (barriers, end of input).
bool to_inflight(const Event& e, InFlightEvent& out);
/// The inverse of `to_inflight`: the event an `InFlightEvent` stores, its batch decoded as
/// records of `type` (throws SerdeError / StateError as `TypeOps::decode_batch`).
Event from_inflight(const InFlightEvent& e, const detail::TypeOps& type);

/// Bytes queued in all channels of a job, and the peak (for tests and metrics).
struct ChannelStats {
  std::atomic<std::size_t> queued{0};
  std::atomic<std::size_t> peak{0};
  void add(std::size_t n) {
    const std::size_t now = queued.fetch_add(n, std::memory_order_relaxed) + n;
    std::size_t p = peak.load(std::memory_order_relaxed);
    while (now > p && !peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
    }
  }
  void sub(std::size_t n) { queued.fetch_sub(n, std::memory_order_relaxed); }
};

/// The producer's end of a channel.
class OutputChannel {
 public:
  virtual ~OutputChannel() = default;
  /// Appends an event and wakes the consumer. Never blocks: the producer checks `full()` after
  /// each push and stops between two records, and `producer_available()` before it makes more
  /// output, so a channel holds at most its capacity plus one batch (or one oversized record).
  virtual void push(Event event) = 0;
  /// At or above capacity (a hint without a lock, for the producer).
  virtual bool full() const = 0;
  /// True when the channel has room. When not, registers the producer to be notified once the
  /// consumer has made room again.
  virtual bool producer_available() = 0;
  /// Unaligned checkpoints: puts `barrier` ahead of every queued event, and appends the events
  /// it overtook (which still follow it) to `overtaken`, encoded.
  virtual void push_priority(Event barrier, std::vector<InFlightEvent>& overtaken) = 0;
  /// Bytes queued and not yet taken by the consumer.
  virtual std::size_t queued_bytes() = 0;
};

/// The consumer's end of a channel. A channel lists itself with its consumer's `InputGate`
/// when it becomes non-empty (`InputGate::mark_ready`) and when a barrier overtook its data
/// (`InputGate::mark_priority`).
class InputChannel {
 public:
  explicit InputChannel(int gate_index) : gate_index_(gate_index) {}
  virtual ~InputChannel() = default;
  /// Removes the oldest event: returns -1 when there was none, else 1 when more remain and 0
  /// when not. Called when the gate reported this channel ready.
  virtual int pop(Event& out) = 0;
  /// Removes the event at the front if it is a barrier.
  virtual bool pop_priority(Event& out) = 0;
  /// Unaligned checkpoints, for channels whose consumer end holds a queue of its own (between
  /// processes): the events queued on the consumer's side that the barrier the last `pop` /
  /// `pop_priority` returned overtook, encoded and in order. They precede the barrier (the
  /// task stores them as in-flight input) and are still delivered after it. A local channel
  /// has none: its producer's `push_priority` reports everything the barrier overtook.
  virtual void take_overtaken(std::vector<InFlightEvent>& out) { (void)out; }
  /// The channel's position among its consumer's input channels.
  int gate_index() const { return gate_index_; }

 private:
  int gate_index_;
};

/// Both ends of a channel between two subtasks of this process: a queue of events under a
/// mutex, bounded in bytes.
class LocalChannel final : public OutputChannel, public InputChannel {
 public:
  LocalChannel(std::size_t capacity_bytes, Task* producer, InputGate* gate, int gate_index, ChannelStats* stats)
      : InputChannel(gate_index), capacity_(capacity_bytes), producer_(producer), gate_(gate), stats_(stats) {}

  void push(Event event) override;
  /// Below capacity; when not, the producer is notified once the consumer drained it to half.
  bool producer_available() override;
  int pop(Event& out) override;
  void push_priority(Event barrier, std::vector<InFlightEvent>& overtaken) override;
  bool pop_priority(Event& out) override;
  std::size_t queued_bytes() override;
  bool full() const override { return bytes_.load(std::memory_order_relaxed) >= capacity_; }

 private:
  std::mutex mu_;
  std::deque<Event> queue_;       // guarded by mu_
  // Written under mu_; read without it by the producer's fast path in producer_available().
  std::atomic<std::size_t> bytes_{0};
  bool in_ready_list_ = false;    // guarded by mu_: the gate lists this channel as ready
  bool producer_waiting_ = false; // guarded by mu_
  const std::size_t capacity_;
  Task* producer_;
  InputGate* gate_;
  ChannelStats* stats_;
};

/// The input channels of one task, and the queue of those that hold events.
class InputGate {
 public:
  explicit InputGate(Task* owner) : owner_(owner) {}
  /// Called by a channel that became non-empty: lists it and wakes the owning task.
  void mark_ready(InputChannel* channel);
  /// Pops one event from the next ready channel; returns the channel's gate index, or -1 when no
  /// channel holds an event. Blocked channels are skipped. Consumer only.
  int poll(Event& out);
  /// A barrier that overtook data: its channel's gate index (the barrier is removed into
  /// `out`), or -1 when none is waiting. Consumer only; taken even under backpressure.
  int poll_priority(Event& out);
  bool has_priority() const { return priority_.load(std::memory_order_acquire) != 0; }
  /// The events the barrier last returned by `poll` / `poll_priority` overtook in its channel's
  /// consumer-side queue (`InputChannel::take_overtaken`). Consumer only.
  void take_overtaken(std::vector<InFlightEvent>& out) {
    if (last_ != nullptr) last_->take_overtaken(out);
  }
  void mark_priority(InputChannel* channel);
  /// Stops taking events from channel `gate_index` (barrier alignment) until `unblock_all`.
  /// Consumer only.
  void block(int gate_index);
  void unblock_all();

 private:
  std::mutex mu_;
  std::deque<InputChannel*> ready_;  // guarded by mu_
  std::vector<char> blocked_;   // guarded by mu_; by gate index
  std::vector<InputChannel*> parked_;  // guarded by mu_: ready but blocked
  std::vector<InputChannel*> priority_list_;  // guarded by mu_
  std::atomic<int> priority_{0};
  InputChannel* last_ = nullptr;  ///< consumer only: the channel of the event returned last
  Task* owner_;
};

}  // namespace weir::runtime
