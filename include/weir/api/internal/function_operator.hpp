#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The base of operators that run a user function, and the time service of non-keyed ones.
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
    RuntimeContext rc(op.task_info(), op.name(), nullptr, &op.metric_group());
    open_function(f_, rc);
  }
  F f_;
  FunctionState<F> fstate_;
};

}  // namespace weir::detail
