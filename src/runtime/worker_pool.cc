#include "runtime/worker_pool.h"

#include <pthread.h>

#include <chrono>
#include <string>

#include "runtime/task.h"

namespace weir::runtime {

WorkerPool::WorkerPool(int threads) {
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { loop(i); });
}

WorkerPool::~WorkerPool() {
  stop();
  join();
}

void WorkerPool::submit(Task* task) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(task);
    queued_.store(static_cast<int>(queue_.size()), std::memory_order_relaxed);
    wake = sleepers_ > 0;
  }
  // Only a sleeping thread needs the (system-call) wake-up; spinning ones see the queue.
  if (wake) cv_.notify_one();
}

Task* WorkerPool::try_pop() {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return nullptr;
  Task* t = queue_.front();
  queue_.pop_front();
  queued_.store(static_cast<int>(queue_.size()), std::memory_order_relaxed);
  return t;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void WorkerPool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::loop(int index) {
  const std::string name = "weir-worker-" + std::to_string(index);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  using clock = std::chrono::steady_clock;
  for (;;) {
    Task* task = try_pop();
    if (!task) {
      // Spin a little before sleeping: tasks hand work to each other at a high rate, and a
      // futex sleep and wake per hand-off costs more than the work.
      const auto until = clock::now() + std::chrono::microseconds(200);
      while (!task && clock::now() < until) {
        if (queued_.load(std::memory_order_relaxed) > 0) task = try_pop();
      }
    }
    if (!task) {
      std::unique_lock lock(mu_);
      ++sleepers_;
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      --sleepers_;
      if (queue_.empty()) return;  // stopping and nothing left
      task = queue_.front();
      queue_.pop_front();
      queued_.store(static_cast<int>(queue_.size()), std::memory_order_relaxed);
    }
    task->run();
  }
}

}  // namespace weir::runtime
