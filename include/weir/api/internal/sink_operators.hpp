#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Sinks: a function per record, and the collecting sink behind execute_and_collect.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/api/internal/function_operator.hpp"

namespace weir::detail {

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

}  // namespace weir::detail
