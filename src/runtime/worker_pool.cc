#include "runtime/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "runtime/task.h"

namespace weir::runtime {
namespace {
// Spinning before sleep (see `loop`): at most this long, stealing from the others after
// kStealAfterNs; kSpinProbeNs when the spin has shrunk to nothing.
constexpr int64_t kMaxSpinNs = 200'000;
constexpr int64_t kStealAfterNs = 20'000;
constexpr int64_t kSpinProbeNs = 20'000;

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < std::max(threads, 0); ++i) workers_.push_back(std::make_unique<Worker>());
  if (workers_.empty()) workers_.push_back(std::make_unique<Worker>());  // a queue, no thread
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { loop(i); });
}

WorkerPool::~WorkerPool() {
  stop();
  join();
}

void WorkerPool::submit(Task* task, int home) {
  Worker& w = *workers_[static_cast<std::size_t>(home) % workers_.size()];
  bool wake;
  {
    std::lock_guard lock(w.mu);
    w.queue.push_back(task);
    w.queued.store(static_cast<int>(w.queue.size()), std::memory_order_relaxed);
    wake = w.sleeping;
  }
  // Only a sleeping thread needs the (system-call) wake-up; a busy or spinning one sees the queue.
  if (wake) {
    w.cv.notify_one();
    return;
  }
  // The home thread is in the middle of another task's slice (which may take up to a slice
  // budget, or block in user code): a sleeping thread steals the task instead of finding it at
  // its next periodic look. Spinning threads steal on their own.
  if (!w.busy.load(std::memory_order_relaxed) || workers_.size() < 2) return;
  const std::size_t n = workers_.size();
  const std::size_t self = static_cast<std::size_t>(home) % n;
  for (std::size_t k = 1; k < n; ++k) {
    Worker& other = *workers_[(self + k) % n];
    if (!other.asleep.load(std::memory_order_relaxed)) continue;
    std::lock_guard lock(other.mu);
    if (other.sleeping) {
      other.cv.notify_one();
      return;
    }
  }
}

void WorkerPool::stop() {
  stopping_.store(true, std::memory_order_release);
  for (auto& w : workers_) {
    std::lock_guard lock(w->mu);
    w->cv.notify_all();
  }
}

void WorkerPool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

Task* WorkerPool::pop(Worker& w) {
  if (w.queued.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard lock(w.mu);
  if (w.queue.empty()) return nullptr;
  Task* t = w.queue.front();
  w.queue.pop_front();
  w.queued.store(static_cast<int>(w.queue.size()), std::memory_order_relaxed);
  return t;
}

Task* WorkerPool::steal(int thief) {
  const int n = static_cast<int>(workers_.size());
  for (int k = 1; k < n; ++k) {
    if (Task* t = pop(*workers_[static_cast<std::size_t>((thief + k) % n)])) return t;
  }
  return nullptr;
}

void WorkerPool::loop(int index) {
  const std::string name = "weir-worker-" + std::to_string(index);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  using clock = std::chrono::steady_clock;
  Worker& me = *workers_[static_cast<std::size_t>(index)];
  for (;;) {
    Task* task = pop(me);
    if (!task) {
      // Spin a little before sleeping: tasks hand work to each other at a high rate, and a
      // futex sleep and wake per hand-off costs more than the work. Prefer our own tasks;
      // steal after a moment. The spin adapts: it halves after a spin that found nothing
      // (spinning threads burn CPU the process is billed for, and on a busy machine they take
      // it from the threads that would make the work) and grows back after one that did; at
      // zero, one short spin in 16 probes whether spinning pays again.
      const int64_t limit_ns = me.spin_ns > 0 ? me.spin_ns : ((++me.spin_probe & 15) == 0 ? kSpinProbeNs : 0);
      if (limit_ns > 0) {
        const auto start = clock::now();
        for (unsigned n = 0;; ++n) {
          if ((task = pop(me))) break;
          spin_pause();
          if ((n & 15) != 15) continue;  // the clock costs more than a look at the queue
          const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start).count();
          if (waited > kStealAfterNs && (task = steal(index))) break;
          if (waited > limit_ns) break;
        }
        me.spin_ns = task ? std::min<int64_t>(kMaxSpinNs, std::max<int64_t>(me.spin_ns * 2, kSpinProbeNs))
                          : me.spin_ns / 2;
      }
    }
    while (!task) {
      std::unique_lock lock(me.mu);
      if (me.queue.empty()) {
        if (stopping_.load(std::memory_order_acquire)) {
          // Nothing of ours left; finish anything still queued elsewhere, then exit.
          lock.unlock();
          if ((task = steal(index))) break;
          return;
        }
        me.sleeping = true;
        me.asleep.store(true, std::memory_order_relaxed);
        me.cv.wait_for(lock, std::chrono::milliseconds(1));
        me.asleep.store(false, std::memory_order_relaxed);
        me.sleeping = false;
      }
      if (!me.queue.empty()) {
        task = me.queue.front();
        me.queue.pop_front();
        me.queued.store(static_cast<int>(me.queue.size()), std::memory_order_relaxed);
      } else {
        lock.unlock();
        task = steal(index);
      }
    }
    me.busy.store(true, std::memory_order_relaxed);
    task->run();
    me.busy.store(false, std::memory_order_relaxed);
  }
}

}  // namespace weir::runtime
