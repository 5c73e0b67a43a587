#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// map, filter, flat_map and process: one record in, any number out.
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
    RuntimeContext rc(this->task_info(), this->name(), nullptr, &this->metric_group());
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

}  // namespace weir::detail
