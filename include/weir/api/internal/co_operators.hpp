#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// ConnectedStreams::map and flat_map: two inputs, one function per input.
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

template <class IN1, class IN2, class OUT, class F1, class F2>
class CoMapOperator final : public runtime::TwoInputOperator<IN1, IN2> {
 public:
  CoMapOperator(F1 f1, F2 f2) : f1_(std::move(f1)), f2_(std::move(f2)) {}
  void open() override {
    out_ = this->template typed_output<OUT>();
    RuntimeContext rc(this->task_info(), this->name(), nullptr, &this->metric_group());
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
    RuntimeContext rc(this->task_info(), this->name(), nullptr, &this->metric_group());
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

}  // namespace weir::detail
