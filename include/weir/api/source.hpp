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
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "weir/api/functions.hpp"
#include "weir/api/split_coordinator.hpp"
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

namespace detail {

/// Reads the splits of one subtask, each with its own reader and watermark generator. The
/// splits come from a `Source<T>` (`SplitSourceOperator`) or from an enumerator
/// (`EnumeratedSourceOperator`).
template <class T>
class SplitReadingOperator : public runtime::SourceOperator {
 public:
  explicit SplitReadingOperator(WatermarkStrategy<T> strategy) : strategy_(std::move(strategy)) {}
  ~SplitReadingOperator() override { disconnect_readers(); }

  void open() override {
    out_ = typed_output<T>();
    if (task_info().auto_watermark_interval > 0) schedule_periodic();
  }
  void close() override {
    disconnect_readers();
    splits_.clear();  // readers stop their I/O threads
  }

  /// The watermark of each split (for tests and metrics).
  std::vector<int64_t> split_watermarks() const {
    std::vector<int64_t> w;
    for (auto& s : splits_) w.push_back(s->watermark);
    return w;
  }

 protected:
  struct Split final : SourceOutput<T>, WatermarkOutput {
    SplitReadingOperator* op = nullptr;
    int index = 0;            ///< `Source<T>`: the split's index
    int count = 0;            ///< `Source<T>`: the number of splits
    std::string descriptor;   ///< `EnumeratedSource`: the split, serialised
    std::unique_ptr<SplitReader<T>> reader;
    std::unique_ptr<WatermarkGenerator<T>> generator;
    int64_t watermark = std::numeric_limits<int64_t>::min();
    bool idle = false;
    bool done = false;
    std::size_t emitted = 0;

    using SourceOutput<T>::collect;
    void collect(T&& v, int64_t ts) override {
      const int64_t t = op->strategy_.extract_timestamp(v, ts);
      op->out_->emit(static_cast<const T&>(v), t);
      ++emitted;
      generator->on_event(v, t, *this);
    }
    void emit_watermark(const Watermark& w) override {
      if (idle) mark_active();
      if (w.timestamp() > watermark) {
        watermark = w.timestamp();
        op->update_watermark();
      }
    }
    void mark_idle() override {
      if (idle) return;
      idle = true;
      op->update_watermark();
    }
    void mark_active() override {
      if (!idle) return;
      idle = false;
      op->update_watermark();
    }
  };

  /// Adds a split read by `reader` (wake-ups routed to this task).
  Split& add_split(std::unique_ptr<SplitReader<T>> reader) {
    auto split = std::make_unique<Split>();
    split->op = this;
    split->reader = std::move(reader);
    if (!split->reader) throw OperatorFailure(name(), "the source's create_reader returned null");
    split->reader->wakeup_handle().connect([this] { wakeup(); });
    split->generator = strategy_.create_generator([this] { return processing_time_service().now(); });
    splits_.push_back(std::move(split));
    return *splits_.back();
  }

  /// Reads from every open split. `more_may_come`: splits may still be added, so the subtask
  /// does not end when the ones it has are done.
  Status read_splits(std::size_t max_records, std::size_t& emitted, bool more_may_come) {
    bool any_more = false;
    bool any_open = false;
    const std::size_t per_split = std::max<std::size_t>(1, max_records / std::max<std::size_t>(1, splits_.size()));
    for (auto& split : splits_) {
      if (split->done) continue;
      any_open = true;
      split->emitted = 0;
      split->reader->wakeup_handle().arm();
      const auto st = call_user([&] { return split->reader->read(per_split, *split); });
      emitted += split->emitted;
      if (st == SplitReader<T>::Status::kEndOfSplit) {
        split->done = true;
        split->reader->wakeup_handle().disconnect();
        update_watermark();  // a finished split no longer holds the others back
      } else if (st == SplitReader<T>::Status::kMoreAvailable) {
        any_more = true;
      }
    }
    (void)any_open;
    if (!more_may_come && std::all_of(splits_.begin(), splits_.end(), [](auto& s) { return s->done; })) {
      return Status::kEndOfInput;
    }
    return any_more ? Status::kMoreAvailable : Status::kNothingAvailable;
  }

  void update_watermark() {
    int64_t m = std::numeric_limits<int64_t>::max();
    bool any_active = false;
    bool any_open = false;
    for (auto& s : splits_) {
      if (s->done) continue;
      any_open = true;
      if (s->idle) continue;
      any_active = true;
      m = std::min(m, s->watermark);
    }
    const bool idle = any_open && !any_active;
    if (idle != idle_) {
      idle_ = idle;
      output_->emit_watermark_status(idle);
    }
    if (any_active && m > emitted_watermark_) {
      emitted_watermark_ = m;
      output_->emit_watermark(m);
    }
  }

  std::vector<std::unique_ptr<Split>> splits_;

 private:
  void schedule_periodic() {
    auto& ts = processing_time_service();
    ts.register_timer(ts.now() + task_info().auto_watermark_interval, [this](int64_t) {
      for (auto& s : splits_) {
        if (!s->done) s->generator->on_periodic_emit(*s);
      }
      schedule_periodic();
    });
  }
  void disconnect_readers() {
    for (auto& s : splits_) {
      if (s->reader) s->reader->wakeup_handle().disconnect();
    }
  }

  WatermarkStrategy<T> strategy_;
  runtime::Output<T>* out_ = nullptr;
  int64_t emitted_watermark_ = std::numeric_limits<int64_t>::min();
  bool idle_ = false;
};

/// Reads the splits of a `Source<T>` that fall to this subtask (split i: subtask i % p).
template <class T>
class SplitSourceOperator final : public SplitReadingOperator<T> {
  using Base = SplitReadingOperator<T>;

 public:
  SplitSourceOperator(std::shared_ptr<const Source<T>> source, WatermarkStrategy<T> strategy)
      : Base(std::move(strategy)), source_(std::move(source)) {}

  void initialize_state(const runtime::StateRestore& r) override { restored_ = r.list("splits"); }

  void open() override {
    Base::open();
    const int p = this->task_info().parallelism;
    auto add = [&](int s, int n, const SplitState* st) {
      auto& split = this->add_split(this->call_user([&] { return source_->create_reader(s, n); }));
      split.index = s;
      split.count = n;
      if (st) {
        split.done = std::get<2>(*st);
        if (const auto& pos = std::get<3>(*st)) this->call_user([&] { split.reader->restore_position(*pos); });
      }
    };
    if (!restored_.empty()) {
      // The splits of the checkpoint (every old subtask's, a union), dealt out again by index.
      for (const auto& e : restored_) {
        const auto st = deserialize<SplitState>(e);
        if (std::get<0>(st) % p == this->task_info().subtask) add(std::get<0>(st), std::get<1>(st), &st);
      }
      restored_.clear();
    } else {
      const int n = source_->num_splits(p);
      for (int s = this->task_info().subtask; s < n; s += p) add(s, n, nullptr);
    }
  }

  void snapshot_state(runtime::SnapshotContext& ctx) override {
    std::vector<std::string> out;
    for (const auto& s : this->splits_) {
      SplitState st{s->index, s->count, s->done, s->done ? std::nullopt : s->reader->snapshot_position()};
      out.push_back(serialize(st));
    }
    ctx.add_list("splits", runtime::Redistribution::union_, std::move(out));
  }

  typename Base::Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    return this->read_splits(max_records, emitted, false);
  }

 private:
  /// A split in a checkpoint: index, number of splits, done, reader position.
  using SplitState = std::tuple<int32_t, int32_t, bool, std::optional<std::string>>;
  std::shared_ptr<const Source<T>> source_;
  std::vector<std::string> restored_;
};

/// Reads the splits an enumerator assigns to this subtask, while the job runs. A subtask ends
/// when it was told no more splits come and its splits are done.
///
/// Checkpoints: list "enumerated-splits" (union) holds every split (serialised, done, position);
/// a restore deals them out by their place in the list, so any parallelism gets each once. List
/// "enumerator" (union) holds the enumerator's state, stored by the one subtask that took it
/// (see `SplitCoordinator`), or a mark that every reader had ended.
template <class T, class SplitT>
class EnumeratedSourceOperator final : public SplitReadingOperator<T> {
  using Base = SplitReadingOperator<T>;

 public:
  EnumeratedSourceOperator(std::shared_ptr<const EnumeratedSource<T, SplitT>> source,
                           std::shared_ptr<SplitCoordinator<T, SplitT>> coordinator, WatermarkStrategy<T> strategy)
      : Base(std::move(strategy)), source_(std::move(source)), coordinator_(std::move(coordinator)) {}
  ~EnumeratedSourceOperator() override { unregister(); }

  void initialize_state(const runtime::StateRestore& r) override {
    restored_ = r.list("enumerated-splits");
    std::optional<EnumeratorState> newest;
    bool any = false;
    for (const auto& e : r.list("enumerator")) {
      auto st = deserialize<EnumeratorState>(e);
      any = true;
      if (!std::get<1>(st) && (!newest || std::get<0>(st) > std::get<0>(*newest))) newest = std::move(st);
    }
    coordinator_->restore(newest ? std::optional<std::string>(std::get<2>(*newest)) : std::nullopt, any && !newest);
  }

  void open() override {
    Base::open();
    const int p = this->task_info().parallelism;
    const int me = this->task_info().subtask;
    for (std::size_t i = 0; i < restored_.size(); ++i) {
      if (static_cast<int>(i % static_cast<std::size_t>(p)) != me) continue;
      auto st = deserialize<SplitState>(restored_[i]);
      auto& split = add(deserialize<SplitT>(std::get<0>(st)), std::get<0>(st));
      split.done = std::get<1>(st);
      if (const auto& pos = std::get<2>(st)) this->call_user([&] { split.reader->restore_position(*pos); });
      if (split.done) split.reader->wakeup_handle().disconnect();
    }
    restored_.clear();
    registered_ = true;
    coordinator_->register_reader(me, p, [this] { this->wakeup(); });
  }

  void close() override {
    unregister();
    Base::close();
  }

  void snapshot_state(runtime::SnapshotContext& ctx) override {
    std::vector<std::string> enumerator;
    if (ctx.get_checkpoint_id() == runtime::kFinalCheckpointId) {
      // Finished: told no more splits come and read them all. Marks that this reader ended.
      enumerator.push_back(serialize(EnumeratorState{0, true, {}}));
    } else {
      auto snap = this->call_user([&] { return coordinator_->checkpoint(ctx.get_checkpoint_id(), this->task_info().subtask, incoming_, no_more_); });
      take_incoming();
      if (snap.taken) enumerator.push_back(serialize(EnumeratorState{ctx.get_checkpoint_id(), snap.finished, std::move(snap.state)}));
    }
    std::vector<std::string> out;
    for (const auto& s : this->splits_) {
      SplitState st{s->descriptor, s->done, s->done ? std::nullopt : s->reader->snapshot_position()};
      out.push_back(serialize(st));
    }
    ctx.add_list("enumerated-splits", runtime::Redistribution::union_, std::move(out));
    ctx.add_list("enumerator", runtime::Redistribution::union_, std::move(enumerator));
  }

  void notify_checkpoint_complete(int64_t id) override {
    if (id != runtime::kFinalCheckpointId) coordinator_->checkpoint_complete(id);
  }
  void notify_checkpoint_aborted(int64_t id) override { coordinator_->checkpoint_aborted(id, this->task_info().subtask); }

  typename Base::Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    this->call_user([&] { coordinator_->take(this->task_info().subtask, incoming_, no_more_); });
    take_incoming();
    return this->read_splits(max_records, emitted, !no_more_);
  }

 private:
  /// A split in a checkpoint: the split (serialised), done, reader position.
  using SplitState = std::tuple<std::string, bool, std::optional<std::string>>;
  /// The enumerator's part: checkpoint id, every reader had ended (no state), state.
  using EnumeratorState = std::tuple<int64_t, bool, std::string>;

  typename Base::Split& add(const SplitT& split, std::string descriptor) {
    auto& s = this->add_split(this->call_user([&] { return source_->create_reader(split); }));
    s.descriptor = std::move(descriptor);
    return s;
  }
  void take_incoming() {
    for (auto& sp : incoming_) add(sp, serialize(sp));  // splits_ keeps the order of assignment
    incoming_.clear();
  }
  void unregister() {
    if (registered_) {
      registered_ = false;
      coordinator_->unregister_reader(this->task_info().subtask);
    }
  }

  std::shared_ptr<const EnumeratedSource<T, SplitT>> source_;
  std::shared_ptr<SplitCoordinator<T, SplitT>> coordinator_;
  std::vector<std::string> restored_;
  std::vector<SplitT> incoming_;
  bool no_more_ = false;
  bool registered_ = false;
};

/// assign_timestamps_and_watermarks: sets each record's timestamp and generates watermarks;
/// watermarks from upstream are dropped except the final one (end of input).
template <class T>
class TimestampsAndWatermarksOperator final : public runtime::OneInputOperator<T>, WatermarkOutput {
 public:
  explicit TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy) : strategy_(std::move(strategy)) {}
  void open() override {
    out_ = this->template typed_output<T>();
    generator_ = this->call_user([&] {
      return strategy_.create_generator([this] { return this->processing_time_service().now(); });
    });
    if (this->task_info().auto_watermark_interval > 0) schedule_periodic();
  }
  void process(const T& v, int64_t ts) override {
    const int64_t t = this->call_user([&] { return strategy_.extract_timestamp(v, ts); });
    out_->emit(v, t);
    this->call_user([&] { generator_->on_event(v, t, *this); });  // its watermark follows the record
  }
  void emit_watermark(const Watermark& w) override {
    if (idle_) mark_active();
    if (w.timestamp() > last_) {
      last_ = w.timestamp();
      this->output_->emit_watermark(last_);
    }
  }
  void mark_idle() override {
    if (!idle_) {
      idle_ = true;
      this->output_->emit_watermark_status(true);
    }
  }
  void mark_active() override {
    if (idle_) {
      idle_ = false;
      this->output_->emit_watermark_status(false);
    }
  }

 protected:
  void on_watermark(int64_t wm) override {
    if (wm == kMaxWatermark) emit_watermark(Watermark(wm));
  }

 private:
  void schedule_periodic() {
    auto& ts = this->processing_time_service();
    ts.register_timer(ts.now() + this->task_info().auto_watermark_interval, [this](int64_t) {
      this->call_user([&] { generator_->on_periodic_emit(*this); });
      schedule_periodic();
    });
  }

  WatermarkStrategy<T> strategy_;
  std::unique_ptr<WatermarkGenerator<T>> generator_;
  runtime::Output<T>* out_ = nullptr;
  int64_t last_ = std::numeric_limits<int64_t>::min();
  bool idle_ = false;
};

}  // namespace detail
}  // namespace weir
