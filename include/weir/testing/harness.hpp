#pragma once
/// Operator test harnesses, as Flink's (Keyed)OneInputStreamOperatorTestHarness: build a stream
/// with the normal API, then drive the operator that produces it by hand — push elements,
/// watermarks and processing-time advances, read what it emitted, in order. Time is manual:
/// processing-time timers fire only in `set_processing_time`.
///
///   auto env = weir::StreamExecutionEnvironment::create();
///   auto out = env.from_elements(Ev{}).key_by(...).window(TumblingEventTimeWindows::of(1s)).reduce(f);
///   weir::testing::OneInputHarness<Ev, Ev> h(out);
///   h.open();
///   h.process_element(ev, 1000);
///   h.process_watermark(1999);
///   EXPECT_EQ(h.extract_output_values(), ...);
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <variant>
#include <vector>

#include "weir/api/datastream.hpp"

namespace weir::testing {

/// A record an operator emitted, with its timestamp (if any).
template <class T>
struct Record {
  T value;
  std::optional<int64_t> timestamp;
  bool operator==(const Record&) const = default;
};

/// What an operator emitted, in order: records and watermarks.
template <class T>
using OutputEvent = std::variant<Record<T>, Watermark>;

namespace detail {
template <class T>
class CaptureOutput final : public runtime::Output<T> {
 public:
  void emit(const T& v, int64_t ts) override {
    events.emplace_back(std::in_place_index<0>, Record<T>{v, ts == kNoTimestamp ? std::nullopt : std::optional(ts)});
  }
  void emit(T&& v, int64_t ts) override {
    events.emplace_back(std::in_place_index<0>, Record<T>{std::move(v), ts == kNoTimestamp ? std::nullopt : std::optional(ts)});
  }
  void emit_watermark(int64_t wm) override { events.emplace_back(std::in_place_index<1>, wm); }
  void emit_watermark_status(bool idle) override { idle_changes.push_back(idle); }
  std::vector<OutputEvent<T>> events;
  std::vector<bool> idle_changes;
};

/// Manual processing time for one operator.
class ManualTimeService final : public runtime::ProcessingTimeService {
 public:
  int64_t now() const override { return now_; }
  void register_timer(int64_t time, std::function<void(int64_t)> cb) override {
    timers_.push_back({time, seq_++, std::move(cb)});
  }
  void advance_to(int64_t t) {
    now_ = t;
    for (;;) {
      auto it = std::min_element(timers_.begin(), timers_.end(), [](auto& a, auto& b) {
        return a.time != b.time ? a.time < b.time : a.seq < b.seq;
      });
      if (it == timers_.end() || it->time > now_) return;
      auto timer = std::move(*it);
      timers_.erase(it);
      timer.cb(timer.time);
    }
  }

 private:
  struct Timer {
    int64_t time;
    uint64_t seq;
    std::function<void(int64_t)> cb;
  };
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  std::vector<Timer> timers_;
};

/// Shared part of the harnesses.
template <class OUT>
class HarnessBase {
 public:
  /// Captures the side output `tag`; call before `open()`.
  template <class U>
  void capture_side_output(const OutputTag<U>& tag) {
    auto out = std::make_shared<CaptureOutput<U>>();
    op_->add_side_output(tag.id(), std::type_index(typeid(U)), out.get());
    side_.push_back({tag.id(), out});
  }
  template <class U>
  std::vector<Record<U>> side_output(const OutputTag<U>& tag) const {
    for (auto& s : side_) {
      if (s.first == tag.id()) {
        std::vector<Record<U>> r;
        for (auto& e : std::static_pointer_cast<CaptureOutput<U>>(s.second)->events) {
          if (auto* rec = std::get_if<Record<U>>(&e)) r.push_back(*rec);
        }
        return r;
      }
    }
    return {};
  }
  void open() { op_->open(); }
  void set_processing_time(int64_t t) { time_.advance_to(t); }
  int64_t processing_time() const { return time_.now(); }
  /// Ends every input, as at the end of a bounded stream (without the final watermark).
  void end_input() {
    for (int i = 0; i < std::max(1, op_->num_inputs()); ++i) op_->end_input(i);
    op_->finish();
  }
  void close() { op_->close(); }

  const std::vector<OutputEvent<OUT>>& get_output() const { return out_.events; }
  std::vector<Record<OUT>> records() const {
    std::vector<Record<OUT>> r;
    for (auto& e : out_.events) {
      if (auto* rec = std::get_if<Record<OUT>>(&e)) r.push_back(*rec);
    }
    return r;
  }
  std::vector<OUT> extract_output_values() const {
    std::vector<OUT> r;
    for (auto& rec : records()) r.push_back(rec.value);
    return r;
  }
  std::vector<int64_t> watermarks() const {
    std::vector<int64_t> r;
    for (auto& e : out_.events) {
      if (auto* w = std::get_if<Watermark>(&e)) r.push_back(w->timestamp());
    }
    return r;
  }
  void clear_output() { out_.events.clear(); }
  runtime::StreamOperator& op() { return *op_; }

 protected:
  void init(const weir::detail::LogicalNode& node, int subtask, int parallelism, int max_parallelism,
            int64_t auto_watermark_interval) {
    op_ = node.factory();
    op_->set_name(node.name);
    runtime::TaskInfo info;
    info.task_name = node.name;
    info.subtask = subtask;
    info.parallelism = parallelism;
    info.max_parallelism = max_parallelism;
    info.auto_watermark_interval = auto_watermark_interval;
    op_->setup(info, &time_);
    op_->set_output(&out_);
  }
  std::unique_ptr<runtime::StreamOperator> op_;
  CaptureOutput<OUT> out_;
  ManualTimeService time_;
  std::vector<std::pair<std::string, std::shared_ptr<void>>> side_;
};

}  // namespace detail

/// Drives the one-input operator that produces `stream`.
template <class IN, class OUT>
class OneInputHarness : public detail::HarnessBase<OUT> {
 public:
  /// `auto_watermark_interval` (ms, 0 = off) drives periodic watermarks on the manual clock.
  explicit OneInputHarness(const DataStream<OUT>& stream, int subtask = 0, int parallelism = 1, int max_parallelism = 128,
                           int64_t auto_watermark_interval = 0) {
    this->init(stream.logical_node(), subtask, parallelism, max_parallelism, auto_watermark_interval);
    if (this->op_->num_inputs() != 1) throw GraphError("OneInputHarness: the operator has " + std::to_string(this->op_->num_inputs()) + " inputs");
    in_ = static_cast<runtime::Input<IN>*>(this->op_->input(0));
  }
  void process_element(const IN& v, int64_t timestamp = kNoTimestamp) { in_->process(v, timestamp); }
  void process_watermark(int64_t wm) { this->op_->process_watermark(wm, 0); }
  void process_watermark_status(bool idle) { this->op_->process_watermark_status(idle, 0); }

 private:
  runtime::Input<IN>* in_;
};

/// Drives the two-input operator that produces `stream`.
template <class IN1, class IN2, class OUT>
class TwoInputHarness : public detail::HarnessBase<OUT> {
 public:
  explicit TwoInputHarness(const DataStream<OUT>& stream, int subtask = 0, int parallelism = 1, int max_parallelism = 128) {
    this->init(stream.logical_node(), subtask, parallelism, max_parallelism, 0);
    if (this->op_->num_inputs() != 2) throw GraphError("TwoInputHarness: the operator has " + std::to_string(this->op_->num_inputs()) + " inputs");
    in1_ = static_cast<runtime::Input<IN1>*>(this->op_->input(0));
    in2_ = static_cast<runtime::Input<IN2>*>(this->op_->input(1));
  }
  void process_element1(const IN1& v, int64_t ts = kNoTimestamp) { in1_->process(v, ts); }
  void process_element2(const IN2& v, int64_t ts = kNoTimestamp) { in2_->process(v, ts); }
  void process_watermark1(int64_t wm) { this->op_->process_watermark(wm, 0); }
  void process_watermark2(int64_t wm) { this->op_->process_watermark(wm, 1); }

 private:
  runtime::Input<IN1>* in1_;
  runtime::Input<IN2>* in2_;
};

}  // namespace weir::testing
