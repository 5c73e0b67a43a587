#pragma once
/// Channels: bounded, ordered, single-producer single-consumer queues of events (record batches
/// and control events) between two subtasks, and the input gate that tells a task which of its
/// channels hold data.
///
/// Threading: `push` and `producer_available` are called by the producer's task, `InputGate::poll`
/// by the consumer's task; both may run at once on different worker threads.
#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "weir/runtime/checkpoint.hpp"
#include "weir/runtime/record.hpp"

namespace weir::runtime {

class Task;
class InputGate;

/// The stored form of a record batch or watermark event in flight (unaligned checkpoints);
/// false for events that are not stored (barriers, end of input).
bool to_inflight(const Event& e, InFlightEvent& out);

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

class Channel {
 public:
  Channel(std::size_t capacity_bytes, Task* producer, InputGate* gate, int gate_index, ChannelStats* stats)
      : capacity_(capacity_bytes), producer_(producer), gate_(gate), gate_index_(gate_index), stats_(stats) {}

  /// Appends an event and wakes the consumer. Never blocks: the producer checks `full()` after
  /// each push and stops between two records, and `producer_available()` before it makes more
  /// output, so a channel holds at most its capacity plus one batch (or one oversized record).
  void push(Event event);

  /// True when the channel is below capacity. When not, registers the producer to be notified
  /// once the consumer has drained it to half.
  bool producer_available();

  /// Removes the oldest event: returns -1 when there was none, else 1 when more remain and 0
  /// when not. Consumer only; called when the gate reported this channel ready.
  int pop(Event& out);

  /// Unaligned checkpoints: puts `barrier` ahead of every queued event, and appends the events
  /// it overtook (which still follow it) to `overtaken`, encoded. Producer only.
  void push_priority(Event barrier, std::vector<InFlightEvent>& overtaken);
  /// Removes the event at the front if it is a barrier. Consumer only.
  bool pop_priority(Event& out);

  int gate_index() const { return gate_index_; }
  std::size_t queued_bytes();
  /// At or above capacity (a hint without the lock, for the producer).
  bool full() const { return bytes_.load(std::memory_order_relaxed) >= capacity_; }

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
  int gate_index_;
  ChannelStats* stats_;
};

/// The input channels of one task, and the queue of those that hold events.
class InputGate {
 public:
  explicit InputGate(Task* owner) : owner_(owner) {}
  /// Called by a channel that became non-empty: lists it and wakes the owning task.
  void mark_ready(Channel* channel);
  /// Pops one event from the next ready channel; returns the channel's gate index, or -1 when no
  /// channel holds an event. Blocked channels are skipped. Consumer only.
  int poll(Event& out);
  /// A barrier that overtook data: its channel's gate index (the barrier is removed into
  /// `out`), or -1 when none is waiting. Consumer only; taken even under backpressure.
  int poll_priority(Event& out);
  bool has_priority() const { return priority_.load(std::memory_order_acquire) != 0; }
  void mark_priority(Channel* channel);
  /// Stops taking events from channel `gate_index` (barrier alignment) until `unblock_all`.
  /// Consumer only.
  void block(int gate_index);
  void unblock_all();

 private:
  std::mutex mu_;
  std::deque<Channel*> ready_;  // guarded by mu_
  std::vector<char> blocked_;   // guarded by mu_; by gate index
  std::vector<Channel*> parked_;  // guarded by mu_: ready but blocked
  std::vector<Channel*> priority_list_;  // guarded by mu_
  std::atomic<int> priority_{0};
  Task* owner_;
};

}  // namespace weir::runtime
