#pragma once
/// A fixed pool of threads running task slices. Tasks are actors: the pool runs each queued
/// task's `run()` on one thread at a time; a task re-queues itself through `Task::notify()`.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace weir::runtime {

class Task;

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues a task slice. Thread-safe.
  void submit(Task* task);
  /// Lets the threads exit once the queue is empty. Thread-safe, returns at once.
  void stop();
  /// Waits for the threads to exit (after `stop()`). Not from a pool thread.
  void join();

 private:
  void loop(int index);

  Task* try_pop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task*> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  int sleepers_ = 0;         // guarded by mu_: threads waiting on cv_
  // A hint read without the lock by spinning threads: the queue's size (exact under mu_).
  std::atomic<int> queued_{0};
  std::vector<std::thread> threads_;
};

}  // namespace weir::runtime
