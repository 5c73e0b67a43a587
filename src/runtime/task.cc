#include "runtime/task.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "runtime/job_run.h"
#include "runtime/worker_pool.h"

namespace weir::runtime {
namespace {
// A slice yields the thread after this long, so tasks sharing a worker take turns.
constexpr auto kSliceBudget = std::chrono::microseconds(1000);
}  // namespace

void Task::notify() {
  int s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (s == kIdle) {
      if (state_.compare_exchange_weak(s, kQueued, std::memory_order_acq_rel)) {
        pool_->submit(this);
        return;
      }
    } else if (s == kRunning) {
      // The running slice will look again before it goes idle.
      if (state_.compare_exchange_weak(s, kRunningNotified, std::memory_order_acq_rel)) return;
    } else {
      return;  // already queued, already notified, or done
    }
  }
}

void Task::request_cancel() {
  cancel_.store(true, std::memory_order_release);
  notify();
}

void Task::run() {
  state_.store(kRunning, std::memory_order_release);
  Slice result;
  try {
    result = run_slice();
  } catch (...) {
    const std::string message = describe_failure(std::current_exception());
    close_chain();
    state_.store(kDone, std::memory_order_release);
    job_->task_failed(this, message);
    return;
  }
  switch (result) {
    case Slice::kDone:
      state_.store(kDone, std::memory_order_release);
      job_->task_done(this);
      return;
    case Slice::kYield:
      state_.store(kQueued, std::memory_order_release);
      pool_->submit(this);
      return;
    case Slice::kWait: {
      int expected = kRunning;
      if (!state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
        // Notified while running: there may be new input or room downstream.
        state_.store(kQueued, std::memory_order_release);
        pool_->submit(this);
      }
      return;
    }
  }
}

Task::Slice Task::run_slice() {
  if (cancel_.load(std::memory_order_acquire)) {
    close_chain();
    return Slice::kDone;
  }
  if (!opened_) open_chain();
  return source ? run_source_slice() : run_input_slice();
}

void Task::open_chain() {
  opened_ = true;
  auto* head = operators.front().get();
  open_channels_.assign(static_cast<std::size_t>(std::max(head->num_inputs(), 0)), 0);
  input_watermark_.assign(open_channels_.size(), std::numeric_limits<int64_t>::min());
  for (const auto& c : channels) ++open_channels_[static_cast<std::size_t>(c.input_index)];
  // Open from the tail to the head, so an operator's consumers are ready when it opens.
  for (auto it = operators.rbegin(); it != operators.rend(); ++it) (*it)->open();
  if (source) source->set_wakeup([this] { notify(); });
}

bool Task::outputs_available() {
  for (auto& p : partitions) {
    if (!p->available()) return false;
  }
  return true;
}

void Task::flush_outputs() {
  for (auto* w : writers) w->flush();
}

Task::Slice Task::run_source_slice() {
  const auto deadline = std::chrono::steady_clock::now() + kSliceBudget;
  const std::size_t step = job_->config().batch_records;
  for (;;) {
    if (cancel_.load(std::memory_order_acquire)) {
      close_chain();
      return Slice::kDone;
    }
    if (!outputs_available()) {
      flush_outputs();
      backpressured.fetch_add(1, std::memory_order_relaxed);
      return Slice::kWait;
    }
    std::size_t emitted = 0;
    const auto status = source->emit_next(step, emitted);
    records_out.fetch_add(emitted, std::memory_order_relaxed);
    if (status == SourceOperator::Status::kEndOfInput) {
      finish_chain();
      return Slice::kDone;
    }
    if (status == SourceOperator::Status::kNothingAvailable) {
      flush_outputs();
      return Slice::kWait;
    }
    if (std::chrono::steady_clock::now() >= deadline) return Slice::kYield;
  }
}

Task::Slice Task::run_input_slice() {
  const auto deadline = std::chrono::steady_clock::now() + kSliceBudget;
  Event event;
  for (;;) {
    if (cancel_.load(std::memory_order_acquire)) {
      close_chain();
      return Slice::kDone;
    }
    if (!outputs_available()) {
      flush_outputs();
      backpressured.fetch_add(1, std::memory_order_relaxed);
      return Slice::kWait;
    }
    const int gi = gate.poll(event);
    if (gi < 0) {
      flush_outputs();  // input ran dry: let partial batches go now (low latency)
      return Slice::kWait;
    }
    auto& ch = channels[static_cast<std::size_t>(gi)];
    switch (event.kind) {
      case Event::Kind::kBatch:
        records_in.fetch_add(event.batch->size(), std::memory_order_relaxed);
        ch.consumer->consume(*event.batch);
        event.batch.reset();
        break;
      case Event::Kind::kWatermark:
        handle_watermark(gi, event.value);
        break;
      case Event::Kind::kEndOfInput:
        handle_end_of_channel(gi);
        if (std::all_of(open_channels_.begin(), open_channels_.end(), [](int n) { return n == 0; })) {
          finish_chain();
          return Slice::kDone;
        }
        break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return Slice::kYield;
  }
}

void Task::handle_watermark(int gi, int64_t wm) {
  auto& ch = channels[static_cast<std::size_t>(gi)];
  ch.watermark = std::max(ch.watermark, wm);
  const int input = ch.input_index;
  int64_t min_wm = std::numeric_limits<int64_t>::max();
  bool any = false;
  for (const auto& c : channels) {
    if (c.input_index == input && !c.ended) {
      min_wm = std::min(min_wm, c.watermark);
      any = true;
    }
  }
  if (any && min_wm > input_watermark_[static_cast<std::size_t>(input)]) {
    input_watermark_[static_cast<std::size_t>(input)] = min_wm;
    operators.front()->process_watermark(min_wm, input);
  }
}

void Task::handle_end_of_channel(int gi) {
  auto& ch = channels[static_cast<std::size_t>(gi)];
  if (ch.ended) return;
  ch.ended = true;
  const int input = ch.input_index;
  if (--open_channels_[static_cast<std::size_t>(input)] == 0) {
    operators.front()->end_input(input);
  } else {
    // A finished channel no longer holds the input's watermark back.
    int64_t min_wm = std::numeric_limits<int64_t>::max();
    for (const auto& c : channels) {
      if (c.input_index == input && !c.ended) min_wm = std::min(min_wm, c.watermark);
    }
    if (min_wm > input_watermark_[static_cast<std::size_t>(input)] &&
        min_wm != std::numeric_limits<int64_t>::min()) {
      input_watermark_[static_cast<std::size_t>(input)] = min_wm;
      operators.front()->process_watermark(min_wm, input);
    }
  }
}

void Task::finish_chain() {
  // Operators are in topological order: each one's producers have finished before it ends its
  // input and finishes, so what a `finish()` flushes reaches operators that still accept it.
  operators.front()->finish();
  for (std::size_t i = 1; i < operators.size(); ++i) {
    operators[i]->end_input(0);
    operators[i]->finish();
  }
  flush_outputs();
  for (auto& p : partitions) p->broadcast_end_of_input();
  close_chain();
}

void Task::close_chain() noexcept {
  if (!opened_) operators.clear();  // never opened: nothing to close
  for (auto& op : operators) {
    try {
      op->close();
    } catch (const std::exception& e) {
      spdlog::warn("closing operator '{}' (subtask {}/{}) failed: {}", op->name(), info_.subtask + 1,
                   info_.parallelism, e.what());
    } catch (...) {
      spdlog::warn("closing operator '{}' failed", op->name());
    }
  }
  operators.clear();  // release resources now, not at job teardown
  outputs.clear();
  writers.clear();
}

std::string Task::describe_failure(std::exception_ptr error) const {
  const std::string where = "(subtask " + std::to_string(info_.subtask + 1) + "/" +
                            std::to_string(info_.parallelism) + ")";
  try {
    std::rethrow_exception(error);
  } catch (const OperatorFailure& e) {
    return "operator '" + e.operator_name() + "' " + where + " failed: " + e.cause();
  } catch (const std::exception& e) {
    return "task '" + info_.task_name + "' " + where + " failed: " + e.what();
  } catch (...) {
    return "task '" + info_.task_name + "' " + where + " failed with an unknown exception";
  }
}

}  // namespace weir::runtime
