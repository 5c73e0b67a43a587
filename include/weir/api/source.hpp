#pragma once
/// Sources made of splits (as Flink's FLIP-27 sources), read with a watermark strategy:
/// `env.from_source(source, strategy, name)`. Two forms:
/// - `Source<T>`: a fixed number of splits; split i is read by subtask i % parallelism.
/// - `EnumeratedSource<T, Split>` (`weir/api/split_enumerator.hpp`): an enumerator finds splits
///   while the job runs and assigns them to subtasks.
/// Each split has its own reader and watermark generator; a subtask's watermark is the minimum
/// over its splits that are neither idle nor finished. A reader that waits on the outside world
/// (its own I/O thread, a client library's callbacks) returns `kNothingAvailable` and calls
/// `wakeup()` when data arrives; the task does not poll it in between.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "weir/api/bad_records.hpp"
#include "weir/api/functions.hpp"
#include "weir/common/metrics.hpp"
#include "weir/api/split_enumerator.hpp"
#include "weir/time/watermark.hpp"

namespace weir {

/// Receives the records a split reader emits, with their timestamps (`kNoTimestamp` if none).
template <class T>
class SourceOutput {
 public:
  virtual ~SourceOutput() = default;
  virtual void collect(T&& value, int64_t timestamp) = 0;
  void collect(const T& value, int64_t timestamp = kNoTimestamp) { collect(T(value), timestamp); }
  /// A record the reader could not read (see `weir/api/bad_records.hpp`): the source's
  /// `BadRecordPolicy` decides. Under `fail` this throws; the reader should let it pass. The
  /// default (an output outside a job, in a reader's unit test) throws `std::runtime_error`.
  virtual void bad_record(BadRecord record) {
    throw std::runtime_error("bad record at " + record.origin + ": " + record.error);
  }
  /// The metrics of the source operator's subtask (records per partition, lag, ...).
  virtual MetricGroup& metric_group() { return own_metrics_; }

 private:
  MetricGroup own_metrics_;
};

/// Wakes the task that reads a split (Flink's `SourceReader::isAvailable` future, as a call).
/// A cheap copyable handle: `wakeup()` is thread-safe, may be called from any thread at any
/// time (before the task is running, after it has ended: then it does nothing), and coalesces
/// (calls between two reads cost one atomic exchange each and schedule the task once).
class SourceWakeup {
 public:
  SourceWakeup() : s_(std::make_shared<State>()) {}
  /// Schedules the task to read again.
  void wakeup() const {
    // seq_cst pairs with `arm`: either the read after `arm` sees the data the caller published
    // before this call, or this exchange comes after `arm`'s and schedules the task.
    if (s_->pending.exchange(true)) return;
    std::lock_guard lock(s_->mu);
    if (s_->target) s_->target();
  }
  void operator()() const { wakeup(); }

  // For the runtime (the source operator), on the task's thread.
  /// Routes wake-ups to `target` (thread-safe to call, under the handle's lock).
  void connect(std::function<void()> target) const {
    std::lock_guard lock(s_->mu);
    s_->target = std::move(target);
  }
  /// Stops routing; returns once no call to the old target is running.
  void disconnect() const { connect(nullptr); }
  /// Called right before each read: a wake-up from now on schedules the task again.
  void arm() const { s_->pending.store(false); }

 private:
  struct State {
    std::atomic<bool> pending{false};
    std::mutex mu;
    std::function<void()> target;  // guarded by mu
  };
  std::shared_ptr<State> s_;
};

/// Reads one split. `read`, `snapshot_position` and `restore_position` are called from its
/// subtask's thread only; `wakeup()` from any thread.
template <class T>
class SplitReader {
 public:
  enum class Status {
    kMoreAvailable,     ///< call again
    kNothingAvailable,  ///< nothing now; the reader calls `wakeup()` when data arrives (no polling)
    kEndOfSplit,        ///< the split is done
  };
  virtual ~SplitReader() = default;
  /// The handle that wakes this reader's task; copy it into the reader's I/O thread. Valid from
  /// construction (a wake-up before the first read is remembered, not lost).
  const SourceWakeup& wakeup_handle() const { return wakeup_; }
  /// Wakes this reader's task: call it after data became available to a read that returned
  /// `kNothingAvailable` (thread-safe; see `SourceWakeup`).
  void wakeup() const { wakeup_.wakeup(); }
  /// Emits at most `max_records` records into `out`.
  virtual Status read(std::size_t max_records, SourceOutput<T>& out) = 0;
  /// The reader's position for a checkpoint, or nullopt when it cannot go back to one (the
  /// split then starts over after a restore).
  virtual std::optional<std::string> snapshot_position() const { return std::nullopt; }
  /// Moves a fresh reader to a position `snapshot_position` returned.
  virtual void restore_position(std::string_view position) {}
  /// The position `snapshot_position` just returned belongs to checkpoint `checkpoint_id`.
  virtual void notify_checkpoint(int64_t checkpoint_id) {}
  /// Checkpoint `checkpoint_id` is complete (a Kafka reader commits its offsets to the group).
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}

 private:
  SourceWakeup wakeup_;
};

/// A source: how many splits, and a reader per split. Copied into every subtask.
template <class T>
class Source {
 public:
  using value_type = T;
  virtual ~Source() = default;
  /// The number of splits when the source runs with `parallelism` subtasks.
  virtual int num_splits(int parallelism) const = 0;
  virtual std::unique_ptr<SplitReader<T>> create_reader(int split, int num_splits) const = 0;
};

/// The numbers from..to (both included) in `num_splits` contiguous splits (0: one per subtask).
class NumberSequenceSource final : public Source<int64_t> {
 public:
  NumberSequenceSource(int64_t from, int64_t to, int num_splits = 0) : from_(from), to_(to), splits_(num_splits) {
    if (to < from) throw GraphError("NumberSequenceSource: 'to' must not be below 'from'");
  }
  int num_splits(int parallelism) const override { return splits_ > 0 ? splits_ : parallelism; }
  std::unique_ptr<SplitReader<int64_t>> create_reader(int split, int n) const override {
    const __int128 count = static_cast<__int128>(to_) - from_ + 1;
    const __int128 lo = from_ + count * split / n;
    const __int128 hi = from_ + count * (split + 1) / n;  // exclusive; may be INT64_MAX + 1
    struct Reader final : SplitReader<int64_t> {
      int64_t next;
      uint64_t left;  // numbers still to emit (counting avoids an end past INT64_MAX)
      Reader(int64_t a, uint64_t n) : next(a), left(n) {}
      Status read(std::size_t max, SourceOutput<int64_t>& out) override {
        for (std::size_t i = 0; i < max && left > 0; ++i, --left) {
          out.collect(int64_t{next}, kNoTimestamp);
          if (left > 1) ++next;
        }
        return left > 0 ? Status::kMoreAvailable : Status::kEndOfSplit;
      }
      std::optional<std::string> snapshot_position() const override { return serialize(std::pair<int64_t, uint64_t>(next, left)); }
      void restore_position(std::string_view p) override { std::tie(next, left) = deserialize<std::pair<int64_t, uint64_t>>(p); }
    };
    return std::make_unique<Reader>(static_cast<int64_t>(lo), static_cast<uint64_t>(hi - lo));
  }

 private:
  int64_t from_, to_;
  int splits_;
};

/// `f(i)` for i in [0, count), in `num_splits` contiguous splits (0: one per subtask); as
/// Flink's DataGeneratorSource. Records carry no timestamp: assign them with the watermark
/// strategy's timestamp assigner.
template <class T>
class DataGeneratorSource final : public Source<T> {
 public:
  template <class F>
  DataGeneratorSource(F f, int64_t count, int num_splits = 0)
      : f_(std::move(f)), count_(count), splits_(num_splits) {
    if (count < 0) throw GraphError("DataGeneratorSource: the count must not be negative");
  }
  int num_splits(int parallelism) const override { return splits_ > 0 ? splits_ : parallelism; }
  std::unique_ptr<SplitReader<T>> create_reader(int split, int n) const override {
    const auto lo = static_cast<int64_t>(static_cast<__int128>(count_) * split / n);
    const auto hi = static_cast<int64_t>(static_cast<__int128>(count_) * (split + 1) / n);
    struct Reader final : SplitReader<T> {
      std::function<T(int64_t)> f;
      int64_t next, end;
      Reader(std::function<T(int64_t)> g, int64_t a, int64_t b) : f(std::move(g)), next(a), end(b) {}
      typename SplitReader<T>::Status read(std::size_t max, SourceOutput<T>& out) override {
        for (std::size_t i = 0; i < max && next < end; ++i) out.collect(f(next++), kNoTimestamp);
        return next < end ? SplitReader<T>::Status::kMoreAvailable : SplitReader<T>::Status::kEndOfSplit;
      }
      std::optional<std::string> snapshot_position() const override { return serialize(next); }
      void restore_position(std::string_view p) override { next = deserialize<int64_t>(p); }
    };
    return std::make_unique<Reader>(f_, lo, hi);
  }

 private:
  std::function<T(int64_t)> f_;
  int64_t count_;
  int splits_;
};

template <class F>
DataGeneratorSource(F, int64_t, int = 0) -> DataGeneratorSource<std::decay_t<std::invoke_result_t<F, int64_t>>>;
}  // namespace weir
