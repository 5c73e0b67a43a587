#include "runtime/channel.h"

#include "runtime/task.h"

namespace weir::runtime {

void Channel::push(Event event) {
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

bool Channel::producer_available() {
  // Fast path without the lock: a stale value only delays the producer to its next check.
  if (bytes_.load(std::memory_order_relaxed) < capacity_) return true;
  std::lock_guard lock(mu_);
  if (bytes_.load(std::memory_order_relaxed) < capacity_) return true;
  producer_waiting_ = true;
  return false;
}

bool Channel::pop(Event& out) {
  bool more;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
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
  return more;
}

std::size_t Channel::queued_bytes() { return bytes_.load(std::memory_order_relaxed); }

void InputGate::mark_ready(Channel* channel) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(channel);
  }
  owner_->notify();
}

int InputGate::poll(Event& out) {
  Channel* c;
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
  if (c->pop(out)) {
    std::lock_guard lock(mu_);
    ready_.push_back(c);  // still holds events: back of the line, for fairness
  }
  return c->gate_index();
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
