#pragma once
/// Exactly-once sinks, as Flink's TwoPhaseCommitSinkFunction: records go into a transaction;
/// at a checkpoint's barrier the transaction is pre-committed (made durable but invisible) and
/// a new one begins; when the checkpoint completes the pre-committed transactions are
/// committed (made visible). After a failure, transactions the restored checkpoint holds are
/// committed again (commit must be idempotent) and the one that was open is aborted.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/api/functions.hpp"
#include "weir/common/fault_point.hpp"

namespace weir {

/// What `invoke` may ask about the record.
class SinkContext {
 public:
  virtual ~SinkContext() = default;
  virtual std::optional<int64_t> timestamp() const = 0;
  virtual int64_t current_processing_time() const = 0;
  virtual int64_t current_watermark() const = 0;
};

/// Subclass with a transaction type `TXN` that has a weir::Serde (it is stored in checkpoints).
/// The sink object is copied into every subtask.
template <class IN, class TXN>
class TwoPhaseCommitSink {
 public:
  using input_type = IN;
  using transaction_type = TXN;
  virtual ~TwoPhaseCommitSink() = default;
  /// Called once per subtask first, before any recovery: `restored` tells whether the job
  /// started from a checkpoint or savepoint (a fresh start may clean up what earlier runs left).
  virtual void initialize(bool restored) { (void)restored; }
  /// Called once per subtask before the first transaction begins (after recovery).
  virtual void open(RuntimeContext&) {}
  virtual TXN begin_transaction() = 0;
  virtual void invoke(TXN& txn, const IN& value, SinkContext& ctx) = 0;
  /// Makes the transaction durable; after this it must be possible to commit it, also from
  /// another process after a restore.
  virtual void pre_commit(TXN& txn) = 0;
  /// Makes it visible. Idempotent: it may run again on a transaction already committed.
  virtual void commit(TXN& txn) = 0;
  virtual void abort(TXN& txn) = 0;
  virtual void recover_and_commit(TXN& txn) { commit(txn); }
  virtual void recover_and_abort(TXN& txn) { abort(txn); }
  /// Removes what earlier runs left behind (e.g. files of transactions that a failure or kill
  /// cut off, or that belong to checkpoints that never completed), except what `referenced`
  /// names: every transaction of the checkpoint this job restored (all subtasks'), which other
  /// subtasks may still commit. Called after `open` when the subtask restored, and after the
  /// final commit when its input has ended. Default: nothing.
  virtual void clean_up(const std::vector<TXN>& referenced) { (void)referenced; }
  virtual void close() {}
};

namespace detail {

/// Runs a TwoPhaseCommitSink. Without checkpoints it commits once, when the input ends.
template <class IN, class TXN, class S>
class TwoPhaseCommitSinkOperator final : public runtime::OneInputOperator<IN> {
 public:
  explicit TwoPhaseCommitSinkOperator(S sink) : sink_(std::move(sink)), ctx_(this) {}

  void initialize_state(const runtime::StateRestore& r) override {
    this->call_user([&] { sink_.initialize(r.is_restored()); });
    if (!r.is_restored()) return;
    // Every subtask's transactions (a union list): what no one may clean up. Checkpoints
    // without it (older versions) leave the clean-up out, as nothing is known to be unused.
    if (r.has_list("2pc.refs")) {
      referenced_.emplace();
      for (const auto& e : r.list("2pc.refs")) referenced_->push_back(decode<TXN>(e));
    }
    // Transactions pre-committed for a checkpoint this restore includes: commit them.
    for (const auto& e : r.list("2pc.pending")) {
      auto [id, txn] = decode<std::pair<int64_t, TXN>>(e);
      this->call_user([&] { sink_.recover_and_commit(txn); });
    }
    // The transaction that was open at the checkpoint holds records that come again: abort.
    for (const auto& e : r.list("2pc.open")) {
      TXN txn = decode<TXN>(e);
      this->call_user([&] { sink_.recover_and_abort(txn); });
    }
  }
  void open() override {
    RuntimeContext rc(this->task_info(), this->name(), nullptr, &this->metric_group());
    this->call_user([&] { sink_.open(rc); });
    if (referenced_) this->call_user([&] { sink_.clean_up(*referenced_); });
    current_ = this->call_user([&] { return sink_.begin_transaction(); });
  }
  void process(const IN& v, int64_t ts) override {
    ctx_.ts = ts;
    this->call_user([&] { sink_.invoke(*current_, v, ctx_); });
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    this->call_user([&] { sink_.pre_commit(*current_); });
    fault_point("sink.pre_commit");
    pending_.emplace_back(ctx.get_checkpoint_id(), std::move(*current_));
    current_ = this->call_user([&] { return sink_.begin_transaction(); });
    std::vector<std::string> pending, refs;
    for (const auto& p : pending_) {
      pending.push_back(serialize(p));
      refs.push_back(serialize(p.second));
    }
    refs.push_back(serialize(*current_));
    ctx.add_list("2pc.pending", runtime::Redistribution::even_split, std::move(pending));
    ctx.add_list("2pc.open", runtime::Redistribution::even_split, {serialize(*current_)});
    ctx.add_list("2pc.refs", runtime::Redistribution::union_, std::move(refs));
  }
  void notify_checkpoint_complete(int64_t id) override {
    while (!pending_.empty() && pending_.front().first <= id) {
      fault_point("sink.commit");
      this->call_user([&] { sink_.commit(pending_.front().second); });
      pending_.erase(pending_.begin());
    }
    if (id == runtime::kFinalCheckpointId) clean_up_at_end();
  }
  void finish() override {
    if (this->task_info().checkpointing) return;  // the final checkpoint commits
    this->call_user([&] {
      sink_.pre_commit(*current_);
      sink_.commit(*current_);
    });
    current_.reset();
    clean_up_at_end();
  }
  void close() override {
    // The open transaction is aborted: after a failure or cancellation its records come again
    // after a restore (at a normal end it is empty). The sink is closed even when the abort
    // fails; then every failure is thrown as one StateError (the task logs it with the
    // operator's name; the job's outcome is decided).
    std::string failed;
    auto note = [&](const char* what, const std::string& cause) {
      failed += (failed.empty() ? "" : "; ") + std::string(what) + ": " + cause;
    };
    if (current_) {
      try {
        sink_.abort(*current_);
      } catch (const std::exception& e) {
        note("aborting the open transaction failed", e.what());
      } catch (...) {
        note("aborting the open transaction failed", "unknown exception");
      }
      current_.reset();
    }
    try {
      sink_.close();
    } catch (const std::exception& e) {
      note("closing the sink failed", e.what());
    } catch (...) {
      note("closing the sink failed", "unknown exception");
    }
    if (!failed.empty()) throw StateError("sink '" + this->name() + "': " + failed);
  }

 private:
  /// Everything this subtask wrote is committed: what earlier runs left can go.
  void clean_up_at_end() {
    if (cleaned_at_end_) return;
    cleaned_at_end_ = true;
    const std::vector<TXN> none;
    this->call_user([&] { sink_.clean_up(referenced_ ? *referenced_ : none); });
  }
  template <class V>
  V decode(const std::string& bytes) const {
    try {
      return deserialize<V>(bytes);
    } catch (const SerdeError& e) {
      throw StateError("sink '" + this->name() + "': a transaction in the checkpoint does not decode: " + e.what());
    }
  }
  struct Ctx final : SinkContext {
    explicit Ctx(TwoPhaseCommitSinkOperator* o) : op(o) {}
    std::optional<int64_t> timestamp() const override { return ts == kNoTimestamp ? std::nullopt : std::optional<int64_t>(ts); }
    int64_t current_processing_time() const override { return op->processing_time_service().now(); }
    int64_t current_watermark() const override { return op->current_watermark(); }
    TwoPhaseCommitSinkOperator* op;
    int64_t ts = kNoTimestamp;
  };
  S sink_;
  Ctx ctx_;
  std::optional<TXN> current_;
  std::vector<std::pair<int64_t, TXN>> pending_;  ///< by checkpoint id, oldest first
  std::optional<std::vector<TXN>> referenced_;    ///< the restored checkpoint's transactions
  bool cleaned_at_end_ = false;
};

}  // namespace detail
}  // namespace weir
