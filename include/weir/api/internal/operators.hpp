#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The typed operators behind the DataStream API. Each instance belongs to one subtask and is
/// called only from its task's thread (see weir/runtime/internal/operator.hpp for the lifecycle).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/api/functions.hpp"
#include "weir/runtime/internal/operator.hpp"
#include "weir/serde/serde.hpp"
#include "weir/state/internal/keyed_backend.hpp"

namespace weir::detail {

/// Reads time for a non-keyed function; refuses timers.
class NonKeyedTimerService final : public TimerService {
 public:
  explicit NonKeyedTimerService(const runtime::StreamOperator* op) : op_(op) {}
  int64_t current_processing_time() const override { return op_->processing_time_service().now(); }
  int64_t current_watermark() const override { return op_->current_watermark(); }
  void register_event_time_timer(int64_t) override { refuse(); }
  void register_processing_time_timer(int64_t) override { refuse(); }
  void delete_event_time_timer(int64_t) override { refuse(); }
  void delete_processing_time_timer(int64_t) override { refuse(); }

 private:
  [[noreturn]] void refuse() const {
    throw OperatorFailure(op_->name(), "timers are only supported on keyed streams; use key_by() and a KeyedProcessFunction");
  }
  const runtime::StreamOperator* op_;
};


/// Base of operators running a user callable `F`: copies it, calls its optional
/// `open(RuntimeContext&)` / `close()` hooks and its checkpoint hooks (CheckpointedFunction,
/// CheckpointListener).
template <class Base, class F>
class FunctionOperator : public Base {
 public:
  void initialize_state(const runtime::StateRestore& r) override {
    this->call_user([&] { fstate_.initialize(f_, r); });
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    this->call_user([&] { fstate_.snapshot(f_, ctx); });
  }
  void notify_checkpoint_complete(int64_t id) override {
    this->call_user([&] { notify_complete(f_, id); });
  }
  void notify_checkpoint_aborted(int64_t id) override {
    this->call_user([&] { notify_aborted(f_, id); });
  }

 protected:
  explicit FunctionOperator(F f) : f_(std::move(f)) {}
  void open_user(runtime::StreamOperator& op) {
    RuntimeContext rc(op.task_info(), op.name());
    open_function(f_, rc);
  }
  F f_;
  FunctionState<F> fstate_;
};

template <class IN, class OUT, class F>
class MapOperator final : public FunctionOperator<runtime::OneInputOperator<IN>, F> {
 public:
  explicit MapOperator(F f) : FunctionOperator<runtime::OneInputOperator<IN>, F>(std::move(f)) {}
  void open() override {
    out_ = this->template typed_output<OUT>();
    this->call_user([&] { this->open_user(*this); });
  }
  void process(const IN& v, int64_t ts) override {
    out_->emit(this->call_user([&]() -> OUT { return this->f_(v); }), ts);
  }
  void close() override { detail::close_function(this->f_); }

 private:
  runtime::Output<OUT>* out_ = nullptr;
};

template <class T, class F>
class FilterOperator final : public FunctionOperator<runtime::OneInputOperator<T>, F> {
 public:
  explicit FilterOperator(F f) : FunctionOperator<runtime::OneInputOperator<T>, F>(std::move(f)) {}
  void open() override {
    out_ = this->template typed_output<T>();
    this->call_user([&] { this->open_user(*this); });
  }
  void process(const T& v, int64_t ts) override {
    if (this->call_user([&]() -> bool { return this->f_(v); })) out_->emit(v, ts);
  }
  void process(T&& v, int64_t ts) override {
    if (this->call_user([&]() -> bool { return this->f_(static_cast<const T&>(v)); })) {
      out_->emit(std::move(v), ts);
    }
  }
  void close() override { detail::close_function(this->f_); }

 private:
  runtime::Output<T>* out_ = nullptr;
};

template <class IN, class OUT, class F>
class FlatMapOperator final : public FunctionOperator<runtime::OneInputOperator<IN>, F> {
 public:
  explicit FlatMapOperator(F f) : FunctionOperator<runtime::OneInputOperator<IN>, F>(std::move(f)) {}
  void open() override {
    collector_.set(this->template typed_output<OUT>(), kNoTimestamp);
    this->call_user([&] { this->open_user(*this); });
  }
  void process(const IN& v, int64_t ts) override {
    collector_.set_timestamp(ts);
    this->call_user([&] { this->f_(v, static_cast<Collector<OUT>&>(collector_)); });
  }
  void close() override { detail::close_function(this->f_); }

 private:
  TimestampedCollector<OUT> collector_;
};

/// Runs a ProcessFunction subclass `PF` (copied per subtask).
template <class IN, class OUT, class PF>
class ProcessOperator final : public runtime::OneInputOperator<IN> {
 public:
  explicit ProcessOperator(PF f) : f_(std::move(f)), ctx_(this) {}
  void open() override {
    collector_.set(this->template typed_output<OUT>(), kNoTimestamp);
    RuntimeContext rc(this->task_info(), this->name());
    this->call_user([&] { f_.open(rc); });
  }
  void process(const IN& v, int64_t ts) override {
    collector_.set_timestamp(ts);
    this->call_user([&] { f_.process_element(v, ctx_, collector_); });
  }
  void close() override { f_.close(); }
  void initialize_state(const runtime::StateRestore& r) override { this->call_user([&] { fstate_.initialize(f_, r); }); }
  void snapshot_state(runtime::SnapshotContext& ctx) override { this->call_user([&] { fstate_.snapshot(f_, ctx); }); }
  void notify_checkpoint_complete(int64_t id) override { this->call_user([&] { notify_complete(f_, id); }); }
  void notify_checkpoint_aborted(int64_t id) override { this->call_user([&] { notify_aborted(f_, id); }); }

 private:
  class Ctx final : public ProcessFunction<IN, OUT>::Context {
   public:
    explicit Ctx(ProcessOperator* op) : op_(op), timers_(op) {}
    std::optional<int64_t> timestamp() const override {
      const int64_t ts = op_->collector_.timestamp();
      return ts == kNoTimestamp ? std::nullopt : std::optional<int64_t>(ts);
    }
    TimerService& timer_service() override { return timers_; }

   protected:
    const runtime::StreamOperator& op() const override { return *op_; }

   private:
    ProcessOperator* op_;
    NonKeyedTimerService timers_;
  };
  PF f_;
  FunctionState<PF> fstate_;
  Ctx ctx_;
  TimestampedCollector<OUT> collector_;
};

/// Keyed reduce, as Flink's KeyedStream#reduce: keeps the running value per key and emits it
/// after every element.
template <class T, class K, class KeyFn, class F>
class KeyedReduceOperator final : public FunctionOperator<runtime::OneInputOperator<T>, F> {
 public:
  KeyedReduceOperator(KeyFn key, F f) : FunctionOperator<runtime::OneInputOperator<T>, F>(std::move(f)), key_(std::move(key)) {}
  void open() override {
    out_ = this->template typed_output<T>();
    this->call_user([&] { this->open_user(*this); });
  }
  void process(const T& v, int64_t ts) override { step(v, ts); }
  void process(T&& v, int64_t ts) override { step(std::move(v), ts); }
  void close() override { detail::close_function(this->f_); }
  std::size_t keyed_state_keys() const override { return state_.size(); }

  void initialize_state(const runtime::StateRestore& r) override {
    FunctionOperator<runtime::OneInputOperator<T>, F>::initialize_state(r);
    if constexpr (SerdeType<T>) {
      for (const auto& [kg, bytes] : r.key_groups()) {
        runtime::for_each_keyed_record(bytes, [&](const runtime::KeyedRecordView& rec) {
          try {
            state_.insert_or_assign(deserialize<K>(rec.key), deserialize<T>(rec.payload));
          } catch (const SerdeError& e) {
            throw StateError("operator '" + this->name() + "': reduce state does not decode: " + e.what());
          }
        });
      }
    }
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    FunctionOperator<runtime::OneInputOperator<T>, F>::snapshot_state(ctx);
    if (state_.empty()) return;
    if constexpr (SerdeType<T>) {
      std::string key, value;
      for (const auto& [k, v] : state_) {
        key = serialize(k);
        value = serialize(v);
        runtime::write_keyed_record(ctx.key_group(key_group_of(k, this->task_info().max_parallelism)),
                                    runtime::KeyedRecord::kOperator, "reduce", key, value);
      }
    } else {
      no_serde("the running value of reduce '" + this->name() + "'");
    }
  }

 private:
  template <class V>
  void step(V&& v, int64_t ts) {
    K k = this->call_user([&]() -> K { return key_(static_cast<const T&>(v)); });
    auto it = state_.find(k);
    if (it == state_.end()) {
      it = state_.emplace(std::move(k), std::forward<V>(v)).first;
    } else {
      it->second = this->call_user([&]() -> T { return this->f_(std::as_const(it->second), static_cast<const T&>(v)); });
    }
    out_->emit(static_cast<const T&>(it->second), ts);
  }

  KeyFn key_;
  absl::flat_hash_map<K, T, KeyHash<K>> state_;
  runtime::Output<T>* out_ = nullptr;
};

template <class IN1, class IN2, class OUT, class F1, class F2>
class CoMapOperator final : public runtime::TwoInputOperator<IN1, IN2> {
 public:
  CoMapOperator(F1 f1, F2 f2) : f1_(std::move(f1)), f2_(std::move(f2)) {}
  void open() override {
    out_ = this->template typed_output<OUT>();
    RuntimeContext rc(this->task_info(), this->name());
    this->call_user([&] {
      open_function(f1_, rc);
      open_function(f2_, rc);
    });
  }
  void process1(const IN1& v, int64_t ts) override {
    out_->emit(this->call_user([&]() -> OUT { return f1_(v); }), ts);
  }
  void process2(const IN2& v, int64_t ts) override {
    out_->emit(this->call_user([&]() -> OUT { return f2_(v); }), ts);
  }

 private:
  F1 f1_;
  F2 f2_;
  runtime::Output<OUT>* out_ = nullptr;
};

template <class IN1, class IN2, class OUT, class F1, class F2>
class CoFlatMapOperator final : public runtime::TwoInputOperator<IN1, IN2> {
 public:
  CoFlatMapOperator(F1 f1, F2 f2) : f1_(std::move(f1)), f2_(std::move(f2)) {}
  void open() override {
    collector_.set(this->template typed_output<OUT>(), kNoTimestamp);
    RuntimeContext rc(this->task_info(), this->name());
    this->call_user([&] {
      open_function(f1_, rc);
      open_function(f2_, rc);
    });
  }
  void process1(const IN1& v, int64_t ts) override {
    collector_.set_timestamp(ts);
    this->call_user([&] { f1_(v, static_cast<Collector<OUT>&>(collector_)); });
  }
  void process2(const IN2& v, int64_t ts) override {
    collector_.set_timestamp(ts);
    this->call_user([&] { f2_(v, static_cast<Collector<OUT>&>(collector_)); });
  }

 private:
  F1 f1_;
  F2 f2_;
  TimestampedCollector<OUT> collector_;
};

/// Calls `F(const T&)` for every record.
template <class T, class F>
class SinkOperator final : public FunctionOperator<runtime::OneInputOperator<T>, F> {
 public:
  explicit SinkOperator(F f) : FunctionOperator<runtime::OneInputOperator<T>, F>(std::move(f)) {}
  void open() override {
    this->call_user([&] { this->open_user(*this); });
  }
  void process(const T& v, int64_t) override {
    this->call_user([&] { this->f_(v); });
  }
  void finish() override {
    if constexpr (requires { this->f_.finish(); }) this->call_user([&] { this->f_.finish(); });
  }
  void close() override { detail::close_function(this->f_); }
};

/// Records gathered by `collect_async()` / `execute_and_collect()`. With checkpoints, records
/// are held per checkpoint and become visible when it completes (exactly once across restarts).
template <class T>
struct CollectBuffer {
  std::mutex mu;
  std::vector<T> records;
  std::map<int64_t, std::vector<T>> pending;  ///< by checkpoint id
  bool finished = false;
};

/// Appends every record to a shared buffer (parallelism 1, so the order of one upstream
/// subtask is kept). Without checkpoints the records are handed over at the end; with them,
/// as a two-phase commit: what arrived before a barrier is pending under its checkpoint and
/// committed when that checkpoint completes; a restore commits what the restored checkpoint
/// holds and drops the rest.
template <class T>
class CollectSinkOperator final : public runtime::OneInputOperator<T> {
 public:
  explicit CollectSinkOperator(std::shared_ptr<CollectBuffer<T>> buffer) : buffer_(std::move(buffer)) {}
  void process(const T& v, int64_t) override { local_.push_back(v); }
  void process(T&& v, int64_t) override { local_.push_back(std::move(v)); }
  void initialize_state(const runtime::StateRestore& r) override {
    if (!r.is_restored()) {
      // A fresh start (or a restart without a completed checkpoint): nothing pending counts.
      std::lock_guard lock(buffer_->mu);
      buffer_->pending.clear();
      return;
    }
    int64_t restored = -1;
    for (const auto& e : r.list("collect.checkpoint")) restored = std::max(restored, deserialize<int64_t>(e));
    std::lock_guard lock(buffer_->mu);
    commit_upto(restored);
    buffer_->pending.clear();  // of checkpoints that did not complete: their records come again
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    const int64_t id = ctx.get_checkpoint_id();
    {
      std::lock_guard lock(buffer_->mu);
      auto& p = buffer_->pending[id];
      p.insert(p.end(), std::make_move_iterator(local_.begin()), std::make_move_iterator(local_.end()));
    }
    local_.clear();
    ctx.add_list("collect.checkpoint", runtime::Redistribution::union_, {serialize(id)});
  }
  void notify_checkpoint_complete(int64_t id) override {
    std::lock_guard lock(buffer_->mu);
    commit_upto(id);
  }
  void notify_stopped() override {
    std::lock_guard lock(buffer_->mu);
    buffer_->finished = true;  // stopped with a savepoint: what it committed is the result
  }
  void finish() override {
    if (this->task_info().checkpointing) return;  // the final checkpoint commits
    std::lock_guard lock(buffer_->mu);
    buffer_->records = std::move(local_);
    buffer_->finished = true;
  }

 private:
  void commit_upto(int64_t id) {
    for (auto it = buffer_->pending.begin(); it != buffer_->pending.end() && it->first <= id;) {
      buffer_->records.insert(buffer_->records.end(), std::make_move_iterator(it->second.begin()),
                              std::make_move_iterator(it->second.end()));
      if (it->first == runtime::kFinalCheckpointId) buffer_->finished = true;
      it = buffer_->pending.erase(it);
    }
  }
  std::shared_ptr<CollectBuffer<T>> buffer_;
  std::vector<T> local_;
};

/// from_collection / from_elements: emits a copy of the elements, in order (parallelism 1).
template <class T>
class CollectionSource final : public runtime::SourceOperator {
 public:
  explicit CollectionSource(std::shared_ptr<const std::vector<T>> items) : items_(std::move(items)) {}
  void open() override { out_ = typed_output<T>(); }
  void initialize_state(const runtime::StateRestore& r) override {
    for (const auto& e : r.list("position")) pos_ = std::max<std::size_t>(pos_, deserialize<uint64_t>(e));
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    ctx.add_list("position", runtime::Redistribution::union_, {serialize(uint64_t{pos_})});
  }
  Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    const std::size_t end = std::min(items_->size(), pos_ + max_records);
    while (pos_ < end) {
      out_->emit((*items_)[pos_], kNoTimestamp);
      ++pos_;
      ++emitted;
      if (output_full()) break;  // no room downstream: stop between records
    }
    return pos_ < items_->size() ? Status::kMoreAvailable : Status::kEndOfInput;
  }

 private:
  std::shared_ptr<const std::vector<T>> items_;
  std::size_t pos_ = 0;
  runtime::Output<T>* out_ = nullptr;
};

/// The share of [0, n) that subtask `i` of `p` produces: contiguous, sizes differ by at most 1.
inline std::pair<int64_t, int64_t> split_range(int64_t n, int i, int p) {
  const auto lo = static_cast<int64_t>(static_cast<__int128>(n) * i / p);
  const auto hi = static_cast<int64_t>(static_cast<__int128>(n) * (i + 1) / p);
  return {lo, hi};
}

/// from_generator(n, f) and from_sequence(a, b): emits f(i) for the subtask's share of the
/// indices [0, n), in order.
template <class T, class F>
class GeneratorSource final : public FunctionOperator<runtime::SourceOperator, F> {
 public:
  GeneratorSource(int64_t count, F f) : FunctionOperator<runtime::SourceOperator, F>(std::move(f)), count_(count) {}
  void initialize_state(const runtime::StateRestore& r) override {
    FunctionOperator<runtime::SourceOperator, F>::initialize_state(r);
    initialized_ = true;
    if (!r.has_list("ranges")) {
      ranges_.clear();
      auto [lo, hi] = split_range(count_, this->task_info().subtask, this->task_info().parallelism);
      if (lo < hi) ranges_.push_back({lo, hi});
      return;
    }
    // Every old subtask's remaining ranges (a union): this subtask takes every p-th one.
    const auto all = r.list("ranges");
    ranges_.clear();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % static_cast<std::size_t>(this->task_info().parallelism)) != this->task_info().subtask) continue;
      auto range = deserialize<std::pair<int64_t, int64_t>>(all[i]);
      if (range.first < range.second) ranges_.push_back(range);
    }
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    FunctionOperator<runtime::SourceOperator, F>::snapshot_state(ctx);
    std::vector<std::string> out;
    for (std::size_t i = next_range_; i < ranges_.size(); ++i) {
      if (ranges_[i].first < ranges_[i].second) out.push_back(serialize(ranges_[i]));
    }
    ctx.add_list("ranges", runtime::Redistribution::union_, std::move(out));
  }
  void open() override {
    out_ = this->template typed_output<T>();
    if (ranges_.empty() && next_range_ == 0 && !initialized_) {
      auto [lo, hi] = split_range(count_, this->task_info().subtask, this->task_info().parallelism);
      if (lo < hi) ranges_.push_back({lo, hi});
    }
    this->call_user([&] { this->open_user(*this); });
  }
  runtime::SourceOperator::Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    while (next_range_ < ranges_.size()) {
      auto& [next, end] = ranges_[next_range_];
      const int64_t stop = next + std::min<int64_t>(end - next, static_cast<int64_t>(max_records));
      const int64_t first = next;
      while (next < stop) {
        out_->emit(this->call_user([&]() -> T { return this->f_(next); }), kNoTimestamp);
        ++next;
        if (this->output_full()) break;  // no room downstream: stop between records
      }
      emitted += static_cast<std::size_t>(next - first);
      if (next < end) return runtime::SourceOperator::Status::kMoreAvailable;
      ++next_range_;
      return next_range_ < ranges_.size() ? runtime::SourceOperator::Status::kMoreAvailable
                                           : runtime::SourceOperator::Status::kEndOfInput;
    }
    return runtime::SourceOperator::Status::kEndOfInput;
  }
  void close() override { detail::close_function(this->f_); }

 private:
  int64_t count_;
  std::vector<std::pair<int64_t, int64_t>> ranges_;  ///< [next, end) still to emit, in order
  std::size_t next_range_ = 0;
  bool initialized_ = false;
  runtime::Output<T>* out_ = nullptr;
};

}  // namespace weir::detail
