#include "runtime/channel.h"

#include "runtime/task.h"
#include "weir/runtime/internal/logical_graph.hpp"

namespace weir::runtime {

bool to_inflight(const Event& e, InFlightEvent& out) {
  switch (e.kind) {
    case Event::Kind::kBatch:
      out.kind = 0;
      e.batch->encode(out.bytes);
      return true;
    case Event::Kind::kWatermark:
      out.kind = 1;
      out.value = e.value;
      return true;
    case Event::Kind::kWatermarkStatus:
      out.kind = 2;
      out.value = e.value;
      return true;
    default:
      return false;
  }
}

Event from_inflight(const InFlightEvent& e, const detail::TypeOps& type) {
  switch (e.kind) {
    case 0: {
      Event out;
      out.kind = Event::Kind::kBatch;
      out.batch = type.decode_batch(e.bytes);
      return out;
    }
    case 1:
      return Event::watermark(e.value);
    case 2:
      return Event::watermark_status(e.value != 0);
    default:
      throw StateError("in-flight event of unknown kind " + std::to_string(e.kind));
  }
}

void LocalChannel::push(Event event) {
  bool list = false;
  {
    std::lock_guard lock(mu_);
    const std::size_t n = event.bytes();
    bytes_.store(bytes_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    stats_->add(n);
    queue_.push_back(std::move(event));
    if (!in_ready_list_) {
      in_ready_list_ = true;
      list = true;
    }
  }
  // The consumer cannot pop this channel until it is listed, so listing outside the lock keeps
  // every event visible exactly once.
  if (list) gate_->mark_ready(this);
}

bool LocalChannel::producer_available() {
  // Fast path without the lock: a stale value only delays the producer to its next check.
  if (bytes_.load(std::memory_order_relaxed) < capacity_) return true;
  std::lock_guard lock(mu_);
  if (bytes_.load(std::memory_order_relaxed) < capacity_) return true;
  producer_waiting_ = true;
  return false;
}

int LocalChannel::pop(Event& out) {
  bool more;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {  // a priority barrier was its last event
      in_ready_list_ = false;
      return -1;
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t n = out.bytes();
    bytes_.store(bytes_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    stats_->sub(n);
    more = !queue_.empty();
    if (!more) in_ready_list_ = false;
    if (producer_waiting_ && bytes_.load(std::memory_order_relaxed) <= capacity_ / 2) {
      producer_waiting_ = false;
      wake = true;
    }
  }
  if (wake) producer_->notify();
  return more ? 1 : 0;
}

void LocalChannel::push_priority(Event barrier, std::vector<InFlightEvent>& overtaken) {
  bool list = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : queue_) {
      InFlightEvent f;
      if (!to_inflight(e, f)) continue;  // barriers and end of input are not records
      overtaken.push_back(std::move(f));
    }
    const std::size_t n = barrier.bytes();
    bytes_.store(bytes_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    stats_->add(n);
    queue_.push_front(std::move(barrier));
    if (!in_ready_list_) {
      in_ready_list_ = true;
      list = true;
    }
  }
  if (list) gate_->mark_ready(this);
  gate_->mark_priority(this);
}

bool LocalChannel::pop_priority(Event& out) {
  std::lock_guard lock(mu_);
  if (queue_.empty() || queue_.front().kind != Event::Kind::kBarrier) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  const std::size_t n = out.bytes();
  bytes_.store(bytes_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  stats_->sub(n);
  return true;
}

std::size_t LocalChannel::queued_bytes() { return bytes_.load(std::memory_order_relaxed); }

void InputGate::mark_ready(InputChannel* channel) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(channel);
  }
  owner_->notify();
}

int InputGate::poll(Event& out) {
  InputChannel* c;
  {
    std::lock_guard lock(mu_);
    for (;;) {
      if (ready_.empty()) return -1;
      c = ready_.front();
      ready_.pop_front();
      const auto gi = static_cast<std::size_t>(c->gate_index());
      if (gi < blocked_.size() && blocked_[gi]) {
        parked_.push_back(c);
        continue;
      }
      break;
    }
  }
  const int r = c->pop(out);
  last_ = c;
  if (r == 1) {
    std::lock_guard lock(mu_);
    ready_.push_back(c);  // still holds events: back of the line, for fairness
  }
  if (r < 0) return poll(out);
  return c->gate_index();
}

void InputGate::mark_priority(InputChannel* channel) {
  {
    std::lock_guard lock(mu_);
    priority_list_.push_back(channel);
    priority_.fetch_add(1, std::memory_order_release);
  }
  owner_->notify();
}

int InputGate::poll_priority(Event& out) {
  for (;;) {
    InputChannel* c;
    {
      std::lock_guard lock(mu_);
      if (priority_list_.empty()) return -1;
      c = priority_list_.front();
      priority_list_.erase(priority_list_.begin());
      priority_.fetch_sub(1, std::memory_order_release);
    }
    if (c->pop_priority(out)) {
      last_ = c;
      return c->gate_index();
    }
    // Already taken by a normal poll (it was at the front): nothing to do.
  }
}

void InputGate::block(int gate_index) {
  std::lock_guard lock(mu_);
  const auto gi = static_cast<std::size_t>(gate_index);
  if (blocked_.size() <= gi) blocked_.resize(gi + 1, 0);
  blocked_[gi] = 1;
}

void InputGate::unblock_all() {
  std::lock_guard lock(mu_);
  std::fill(blocked_.begin(), blocked_.end(), 0);
  ready_.insert(ready_.begin(), parked_.begin(), parked_.end());
  parked_.clear();
}

}  // namespace weir::runtime
