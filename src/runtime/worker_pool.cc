#include "runtime/worker_pool.h"

#include <pthread.h>

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
  {
    std::lock_guard lock(mu_);
    queue_.push_back(task);
  }
  cv_.notify_one();
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
  for (;;) {
    Task* task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping and nothing left
      task = queue_.front();
      queue_.pop_front();
    }
    task->run();
  }
}

}  // namespace weir::runtime
