#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Internal: runs the `SplitEnumerator` of one `EnumeratedSource` for one job run and carries
/// its assignments to the reader subtasks. Not for jobs to use.
///
/// Threads: the enumerator's own thread runs `start`, `add_reader`, `call_async` work and
/// handlers; reader subtasks (task threads) take their splits, snapshot and restore. One lock
/// (`mu_`) guards everything below it, and the enumerator is only called while it is held.
///
/// Consistency of checkpoints (as Flink's coordinator "valve"): each subtask has a queue of
/// assignments. The first subtask that takes checkpoint `id` snapshots the enumerator and puts a
/// mark for `id` into every queue; a subtask takes what its queue holds up to a mark only at its
/// own barrier for that checkpoint. So the splits assigned before the enumerator's snapshot are
/// exactly those in the readers' snapshots of the same checkpoint, wherever each barrier is.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/api/split_enumerator.hpp"

namespace weir::detail {

template <class T, class Split>
class SplitCoordinator final : public SplitEnumeratorContext<Split> {
 public:
  explicit SplitCoordinator(std::shared_ptr<const EnumeratedSource<T, Split>> source) : source_(std::move(source)) {}
  ~SplitCoordinator() override { shutdown(); }
  SplitCoordinator(const SplitCoordinator&) = delete;
  SplitCoordinator& operator=(const SplitCoordinator&) = delete;

  /// The enumerator state a restore starts from (first call wins; every subtask passes the
  /// same). `finished`: the checkpoint holds only readers that had ended (no enumerator state).
  void restore(std::optional<std::string> state, bool finished) {
    std::lock_guard lock(mu_);
    if (restore_set_) return;
    restore_set_ = true;
    restored_state_ = std::move(state);
    restored_finished_ = finished && !restored_state_;
  }

  /// Reader subtask `subtask` of `parallelism` opened; `wake` schedules its task (thread-safe).
  /// The first reader starts the enumerator's thread.
  void register_reader(int subtask, int parallelism, std::function<void()> wake) {
    std::lock_guard lock(mu_);
    if (!started_) {
      started_ = true;
      parallelism_ = parallelism;
      queues_.resize(static_cast<std::size_t>(parallelism));
      wakes_.resize(static_cast<std::size_t>(parallelism));
      jobs_.push_back(Job{Clock::now(), {}, 0, [this] { ensure_enumerator(); }});
      thread_ = std::thread([this] { loop(); });
    }
    wakes_.at(static_cast<std::size_t>(subtask)) = std::move(wake);
    jobs_.push_back(Job{Clock::now(), {}, 0, [this, subtask] {
                          if (enumerator_) enumerator_->add_reader(subtask);
                        }});
    cv_.notify_all();
  }
  /// The subtask's task ends: no more wake-ups to it (returns once none is running).
  void unregister_reader(int subtask) {
    std::lock_guard lock(mu_);
    if (static_cast<std::size_t>(subtask) < wakes_.size()) wakes_[static_cast<std::size_t>(subtask)] = nullptr;
  }

  /// What the subtask may take now: splits up to its first checkpoint mark, and whether it
  /// gets no more. Throws the enumerator's failure.
  void take(int subtask, std::vector<Split>& out, bool& no_more) {
    std::lock_guard lock(mu_);
    throw_if_failed();
    auto& q = queues_.at(static_cast<std::size_t>(subtask));
    while (!q.empty() && q.front().mark < 0) {
      pop_into(q, out, no_more);
    }
  }

  /// The enumerator's part of a checkpoint, taken by the first subtask at its barrier.
  struct Snapshot {
    bool taken = false;  ///< this subtask took it and stores it with its own state
    bool finished = false;  ///< no enumerator runs: every reader had ended before the restore
    std::string state;
  };
  /// At the subtask's barrier `id`: takes what was assigned before the enumerator's snapshot
  /// for `id` (taking that snapshot if this subtask is the first).
  Snapshot checkpoint(int64_t id, int subtask, std::vector<Split>& out, bool& no_more) {
    std::lock_guard lock(mu_);
    throw_if_failed();
    Snapshot snap;
    if (id > last_snapshot_id_) {
      last_snapshot_id_ = id;
      Owner owner(this);
      ensure_enumerator();  // normally done on its thread already
      snap.taken = true;
      snap.finished = !enumerator_;
      if (enumerator_) snap.state = enumerator_->snapshot_state(id);
      for (auto& q : queues_) q.push_back(Entry{id, false, std::nullopt});
    }
    auto& q = queues_.at(static_cast<std::size_t>(subtask));
    // Everything up to and including this checkpoint's mark (older marks of checkpoints this
    // subtask never saw go too), and nothing after it: what was assigned after the enumerator's
    // snapshot is not in that snapshot, so it must not be in this reader's either (a restore
    // would read it twice: restored here, assigned again by the restored enumerator). The
    // reader takes it after its snapshot, with `take`.
    while (!q.empty()) {
      if (q.front().mark >= 0) {
        const int64_t m = q.front().mark;
        if (m > id) break;
        q.pop_front();
        if (m == id) break;
        continue;
      }
      pop_into(q, out, no_more);
    }
    return snap;
  }

  /// Checkpoint `id` will not complete: the subtask stops holding back what follows its mark.
  void checkpoint_aborted(int64_t id, int subtask) {
    std::lock_guard lock(mu_);
    auto& q = queues_.at(static_cast<std::size_t>(subtask));
    q.erase(std::remove_if(q.begin(), q.end(), [&](const Entry& e) { return e.mark >= 0 && e.mark <= id; }), q.end());
  }

  void checkpoint_complete(int64_t id) {
    std::lock_guard lock(mu_);
    if (id <= last_complete_id_ || !enumerator_ || failed_) return;
    last_complete_id_ = id;
    Owner owner(this);
    try {
      enumerator_->notify_checkpoint_complete(id);
    } catch (const std::exception& e) {
      fail_locked(std::string("notify_checkpoint_complete failed: ") + e.what());
    }
  }

  /// Stops the enumerator's thread and closes the enumerator. Idempotent.
  void shutdown() {
    std::thread t;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      t = std::move(thread_);
    }
    cv_.notify_all();
    if (t.joinable()) t.join();
    std::lock_guard lock(mu_);
    if (enumerator_) {
      Owner owner(this);
      try {
        enumerator_->close();
      } catch (const std::exception& e) {
        // The job run is over; nothing can fail any more: report it.
        std::fprintf(stderr, "weir: closing the split enumerator failed: %s\n", e.what());
      }
      enumerator_.reset();
    }
  }

  // SplitEnumeratorContext
  int current_parallelism() const override { return parallelism_; }
  void assign_split(int subtask, Split split) override {
    check_owner("assign_split");
    check_subtask("assign_split", subtask);
    auto& q = queues_[static_cast<std::size_t>(subtask)];
    q.push_back(Entry{-1, false, std::move(split)});
    wake(subtask);
  }
  void signal_no_more_splits(int subtask) override {
    check_owner("signal_no_more_splits");
    check_subtask("signal_no_more_splits", subtask);
    queues_[static_cast<std::size_t>(subtask)].push_back(Entry{-1, true, std::nullopt});
    wake(subtask);
  }
  void run_in_enumerator_thread(std::function<void()> fn) override { add_job(Job{Clock::now(), {}, 0, std::move(fn)}); }

 protected:
  void schedule_async(std::function<std::function<void()>()> work, std::chrono::milliseconds initial_delay,
                      std::chrono::milliseconds period) override {
    add_job(Job{Clock::now() + initial_delay, std::move(work), period.count() > 0 ? period.count() : 0, {}});
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    int64_t mark = -1;  ///< >= 0: the mark of that checkpoint
    bool no_more = false;
    std::optional<Split> split;
  };
  /// Work for the enumerator's thread: `locked` runs under the lock; `work` runs without it
  /// and returns what to run under it; periodic when `period_ms` > 0.
  struct Job {
    Clock::time_point at;
    std::function<std::function<void()>()> work;
    int64_t period_ms = 0;
    std::function<void()> locked;
  };
  /// Marks the lock as held by this thread for the enumerator's calls into the context.
  struct Owner {
    explicit Owner(SplitCoordinator* c) : c_(c), prev_(c->owner_.load()) { c_->owner_.store(std::this_thread::get_id()); }
    ~Owner() { c_->owner_.store(prev_); }
    SplitCoordinator* c_;
    std::thread::id prev_;
  };

  /// From any thread, or from the enumerator's calls (which hold the lock already).
  void add_job(Job job) {
    if (owner_.load() == std::this_thread::get_id()) {
      jobs_.push_back(std::move(job));
    } else {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }

  void pop_into(std::deque<Entry>& q, std::vector<Split>& out, bool& no_more) {
    auto& e = q.front();
    if (e.no_more) no_more = true;
    if (e.split) out.push_back(std::move(*e.split));
    q.pop_front();
  }

  void check_owner(const char* what) const {
    if (owner_.load() != std::this_thread::get_id()) {
      throw std::logic_error(std::string(what) +
                             ": call it from the split enumerator's methods or handlers (start, add_reader, a call_async "
                             "handler, run_in_enumerator_thread), not from another thread");
    }
  }
  void check_subtask(const char* what, int subtask) const {
    if (subtask < 0 || subtask >= parallelism_) {
      throw std::out_of_range(std::string(what) + ": subtask " + std::to_string(subtask) + " is not in [0, " +
                              std::to_string(parallelism_) + ")");
    }
  }
  void wake(int subtask) {
    const auto& w = wakes_[static_cast<std::size_t>(subtask)];
    if (w) w();  // under mu_: the subtask cannot unregister (and end) meanwhile
  }
  void wake_all() {
    for (std::size_t i = 0; i < wakes_.size(); ++i) wake(static_cast<int>(i));
  }
  void throw_if_failed() const {
    if (failed_) throw std::runtime_error("the split enumerator failed: " + error_);
  }
  void fail_locked(std::string message) {
    if (failed_) return;
    failed_ = true;
    error_ = std::move(message);
    wake_all();  // the readers report it
  }

  /// Creates (or restores) and starts the enumerator, once; under the lock. The first job on
  /// the enumerator's thread, or a checkpoint that comes first.
  void ensure_enumerator() {
    if (enumerator_created_) return;
    enumerator_created_ = true;
    if (restored_finished_) {
      // Every reader had ended before the checkpoint: nothing is left to assign.
      for (int s = 0; s < parallelism_; ++s) signal_no_more_splits(s);
      return;
    }
    enumerator_ = restored_state_ ? source_->restore_enumerator(*this, *restored_state_) : source_->create_enumerator(*this);
    if (!enumerator_) throw std::runtime_error("the source's create_enumerator/restore_enumerator returned null");
    enumerator_->start();
  }

  void loop() {
    std::unique_lock lock(mu_);
    while (!stopping_ && !failed_) {
      if (jobs_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto next = std::min_element(jobs_.begin(), jobs_.end(), [](const Job& a, const Job& b) { return a.at < b.at; });
      if (next->at > Clock::now()) {
        cv_.wait_until(lock, next->at);
        continue;
      }
      Job job = std::move(*next);
      jobs_.erase(next);
      try {
        if (job.locked) {
          Owner owner(this);
          job.locked();
        } else {
          lock.unlock();
          std::function<void()> then = job.work();
          lock.lock();
          if (stopping_) break;
          Owner owner(this);
          then();
        }
      } catch (const std::exception& e) {
        if (!lock.owns_lock()) lock.lock();
        fail_locked(e.what());
        break;
      } catch (...) {
        if (!lock.owns_lock()) lock.lock();
        fail_locked("unknown exception");
        break;
      }
      if (job.period_ms > 0) {
        job.at = Clock::now() + std::chrono::milliseconds(job.period_ms);
        jobs_.push_back(std::move(job));
      }
    }
  }

  std::shared_ptr<const EnumeratedSource<T, Split>> source_;
  std::mutex mu_;
  std::condition_variable cv_;
  // All below guarded by mu_.
  /// The thread calling the enumerator now (written under mu_; atomic so that another thread
  /// may compare it with its own id without the lock).
  std::atomic<std::thread::id> owner_{};
  bool restore_set_ = false;
  std::optional<std::string> restored_state_;
  bool restored_finished_ = false;
  bool started_ = false;
  bool enumerator_created_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  std::string error_;
  int parallelism_ = 0;
  std::unique_ptr<SplitEnumerator<Split>> enumerator_;
  std::vector<std::deque<Entry>> queues_;
  std::vector<std::function<void()>> wakes_;
  std::vector<Job> jobs_;
  int64_t last_snapshot_id_ = 0;
  int64_t last_complete_id_ = 0;
  std::thread thread_;
};

template <class S, class = void>
inline constexpr bool is_enumerated_source_v = false;
template <class S>
inline constexpr bool is_enumerated_source_v<S, std::void_t<typename S::value_type, typename S::split_type>> =
    std::is_base_of_v<EnumeratedSource<typename S::value_type, typename S::split_type>, S>;

/// One coordinator per job run: the operators of one run (all made before any runs, all gone
/// before the next run is built) share it; the next run gets a new one.
template <class T, class Split>
class SplitCoordinatorSlot {
 public:
  explicit SplitCoordinatorSlot(std::shared_ptr<const EnumeratedSource<T, Split>> source) : source_(std::move(source)) {}
  /// The coordinator of restart attempt `attempt`: every reader of one attempt shares it, and
  /// a new attempt gets a new one even while operators of the failed attempt are still alive
  /// (sharing it would ignore the new attempt's restore and assign restored splits again).
  std::shared_ptr<SplitCoordinator<T, Split>> get(int attempt) {
    std::lock_guard lock(mu_);
    auto c = current_.lock();
    if (!c || attempt != attempt_) {
      c = std::make_shared<SplitCoordinator<T, Split>>(source_);
      current_ = c;
      attempt_ = attempt;
    }
    return c;
  }

 private:
  std::shared_ptr<const EnumeratedSource<T, Split>> source_;
  std::mutex mu_;
  std::weak_ptr<SplitCoordinator<T, Split>> current_;  // guarded by mu_
  int attempt_ = -1;                                   // guarded by mu_
};

}  // namespace weir::detail
