#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The operator contract every part of a job fits: sources, transformations, sinks.
///
/// Lifecycle, one operator instance per subtask: `setup` (while the job is built) →
/// `initialize_state` → `open` → any interleaving of `process` (per input), `process_watermark`
/// and checkpoint calls → `end_input` (per input, bounded streams) → `finish` → `close` (also
/// called after a failure or cancellation, and then without `finish`). Every call after `setup`
/// comes from its task, which runs on one pool thread at a time, so operator code never locks.
#include <cstdint>
#include <algorithm>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "weir/common/errors.hpp"
#include "weir/common/metrics.hpp"
#include "weir/state/snapshot.hpp"
#include "weir/runtime/internal/record.hpp"
#include "weir/time/processing_time.hpp"

namespace weir::runtime {

/// Where a subtask runs: the names and indices a function may ask about.
struct TaskInfo {
  std::string task_name;     ///< the chain's name, "a -> b -> c"
  int subtask = 0;           ///< 0-based index of this subtask
  int parallelism = 1;       ///< number of parallel subtasks of the operator
  int max_parallelism = 128; ///< number of key groups
  int attempt = 0;           ///< restart attempt, 0 for the first run
  int64_t auto_watermark_interval = 200;  ///< ms between periodic watermarks; 0 disables them
  bool checkpointing = false;  ///< periodic checkpoints are on (sinks then commit on them)
  int64_t checkpoint_interval = 0;  ///< ms between periodic checkpoints (0: none)
  /// RocksDB state backend: the folder for this job run's stores (empty: heap) and the memory
  /// budget of each operator subtask's store.
  std::string rocksdb_dir;
  std::size_t rocksdb_memory = 64 << 20;
  /// RocksDB state backend: entries each keyed state table caches in memory (write-back).
  std::size_t rocksdb_cache_entries = 16384;
};

/// Receives the records an operator emits: the next operator in the chain, a writer to a
/// channel, or a fan-out to several of them. Typed by `Output<T>`.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  /// Forwards a watermark downstream, behind every record emitted before it. Chained outputs
  /// pass it to the next operator; writers flush their batches and send it on every channel.
  virtual void emit_watermark(int64_t watermark) {}
  /// Forwards a change of watermark status (idle: no records or watermarks for now).
  virtual void emit_watermark_status(bool idle) {}
};

template <class T>
class Output : public OutputBase {
 public:
  virtual void emit(const T& value, int64_t timestamp) = 0;
  virtual void emit(T&& value, int64_t timestamp) = 0;
};

/// One typed input of an operator.
class InputBase {
 public:
  virtual ~InputBase() = default;
};

template <class T>
class Input : public InputBase {
 public:
  virtual void process(const T& value, int64_t timestamp) = 0;
  virtual void process(T&& value, int64_t timestamp) { process(static_cast<const T&>(value), timestamp); }
  /// Records [from, n) of a batch, in order, as `process` would take them one by one; returns
  /// the index after the last one taken: stops after the record that set `*stop` (when given).
  /// Operators that look ahead (prefetching the state of the records to come) override it.
  virtual std::size_t process_run(T* values, const int64_t* timestamps, std::size_t from, std::size_t n,
                                  const bool* stop) {
    for (std::size_t i = from; i < n;) {
      process(std::move(values[i]), timestamps[i]);
      ++i;
      if (stop != nullptr && *stop) return i;
    }
    return n;
  }
};

/// Base of every operator. Subclasses add typed inputs (`Input<T>`) and use the typed output
/// the runtime wires before `open()`.
class StreamOperator {
 public:
  virtual ~StreamOperator() = default;

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  /// The identity its state is stored under: the user's `uid()`, or one derived from the
  /// graph. A savepoint's state is matched to operators by it.
  const std::string& uid() const { return uid_; }
  void set_uid(std::string uid) { uid_ = std::move(uid); }
  const TaskInfo& task_info() const { return info_; }

  /// Number of inputs (0 for a source) and the typed input with that index.
  virtual int num_inputs() const { return 0; }
  virtual InputBase* input(int index) { return nullptr; }

  /// Wiring by the runtime, before `open()`.
  void setup(const TaskInfo& info, ProcessingTimeService* time_service = nullptr) {
    info_ = info;
    time_service_ = time_service;
  }
  ProcessingTimeService& processing_time_service() const { return *time_service_; }
  void set_output(OutputBase* out) { output_ = out; }
  void add_side_output(std::string tag, std::type_index type, OutputBase* out) {
    side_outputs_.push_back(SideOutput{std::move(tag), type, out});
  }

  /// Called once before `open()` with the state to start from (empty on a fresh start).
  virtual void initialize_state(const StateRestore& restore) {}
  /// The synchronous part of a checkpoint, between two records: write the state to `ctx`.
  virtual void snapshot_state(SnapshotContext& ctx) {}
  /// Checkpoint `id` is complete (durable): commit what it covers.
  virtual void notify_checkpoint_complete(int64_t id) {}
  /// Checkpoint `id` will not complete.
  virtual void notify_checkpoint_aborted(int64_t id) {}
  /// The job stops after the savepoint just completed (stop-with-savepoint); `close` follows.
  virtual void notify_stopped() {}

  virtual void open() {}

  /// The watermark of input `input` advanced. Combines the inputs (the minimum over those not
  /// idle) and calls `on_watermark` when the combined watermark advances.
  void process_watermark(int64_t watermark, int input) {
    auto& in = input_state(input);
    if (watermark <= in.watermark) return;
    in.watermark = watermark;
    in.idle = false;
    advance_combined();
  }
  /// Input `input` became idle (or active again).
  void process_watermark_status(bool idle, int input) {
    auto& in = input_state(input);
    if (in.idle == idle) return;
    in.idle = idle;
    const bool all_idle = std::all_of(inputs_.begin(), inputs_.end(), [](const InputTime& i) { return i.idle; });
    if (all_idle != output_idle_) {
      output_idle_ = all_idle;
      if (output_) output_->emit_watermark_status(all_idle);
    }
    if (!idle) return;
    advance_combined();  // an idle input no longer holds the others back
  }
  /// Keys holding keyed state or timers in this operator (0 for operators without keyed state).
  virtual std::size_t keyed_state_keys() const { return 0; }
  /// Keyed state entries (per key and namespace, e.g. per key and open window).
  virtual std::size_t keyed_state_entries() const { return 0; }

  /// The RocksDB store of its keyed state, if any (for metrics; task thread only).
  detail::KvStore* state_store() const { return store_source_ ? store_source_() : nullptr; }
  void set_state_store_source(std::function<detail::KvStore*()> f) { store_source_ = std::move(f); }

  /// This operator's metrics (thread-safe; read by `JobClient::metrics()`).
  MetricGroup& metric_group() const { return *metrics_; }
  /// The same group, to keep after the operator is gone (the task's final metrics).
  std::shared_ptr<MetricGroup> shared_metric_group() const { return metrics_; }

  /// The combined watermark of the inputs (the event time of this operator).
  int64_t current_watermark() const { return combined_watermark_; }

  virtual void end_input(int input) {}
  virtual void finish() {}
  virtual void close() {}

  /// The output for side output `tag` of type `type`, or nullptr when nobody consumes it.
  /// Throws when the tag is consumed with another type.
  OutputBase* side_output(const std::string& tag, std::type_index type) const {
    for (const auto& s : side_outputs_) {
      if (s.tag == tag) {
        if (s.type != type) {
          throw OperatorFailure(name_, "side output '" + tag + "' is consumed as type " +
                                           s.type.name() + " but emitted as " + type.name());
        }
        return s.out;
      }
    }
    return nullptr;
  }

 protected:
  /// Runs a user function; an exception it throws becomes an `OperatorFailure` naming this
  /// operator (one thrown further down the chain passes through unchanged).
  template <class Fn>
  [[gnu::always_inline]] inline decltype(auto) call_user(Fn&& fn) {
    try {
      return std::forward<Fn>(fn)();
    } catch (const OperatorFailure&) {
      throw;
    } catch (const IncompatibleStateError& e) {
      throw OperatorFailure(name_, e.what(), /*recoverable=*/false);
    } catch (const std::exception& e) {
      throw OperatorFailure(name_, e.what());
    } catch (...) {
      throw OperatorFailure(name_, "unknown exception");
    }
  }

  /// The combined watermark advanced to `watermark`. Default: forward it. Operators with
  /// event-time timers fire them first.
  virtual void on_watermark(int64_t watermark) {
    if (output_) output_->emit_watermark(watermark);
  }

  /// The main output, typed. Operators cache it in `open()`.
  template <class OUT>
  Output<OUT>* typed_output() const {
    return static_cast<Output<OUT>*>(output_);
  }

  OutputBase* output_ = nullptr;
  TaskInfo info_;
  ProcessingTimeService* time_service_ = nullptr;

 private:
  struct InputTime {
    int64_t watermark = std::numeric_limits<int64_t>::min();
    bool idle = false;
  };
  InputTime& input_state(int input) {
    if (inputs_.empty()) inputs_.resize(static_cast<std::size_t>(std::max(1, num_inputs())));
    return inputs_.at(static_cast<std::size_t>(input));
  }
  void advance_combined() {
    int64_t m = std::numeric_limits<int64_t>::max();
    bool any = false;
    for (const auto& i : inputs_) {
      if (!i.idle) {
        m = std::min(m, i.watermark);
        any = true;
      }
    }
    if (any && m > combined_watermark_) {
      combined_watermark_ = m;
      on_watermark(m);
    }
  }
  std::vector<InputTime> inputs_;
  int64_t combined_watermark_ = std::numeric_limits<int64_t>::min();
  bool output_idle_ = false;

  struct SideOutput {
    std::string tag;
    std::type_index type;
    OutputBase* out;
  };
  std::string name_;
  std::string uid_;
  std::function<detail::KvStore*()> store_source_;
  std::vector<SideOutput> side_outputs_;
  std::shared_ptr<MetricGroup> metrics_ = std::make_shared<MetricGroup>();
};

/// The head of a source task. The task calls `emit_next` repeatedly while downstream has room.
class SourceOperator : public StreamOperator {
 public:
  enum class Status {
    kMoreAvailable,     ///< call again
    kNothingAvailable,  ///< call again after `wakeup()` has been called
    kEndOfInput,        ///< the source is done
  };
  /// Emits at most `max_records` records and adds the number emitted to `emitted`.
  virtual Status emit_next(std::size_t max_records, std::size_t& emitted) = 0;
  /// Set by the runtime: schedules the task again. Thread-safe; may be called from any thread.
  void set_wakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }
  /// Set by the runtime: a flag of the task (read on its thread only) that is true once an
  /// output channel of the task is at capacity.
  void set_output_full_flag(const bool* flag) { output_full_ = flag != nullptr ? flag : &kNeverFull; }

 protected:
  void wakeup() const {
    if (wakeup_) wakeup_();
  }
  /// True when an output channel has no room left: a source that emits several records per
  /// `emit_next` checks it between records and returns early (kMoreAvailable), so channels stay
  /// bounded in bytes whatever the record size.
  bool output_full() const { return *output_full_; }
  /// The flag itself, for a loop over records to keep in a register (one load per record).
  const bool* output_full_flag() const { return output_full_; }

 private:
  static constexpr bool kNeverFull = false;
  std::function<void()> wakeup_;
  const bool* output_full_ = &kNeverFull;
};

/// A one-input operator receiving `IN`.
template <class IN>
class OneInputOperator : public StreamOperator, public Input<IN> {
 public:
  int num_inputs() const override { return 1; }
  InputBase* input(int index) override { return static_cast<Input<IN>*>(this); }
};

/// A two-input operator receiving `IN1` on input 0 and `IN2` on input 1.
template <class IN1, class IN2>
class TwoInputOperator : public StreamOperator {
 public:
  int num_inputs() const override { return 2; }
  InputBase* input(int index) override {
    return index == 0 ? static_cast<InputBase*>(&in1_) : static_cast<InputBase*>(&in2_);
  }
  virtual void process1(const IN1& v, int64_t ts) = 0;
  virtual void process2(const IN2& v, int64_t ts) = 0;

 private:
  struct In1 final : Input<IN1> {
    explicit In1(TwoInputOperator* o) : op(o) {}
    void process(const IN1& v, int64_t ts) override { op->process1(v, ts); }
    TwoInputOperator* op;
  };
  struct In2 final : Input<IN2> {
    explicit In2(TwoInputOperator* o) : op(o) {}
    void process(const IN2& v, int64_t ts) override { op->process2(v, ts); }
    TwoInputOperator* op;
  };
  In1 in1_{this};
  In2 in2_{this};
};

/// Passes records to the next operator of the same chain: a direct call, no copy, no queue.
template <class T>
class ChainedOutput final : public Output<T> {
 public:
  ChainedOutput(Input<T>* next, StreamOperator* next_op, int input_index)
      : next_(next), next_op_(next_op), input_index_(input_index) {}
  void emit(const T& v, int64_t ts) override { next_->process(v, ts); }
  void emit(T&& v, int64_t ts) override { next_->process(std::move(v), ts); }
  void emit_watermark(int64_t wm) override { next_op_->process_watermark(wm, input_index_); }
  void emit_watermark_status(bool idle) override { next_op_->process_watermark_status(idle, input_index_); }

 private:
  Input<T>* next_;
  StreamOperator* next_op_;
  int input_index_;
};

/// Copies every record to several outputs (an operator feeding more than one consumer).
template <class T>
class FanOutOutput final : public Output<T> {
 public:
  explicit FanOutOutput(std::vector<Output<T>*> outs) : outs_(std::move(outs)) {}
  void emit(const T& v, int64_t ts) override {
    for (auto* o : outs_) o->emit(v, ts);
  }
  void emit(T&& v, int64_t ts) override {
    for (std::size_t i = 0; i + 1 < outs_.size(); ++i) outs_[i]->emit(static_cast<const T&>(v), ts);
    outs_.back()->emit(std::move(v), ts);
  }
  void emit_watermark(int64_t wm) override {
    for (auto* o : outs_) o->emit_watermark(wm);
  }
  void emit_watermark_status(bool idle) override {
    for (auto* o : outs_) o->emit_watermark_status(idle);
  }

 private:
  std::vector<Output<T>*> outs_;
};

/// Drops records: the output of an operator nobody consumes.
template <class T>
class DiscardOutput final : public Output<T> {
 public:
  void emit(const T&, int64_t) override {}
  void emit(T&&, int64_t) override {}
};

template <class T>
void Batch<T>::encode(std::string& out) const {
  if constexpr (SerdeType<T>) {
    ByteWriter w(out);
    w.write_varint(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      Serde<T>::write(w, values[i]);
      w.write_fixed(timestamps[i]);
    }
  } else {
    throw StateError(std::string("unaligned checkpoints store records in flight, and records of type ") + typeid(T).name() +
                     " have no weir::Serde; declare one (WEIR_SERDE) or use aligned checkpoints");
  }
}

/// Feeds the records of one channel's batches into a typed operator input.
class BatchConsumer {
 public:
  virtual ~BatchConsumer() = default;
  /// Feeds records `from`, `from + 1`, ... of `batch`; stops after a record when `*stop` has
  /// become true (an output channel filled up). Returns the index of the first record not fed
  /// (the batch's size when all were). `stop` may be null.
  virtual std::size_t consume(BatchBase& batch, std::size_t from, const bool* stop) = 0;
  /// Feeds records `BatchBase::encode` wrote (replaying an unaligned checkpoint).
  virtual void consume_encoded(std::string_view bytes) = 0;
};

template <class T>
class TypedBatchConsumer final : public BatchConsumer {
 public:
  explicit TypedBatchConsumer(Input<T>* in) : in_(in) {}
  std::size_t consume(BatchBase& base, std::size_t from, const bool* stop) override {
    auto& b = static_cast<Batch<T>&>(base);
    return in_->process_run(b.values.data(), b.timestamps.data(), from, b.values.size(), stop);
  }
  void consume_encoded(std::string_view bytes) override {
    if constexpr (SerdeType<T>) {
      ByteReader r(bytes);
      for (uint64_t n = r.read_varint(); n > 0; --n) {
        T v = Serde<T>::read(r);
        const auto ts = r.read_fixed<int64_t>();
        in_->process(std::move(v), ts);
      }
    } else {
      throw StateError("in-flight records in the checkpoint have a type without weir::Serde");
    }
  }

 private:
  Input<T>* in_;
};

}  // namespace weir::runtime
