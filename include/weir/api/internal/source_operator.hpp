#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The operators that read split sources (static splits, or splits an enumerator assigns while
/// the job runs) and assign timestamps and watermarks.
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

#include "weir/api/internal/split_coordinator.hpp"
#include "weir/api/source.hpp"
#include "weir/runtime/internal/operator.hpp"
#include "weir/time/watermark.hpp"

namespace weir::detail {

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

  /// Tells the readers of open splits that checkpoint `id` is complete.
  void notify_readers(int64_t id) {
    if (id == runtime::kFinalCheckpointId) return;
    for (auto& s : splits_) {
      if (!s->done) call_user([&] { s->reader->notify_checkpoint_complete(id); });
    }
  }

  /// What to do with records the readers cannot read (default: fail).
  void set_bad_record_policy(BadRecordPolicy policy) { policy_ = std::move(policy); }

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
    void bad_record(BadRecord record) override { op->handle_bad_record(std::move(record)); }
    MetricGroup& metric_group() override { return op->metric_group(); }
    int64_t current_processing_time() override { return op->processing_time_service().now(); }
    void wakeup_at(int64_t time) override {
      op->processing_time_service().register_timer(time, [o = op](int64_t) { o->wakeup(); });
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
  void handle_bad_record(BadRecord&& r) {
    switch (policy_.kind()) {
      case BadRecordPolicy::Kind::fail:
        throw OperatorFailure(name(),
                              "cannot read the record at " + r.origin + ": " + r.error +
                                  " (bad-record policy 'fail'; to go on past such records set the source's "
                                  "bad-record policy to BadRecordPolicy::skip() or BadRecordPolicy::dead_letter(tag))",
                              /*recoverable=*/false);
      case BadRecordPolicy::Kind::skip:
        if (!skipped_) skipped_ = &metric_group().counter("bad_records_skipped");
        skipped_->inc();
        return;
      case BadRecordPolicy::Kind::dead_letter:
        if (!dead_lettered_) dead_lettered_ = &metric_group().counter("bad_records_dead_lettered");
        dead_lettered_->inc();
        detail::emit_side_output(*this, policy_.tag(), r, kNoTimestamp);
        return;
    }
  }

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
  BadRecordPolicy policy_;
  Counter* skipped_ = nullptr;
  Counter* dead_lettered_ = nullptr;
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
      if (!s->done) this->call_user([&] { s->reader->notify_checkpoint(ctx.get_checkpoint_id()); });
      out.push_back(serialize(st));
    }
    ctx.add_list("splits", runtime::Redistribution::union_, std::move(out));
  }
  void notify_checkpoint_complete(int64_t id) override { this->notify_readers(id); }

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
                           std::shared_ptr<SplitCoordinatorSlot<T, SplitT>> slot, WatermarkStrategy<T> strategy)
      : Base(std::move(strategy)), source_(std::move(source)), slot_(std::move(slot)) {}
  ~EnumeratedSourceOperator() override { unregister(); }

  void initialize_state(const runtime::StateRestore& r) override {
    coordinator_ = slot_->get(this->task_info().attempt);  // the attempt's: set up before this call
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
      if (!s->done) this->call_user([&] { s->reader->notify_checkpoint(ctx.get_checkpoint_id()); });
      out.push_back(serialize(st));
    }
    ctx.add_list("enumerated-splits", runtime::Redistribution::union_, std::move(out));
    ctx.add_list("enumerator", runtime::Redistribution::union_, std::move(enumerator));
  }

  void notify_checkpoint_complete(int64_t id) override {
    if (id != runtime::kFinalCheckpointId) coordinator_->checkpoint_complete(id);
    this->notify_readers(id);
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
  std::shared_ptr<SplitCoordinatorSlot<T, SplitT>> slot_;
  std::shared_ptr<SplitCoordinator<T, SplitT>> coordinator_;  ///< this attempt's, from initialize_state
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

}  // namespace weir::detail
