#pragma once
/// Processing time. Every operator reads it from the job's `Clock`, so tests can use a
/// `ManualClock` and be deterministic (DESIGN.md, decision 8).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace weir {

/// A source of processing time, in milliseconds since the epoch. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;
  /// True when time only moves by `ManualClock::advance` (the runtime then fires processing-time
  /// timers when it is advanced instead of sleeping).
  virtual bool is_manual() const { return false; }
  /// Calls `listener` (on the thread that moves the clock) whenever a manual clock moves; system
  /// clocks never call it. Returns an id for `remove_listener`.
  uint64_t add_listener(std::function<void()> listener) {
    std::lock_guard lock(mu_);
    listeners_.push_back({++next_id_, std::make_shared<std::function<void()>>(std::move(listener))});
    return next_id_;
  }
  void remove_listener(uint64_t id) {
    std::lock_guard lock(mu_);
    std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
  }

 protected:
  void notify_listeners() {
    std::vector<std::shared_ptr<std::function<void()>>> copy;
    {
      std::lock_guard lock(mu_);
      for (auto& l : listeners_) copy.push_back(l.second);
    }
    for (auto& l : copy) (*l)();
  }

 private:
  std::mutex mu_;
  uint64_t next_id_ = 0;
  std::vector<std::pair<uint64_t, std::shared_ptr<std::function<void()>>>> listeners_;
};

/// Wall-clock time.
class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

/// Time that moves only when told to: `advance(ms)` / `set(ms)`. Processing-time timers that
/// become due fire on the task threads right after the clock moves.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 0) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(std::memory_order_acquire); }
  bool is_manual() const override { return true; }
  void advance(int64_t ms) {
    now_.fetch_add(ms, std::memory_order_acq_rel);
    notify_listeners();
  }
  void advance(std::chrono::milliseconds d) { advance(d.count()); }
  void set(int64_t ms) {
    now_.store(ms, std::memory_order_release);
    notify_listeners();
  }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace weir
