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
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
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
  /// The reading task's processing time in ms (the job's `Clock`: a `ManualClock` in tests).
  /// Outside a job: the system clock.
  virtual int64_t current_processing_time() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  /// Wakes the reading task once processing time reaches `time` (a processing-time timer of the
  /// task, on its clock): a reader that returns `kNothingAvailable` until a moment (a rate
  /// limit) asks for it instead of sleeping or owning a timer thread. Outside a job: no-op.
  virtual void wakeup_at(int64_t time) {}

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

/// How fast a `DataGeneratorSource` emits (Flink's `RateLimiterStrategy`): `no_op()` (as fast
/// as downstream takes them, the default) or `per_second(r)`: r records per second over the
/// whole source, each split getting r / (number of splits).
class RateLimiterStrategy {
 public:
  /// No limit.
  static RateLimiterStrategy no_op() { return RateLimiterStrategy(0); }
  /// At most `records_per_second` records per second over the whole source (> 0).
  static RateLimiterStrategy per_second(double records_per_second) {
    if (!(records_per_second > 0) || records_per_second > 1e12) {
      throw GraphError("RateLimiterStrategy::per_second: the rate must be above 0 (and at most 1e12), got " +
                       std::to_string(records_per_second));
    }
    return RateLimiterStrategy(records_per_second);
  }
  /// Records per second over the whole source; 0: no limit.
  double records_per_second() const { return rate_; }
  bool is_limited() const { return rate_ > 0; }

 private:
  explicit RateLimiterStrategy(double r) : rate_(r) {}
  double rate_;
};

namespace detail {
/// The seed of record `index`'s random generator in a seeded `DataGeneratorSource`: splitmix64
/// of the source's seed and the index (stable across versions, parallelism and restores).
inline uint64_t generator_seed(uint64_t seed, int64_t index) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(seed ^ mix(static_cast<uint64_t>(index)));
}
template <class F>
struct generator_result {
  using type = std::decay_t<std::invoke_result_t<F, int64_t>>;
};
template <class F>
  requires(!std::is_invocable_v<F, int64_t> && std::is_invocable_v<F, int64_t, std::mt19937_64&>)
struct generator_result<F> {
  using type = std::decay_t<std::invoke_result_t<F, int64_t, std::mt19937_64&>>;
};
}  // namespace detail

/// `f(i)` for i in [0, count), in `num_splits` contiguous splits (0: one per subtask); as
/// Flink's `DataGeneratorSource(generatorFunction, count, rateLimiterStrategy, typeInfo)`.
/// - `f` is `T(int64_t index)`, or `T(int64_t index, std::mt19937_64& rng)` for random data:
///   `rng` is seeded from (`with_seed(seed)`, default 0; index) for every record, so the output
///   is the same at any parallelism and after a restore (record i is always f(i, same rng)).
/// - A `RateLimiterStrategy::per_second(r)` limits the whole source to r records/s (each split
///   r / splits), measured on the job's clock (a `ManualClock` makes it deterministic). A split
///   out of budget returns `kNothingAvailable` and asks its task for a wake-up at the moment its
///   next record is due (a processing-time timer): no sleeping, no polling. Bursts after a stall
///   are capped at one second's worth of records (as Flink's).
/// Records carry no timestamp: assign them with the watermark strategy's timestamp assigner.
/// Replayable: a split's position (the next index) is in checkpoints. Metric: `records`
/// (records generated by the subtask's splits).
template <class T>
class DataGeneratorSource final : public Source<T> {
 public:
  template <class F>
  DataGeneratorSource(F f, int64_t count, int num_splits = 0)
      : DataGeneratorSource(std::move(f), count, RateLimiterStrategy::no_op(), num_splits) {}
  template <class F>
  DataGeneratorSource(F f, int64_t count, RateLimiterStrategy rate, int num_splits = 0)
      : count_(count), splits_(num_splits), rate_(rate) {
    if (count < 0) throw GraphError("DataGeneratorSource: the count must not be negative");
    if (num_splits < 0) throw GraphError("DataGeneratorSource: the number of splits must not be negative");
    if constexpr (std::is_invocable_v<F&, int64_t>) {
      plain_ = std::move(f);
    } else {
      static_assert(std::is_invocable_v<F&, int64_t, std::mt19937_64&>,
                    "DataGeneratorSource: the function must be callable as T(int64_t index) or "
                    "T(int64_t index, std::mt19937_64& rng)");
      seeded_ = std::move(f);
    }
  }
  /// The seed of the random generators a `T(int64_t, std::mt19937_64&)` function gets (default 0).
  DataGeneratorSource& with_seed(uint64_t seed) {
    seed_ = seed;
    return *this;
  }
  /// Replaces the rate limit.
  DataGeneratorSource& with_rate_limit(RateLimiterStrategy rate) {
    rate_ = rate;
    return *this;
  }
  const RateLimiterStrategy& rate_limit() const { return rate_; }
  uint64_t seed() const { return seed_; }

  int num_splits(int parallelism) const override { return splits_ > 0 ? splits_ : parallelism; }
  std::unique_ptr<SplitReader<T>> create_reader(int split, int n) const override {
    const auto lo = static_cast<int64_t>(static_cast<__int128>(count_) * split / n);
    const auto hi = static_cast<int64_t>(static_cast<__int128>(count_) * (split + 1) / n);
    auto r = std::make_unique<Reader>();
    r->plain = plain_;
    r->seeded = seeded_;
    r->seed = seed_;
    r->next = lo;
    r->end = hi;
    r->rate = rate_.records_per_second() / n;
    return r;
  }

 private:
  struct Reader final : SplitReader<T> {
    using Status = typename SplitReader<T>::Status;
    std::function<T(int64_t)> plain;
    std::function<T(int64_t, std::mt19937_64&)> seeded;
    std::mt19937_64 rng;
    uint64_t seed = 0;
    int64_t next = 0, end = 0;
    double rate = 0;  ///< this split's records/s; 0: no limit
    static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
    int64_t start = kNone;     ///< clock time of the first read (of this run)
    int64_t emitted = 0;       ///< records counted against the budget since `start`
    int64_t timer_at = kNone;  ///< the wake-up asked for
    Counter* records = nullptr;

    T make(int64_t i) {
      if (plain) return plain(i);
      rng.seed(detail::generator_seed(seed, i));
      return seeded(i, rng);
    }
    Status read(std::size_t max, SourceOutput<T>& out) override {
      if (!records) records = &out.metric_group().counter("records");
      if (next >= end) return Status::kEndOfSplit;
      std::size_t allowed = max;
      if (rate > 0) {
        const int64_t now = out.current_processing_time();
        if (start == kNone) start = now;
        const auto budget = static_cast<int64_t>(std::floor(static_cast<double>(now - start) * rate / 1000.0 + 1e-9));
        const auto burst = static_cast<int64_t>(std::max(1.0, std::ceil(rate)));
        if (budget - emitted > burst) emitted = budget - burst;  // a stall does not earn more than 1 s
        if (budget <= emitted) {
          // Due when floor((t - start) * rate / 1000) reaches emitted + 1.
          const auto due = start + static_cast<int64_t>(std::ceil(static_cast<double>(emitted + 1) * 1000.0 / rate - 1e-9));
          const int64_t at = std::max(due, now + 1);
          if (timer_at != at) {
            timer_at = at;
            out.wakeup_at(at);
          }
          return Status::kNothingAvailable;
        }
        allowed = static_cast<std::size_t>(std::min<int64_t>(static_cast<int64_t>(max), budget - emitted));
      }
      std::size_t i = 0;
      for (; i < allowed && next < end; ++i) out.collect(make(next++), kNoTimestamp);
      emitted += static_cast<int64_t>(i);
      records->inc(static_cast<int64_t>(i));
      return next < end ? Status::kMoreAvailable : Status::kEndOfSplit;
    }
    std::optional<std::string> snapshot_position() const override { return serialize(next); }
    void restore_position(std::string_view p) override { next = deserialize<int64_t>(p); }
  };

  std::function<T(int64_t)> plain_;
  std::function<T(int64_t, std::mt19937_64&)> seeded_;
  int64_t count_;
  int splits_;
  RateLimiterStrategy rate_;
  uint64_t seed_ = 0;
};

template <class F>
DataGeneratorSource(F, int64_t, int = 0) -> DataGeneratorSource<typename detail::generator_result<F>::type>;
template <class F>
DataGeneratorSource(F, int64_t, RateLimiterStrategy, int = 0) -> DataGeneratorSource<typename detail::generator_result<F>::type>;
}  // namespace weir
