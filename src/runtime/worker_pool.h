#pragma once
/// A fixed pool of threads running task slices. Tasks are actors: the pool runs each queued
/// task's `run()` on one thread at a time; a task re-queues itself through `Task::notify()`.
///
/// Each thread has its own queue. A task is queued on its home thread (subtask i of every
/// operator on thread i mod n, as Flink puts subtask i of each operator in slot i), so a task's
/// state stays in one core's cache. A thread with nothing of its own to run steals from the
/// others after a short spin, and a sleeping thread looks for work to steal every millisecond,
/// so a task blocked in a user function delays the others on its thread by at most that. A
/// task queued on a thread that is busy running another one wakes a sleeping thread at once to
/// steal it: a task that blocks or runs long (a paced source) does not delay its neighbours.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
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

  /// Queues a task slice on thread `home % threads`. Thread-safe.
  void submit(Task* task, int home);
  /// Lets the threads exit once their queues are empty. Thread-safe, returns at once.
  void stop();
  /// Waits for the threads to exit (after `stop()`). Not from a pool thread.
  void join();
  int size() const { return static_cast<int>(workers_.size()); }

 private:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Task*> queue;      // guarded by mu
    bool sleeping = false;        // guarded by mu
    std::atomic<int> queued{0};   // the queue's size, readable without mu (a hint)
    // Hints readable without mu: the thread is running a task slice / waiting on cv.
    std::atomic<bool> busy{false};
    std::atomic<bool> asleep{false};
    // The owning thread's only: how long it spins before sleeping (adapts to whether spins
    // find work), and a counter for probes once it is zero.
    int64_t spin_ns = 200'000;
    unsigned spin_probe = 0;
  };
  void loop(int index);
  Task* pop(Worker& w);
  Task* steal(int thief);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace weir::runtime
