#pragma once
/// Processing time. Every operator reads it from the job's `Clock`, so tests can use a
/// `ManualClock` and be deterministic.
#include <atomic>
#include <chrono>
#include <condition_variable>
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
  /// True when time only moves by `ManualClock::advance` or `set` (the runtime then fires
  /// processing-time timers when it moves instead of sleeping).
  virtual bool is_manual() const { return false; }
  /// Calls `listener` (on the thread that moves the clock) whenever a manual clock moves; system
  /// clocks never call it. Returns an id for `remove_listener`.
  uint64_t add_listener(std::function<void()> listener) {
    std::lock_guard lock(mu_);
    listeners_.push_back({++next_id_, std::make_shared<Listener>(Listener{std::move(listener)})});
    return next_id_;
  }
  /// Once this returns the listener is neither running nor called again (so what it refers to
  /// may be destroyed). Not from inside a listener.
  void remove_listener(uint64_t id) {
    std::unique_lock lock(mu_);
    std::shared_ptr<Listener> gone;
    std::erase_if(listeners_, [&](const auto& l) {
      if (l.first != id) return false;
      gone = l.second;
      return true;
    });
    if (!gone) return;
    gone->removed = true;
    idle_.wait(lock, [&] { return gone->running == 0; });
  }

 protected:
  void notify_listeners() {
    std::vector<std::shared_ptr<Listener>> copy;
    {
      std::lock_guard lock(mu_);
      for (auto& l : listeners_) copy.push_back(l.second);
    }
    for (auto& l : copy) {
      {
        std::lock_guard lock(mu_);
        if (l->removed) continue;
        ++l->running;
      }
      struct Done {
        Clock* clock;
        Listener* listener;
        ~Done() {
          std::lock_guard lock(clock->mu_);
          if (--listener->running == 0) clock->idle_.notify_all();
        }
      } done{this, l.get()};
      l->fn();
    }
  }

 private:
  struct Listener {
    std::function<void()> fn;
    int running = 0;       // guarded by mu_: calls in progress
    bool removed = false;  // guarded by mu_
  };
  std::mutex mu_;
  std::condition_variable idle_;  // a removed listener's last call ended
  uint64_t next_id_ = 0;
  std::vector<std::pair<uint64_t, std::shared_ptr<Listener>>> listeners_;  // guarded by mu_
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
