#include "runtime/task.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "runtime/job_run.h"
#include "runtime/worker_pool.h"
#include "weir/common/fault_point.hpp"

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
        pool_->submit(this, info_.subtask);
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
  const auto slice_start = std::chrono::steady_clock::now();
  if (parked_on_output_) {
    backpressured_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(slice_start - parked_at_).count(),
                               std::memory_order_relaxed);
    parked_on_output_ = false;
  }
  Slice result = Slice::kDone;
  std::string failure;
  bool recoverable = true;
  {
    // The job's task lock (a Python job: the interpreter lock) is held for the slice only, and
    // released before the job is told what the slice ended with.
    TaskLock* lock = job_->config().task_lock.get();
    if (lock != nullptr) lock->lock();
    try {
      result = run_slice();
    } catch (...) {
      failure = describe_failure(std::current_exception());
      recoverable = is_recoverable(std::current_exception());
      close_chain();
      if (failure.empty()) failure = "unknown failure";
    }
    if (lock != nullptr) lock->unlock();
  }
  const auto slice_end = std::chrono::steady_clock::now();
  busy_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(slice_end - slice_start).count(),
                    std::memory_order_relaxed);
  if (parked_on_output_) parked_at_ = slice_end;
  bytes_out.store(pushed_bytes(), std::memory_order_relaxed);
  if (!failure.empty()) {
    state_.store(kDone, std::memory_order_release);
    job_->task_failed(this, failure, recoverable);
    return;
  }
  switch (result) {
    case Slice::kDone:
      state_.store(kDone, std::memory_order_release);
      job_->task_done(this);
      return;
    case Slice::kYield:
      state_.store(kQueued, std::memory_order_release);
      pool_->submit(this, info_.subtask);
      return;
    case Slice::kWait: {
      int expected = kRunning;
      if (!state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
        // Notified while running: there may be new input or room downstream.
        state_.store(kQueued, std::memory_order_release);
        pool_->submit(this, info_.subtask);
      }
      return;
    }
  }
}

Task::Slice Task::run_slice() {
  if (opened_) run_mail();  // before a cancel: a stop-with-savepoint commits, then cancels
  if (cancel_.load(std::memory_order_acquire)) {
    close_chain();
    return Slice::kDone;
  }
  if (!opened_) open_chain();
  if ((++slices_ & 15) == 0) sample_state_size();
  if (waiting_final_) {
    if (!released_) return Slice::kWait;
    close_chain();
    return Slice::kDone;
  }
  fire_due_timers();
  return source ? run_source_slice() : run_input_slice();
}

void Task::sample_state_size() {
  uint64_t mem = 0, disk = 0;
  bool any = false;
  for (auto& op : operators) {
    if (auto* store = op->state_store()) {
      any = true;
      mem += store->memory_usage();
      disk += store->disk_usage();
    }
  }
  if (!any) return;
  state_memory.store(mem, std::memory_order_relaxed);
  state_disk.store(disk, std::memory_order_relaxed);
  if (mem > state_memory_peak.load(std::memory_order_relaxed)) state_memory_peak.store(mem, std::memory_order_relaxed);
}

void Task::post(std::function<void()> mail) {
  {
    std::lock_guard lock(mail_mu_);
    mail_.push_back(std::move(mail));
    has_mail_.store(true, std::memory_order_release);
  }
  notify();
}

void Task::run_mail() {
  if (!has_mail_.load(std::memory_order_acquire)) return;
  std::vector<std::function<void()>> mail;
  {
    std::lock_guard lock(mail_mu_);
    mail.swap(mail_);
    has_mail_.store(false, std::memory_order_relaxed);
  }
  for (auto& m : mail) m();
}

void Task::trigger_barrier(int64_t id, int64_t timestamp, uint8_t flags, bool stop) {
  post([this, id, timestamp, flags, stop] {
    if (waiting_final_ || suspended_) return;  // finished: the final snapshot stands in
    if (unaligned && (flags & Event::kSavepoint) == 0) {
      unaligned_snaps_ = snapshot_chain(id, timestamp, flags);
      forward_barrier_priority(id, timestamp, flags);
      if (coordinator) coordinator->acknowledge(this, id, std::move(unaligned_snaps_));
      unaligned_snaps_.clear();
    } else {
      snapshot_and_forward(id, timestamp, flags);
    }
    if (stop) suspended_ = true;
  });
}

void Task::forward_barrier_priority(int64_t id, int64_t timestamp, uint8_t flags) {
  flush_outputs();  // partial batches join the channels first, then the barrier overtakes them
  for (std::size_t k = 0; k < partitions.size(); ++k) {
    partitions[k]->broadcast_barrier_priority(id, timestamp, flags, static_cast<int>(k), unaligned_snaps_[0].inflight_out);
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    std::size_t n = 0;
    for (const auto& cs : unaligned_snaps_[0].inflight_out) n += cs.events.size();
    spdlog::debug("task '{}' ({}): barrier {} overtook {} queued events", info_.task_name, info_.subtask + 1, id, n);
  }
}

ChannelState& Task::inflight_in(int gi) {
  auto& in = unaligned_snaps_[0].inflight_in;
  if (in.empty() || in.back().channel != gi) {
    auto it = std::find_if(in.begin(), in.end(), [&](const ChannelState& c) { return c.channel == gi; });
    if (it == in.end()) {
      in.push_back(ChannelState{0, gi, {}});
      it = in.end() - 1;
    }
    std::iter_swap(it, in.end() - 1);
  }
  return in.back();
}

void Task::record_inflight(int gi, const Event& e) {
  InFlightEvent f;
  if (!to_inflight(e, f)) return;
  inflight_in(gi).events.push_back(std::move(f));
}

void Task::replay_inflight() {
  spdlog::debug("task '{}' ({}): replays {} events in flight at the checkpoint", info_.task_name, info_.subtask + 1, replay.size());
  auto events = std::move(replay);
  replay.clear();
  for (auto& [gi, e] : events) {
    auto& ch = channels[static_cast<std::size_t>(gi)];
    switch (e.kind) {
      case 0:
        ch.consumer->consume_encoded(e.bytes);
        break;
      case 1:
        handle_watermark(gi, e.value);
        break;
      case 2:
        handle_watermark_status(gi, e.value != 0);
        break;
    }
  }
}

void Task::post_checkpoint_complete(int64_t id, bool release, bool stop) {
  post([this, id, release, stop] {
    if (coordinator) coordinator->completion_delivered(id);  // before: a commit may fail halfway
    for (auto& op : operators) op->notify_checkpoint_complete(id);
    if (stop) {
      for (auto& op : operators) op->notify_stopped();
    }
    if (release) {
      // The checkpoint holds this task's final snapshot: commit what that snapshot covers.
      for (auto& op : operators) op->notify_checkpoint_complete(kFinalCheckpointId);
      released_ = true;
    }
  });
}

void Task::post_checkpoint_aborted(int64_t id) {
  post([this, id] {
    if (aligning_ == id) {
      recording_.clear();
      unaligned_snaps_.clear();
      end_alignment();
    }
    for (auto& op : operators) op->notify_checkpoint_aborted(id);
  });
}

std::vector<OperatorSnapshot> Task::snapshot_chain(int64_t id, int64_t timestamp, uint8_t flags) {
  fault_point("checkpoint.sync");
  std::vector<OperatorSnapshot> snaps(operators.size());
  for (std::size_t i = 0; i < operators.size(); ++i) {
    SnapshotContext ctx(id, timestamp, (flags & Event::kSavepoint) != 0, &snaps[i]);
    operators[i]->snapshot_state(ctx);
  }
  return snaps;
}

void Task::snapshot_and_forward(int64_t id, int64_t timestamp, uint8_t flags) {
  auto snaps = snapshot_chain(id, timestamp, flags);
  flush_outputs();
  for (auto& p : partitions) p->broadcast_barrier(id, timestamp, flags);
  if (coordinator) coordinator->acknowledge(this, id, std::move(snaps));
}

void Task::handle_barrier(int gi, const Event& e, std::vector<InFlightEvent> overtaken) {
  const int64_t id = e.value;
  if (unaligned && (e.flags & Event::kSavepoint) == 0) {
    // Unaligned: snapshot at the first barrier and send it on ahead of the output; record what
    // the other inputs deliver until their barriers arrive.
    if (aligning_ >= 0 && id > aligning_) {
      const int64_t old = aligning_;
      aligning_ = -1;
      recording_.clear();
      unaligned_snaps_.clear();
      if (coordinator) coordinator->decline(old, "checkpoint " + std::to_string(id) + " overtook it at task '" + info_.task_name + "'");
    }
    if (aligning_ < 0) {
      if (id <= last_barrier_) return;
      aligning_ = id;
      align_started_ = std::chrono::steady_clock::now();
      aligning_ts_ = e.timestamp;
      aligning_flags_ = e.flags;
      barrier_seen_.assign(channels.size(), 0);
      unaligned_snaps_ = snapshot_chain(id, e.timestamp, e.flags);
      forward_barrier_priority(id, e.timestamp, e.flags);
      recording_.assign(channels.size(), 1);
    } else if (id < aligning_) {
      return;
    }
    last_barrier_ = std::max(last_barrier_, id);
    barrier_seen_[static_cast<std::size_t>(gi)] = 1;
    recording_[static_cast<std::size_t>(gi)] = 0;
    if (!overtaken.empty()) {
      // Queued on the consumer's side of a remote channel behind the barrier: they come after
      // what was recorded from this channel and before what the producer's side overtook.
      auto& events = inflight_in(gi).events;
      for (auto& f : overtaken) events.push_back(std::move(f));
    }
    check_alignment();
    return;
  }
  if (aligning_ >= 0 && id > aligning_) {
    // A newer checkpoint overtook the one being aligned: that one cannot complete here.
    const int64_t old = aligning_;
    end_alignment();
    if (coordinator) coordinator->decline(old, "checkpoint " + std::to_string(id) + " overtook it at task '" + info_.task_name + "'");
  }
  if (aligning_ < 0) {
    if (id <= last_barrier_) return;  // a checkpoint this task already took part in
    aligning_ = id;
    align_started_ = std::chrono::steady_clock::now();
    aligning_ts_ = e.timestamp;
    aligning_flags_ = e.flags;
    barrier_seen_.assign(channels.size(), 0);
  } else if (id < aligning_) {
    return;
  }
  last_barrier_ = std::max(last_barrier_, id);
  barrier_seen_[static_cast<std::size_t>(gi)] = 1;
  // Exactly-once: records behind the barrier wait until every input has delivered it.
  if (exactly_once) gate.block(gi);
  check_alignment();
}

void Task::check_alignment() {
  if (aligning_ < 0) return;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i].ended && !barrier_seen_[i]) return;
  }
  const int64_t id = aligning_;
  last_alignment_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - align_started_).count(),
                           std::memory_order_relaxed);
  last_alignment_id_.store(id, std::memory_order_release);
  if (!unaligned_snaps_.empty()) {
    aligning_ = -1;
    recording_.clear();
    auto snaps = std::move(unaligned_snaps_);
    unaligned_snaps_.clear();
    if (coordinator) coordinator->acknowledge(this, id, std::move(snaps));
    return;
  }
  end_alignment();
  snapshot_and_forward(id, aligning_ts_, aligning_flags_);
}

void Task::end_alignment() {
  aligning_ = -1;
  gate.unblock_all();
}

int64_t Task::now() const { return job_->clock().now_ms(); }

void Task::register_timer(int64_t time, std::function<void(int64_t)> callback) {
  timers_.push_back(Timer{time, timer_seq_++, std::move(callback)});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  request_wakeup();
}

void Task::request_wakeup() {
  // One wake-up per earliest timer, not one per call: asking again only when an earlier timer
  // appears or the wake-up asked for has passed.
  if (timers_.empty()) return;
  const int64_t t = timers_.front().time;
  if (t < wakeup_at_ || wakeup_at_ <= now()) {
    wakeup_at_ = t;
    job_->schedule_wakeup(this, t);
  }
}

void Task::fire_due_timers() {
  if (timers_.empty()) return;
  const int64_t t = now();
  while (!timers_.empty() && timers_.front().time <= t) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    Timer timer = std::move(timers_.back());
    timers_.pop_back();
    timer.callback(timer.time);
  }
  request_wakeup();
}

void Task::open_chain() {
  opened_ = true;
  {
    std::lock_guard lock(metric_groups_mu_);
    metric_groups_.clear();
    for (const auto& op : operators) metric_groups_.emplace_back(op->name(), op->shared_metric_group());
  }
  auto* head = operators.front().get();
  open_channels_.assign(static_cast<std::size_t>(std::max(head->num_inputs(), 0)), 0);
  input_watermark_.assign(open_channels_.size(), std::numeric_limits<int64_t>::min());
  input_idle_.assign(open_channels_.size(), false);
  for (const auto& c : channels) ++open_channels_[static_cast<std::size_t>(c.input_index)];
  for (auto& p : partitions) {
    p->set_watermark_observer([this](int64_t wm) { output_watermark.store(wm, std::memory_order_relaxed); });
    p->set_full_flag(&output_full_);
    if (p->buffer_timeout_us() >= 0) {
      buffer_timeout_ = std::min<std::chrono::nanoseconds>(buffer_timeout_, std::chrono::microseconds(p->buffer_timeout_us()));
    }
  }
  step_bytes_budget_ = std::max(job_->config().batch_bytes, job_->config().channel_capacity_bytes / 4);
  // The wake-up is set before `open()`, which may start a source's I/O thread that calls it.
  if (source) {
    source->set_wakeup([this] { notify(); });
    source->set_output_full_flag(&output_full_);
  }
  // State first (all operators), then open from the tail to the head, so an operator's
  // consumers are ready when it opens.
  for (std::size_t i = 0; i < operators.size(); ++i) {
    operators[i]->initialize_state(i < restores.size() ? restores[i] : StateRestore{});
  }
  restores.clear();
  for (auto it = operators.rbegin(); it != operators.rend(); ++it) (*it)->open();
}

bool Task::outputs_available() {
  for (auto& p : partitions) {
    if (!p->available()) return false;
  }
  return true;
}

void Task::flush_outputs() {
  for (auto* w : writers) w->flush();
  unflushed_ = false;
}

void Task::flush_if_due(std::chrono::steady_clock::time_point step_start, std::chrono::steady_clock::time_point now) {
  if (buffer_timeout_ == std::chrono::nanoseconds::max()) return;
  if (!unflushed_) {
    // What this step left in partly filled batches is at most as old as the step.
    unflushed_ = true;
    unflushed_since_ = step_start;
  }
  if (now - unflushed_since_ >= buffer_timeout_) flush_outputs();
}

uint64_t Task::pushed_bytes() const {
  uint64_t n = 0;
  for (const auto& p : partitions) n += p->pushed_bytes();
  return n;
}

void Task::adapt_source_step(std::size_t emitted, uint64_t bytes, std::chrono::nanoseconds took) {
  std::size_t limit = job_->config().batch_records;
  if (buffer_timeout_ != std::chrono::nanoseconds::max() && took.count() > 0) {
    // A step takes about half the buffer timeout at most, so partial batches leave in time
    // even when the source takes long per record (a paced or blocking source).
    const double per_record = static_cast<double>(took.count()) / static_cast<double>(emitted);
    const double fit = static_cast<double>(buffer_timeout_.count()) / 2 / per_record;
    if (fit < static_cast<double>(limit)) limit = std::max<std::size_t>(1, static_cast<std::size_t>(fit));
  }
  if (bytes > 0) {
    // A step emits about a quarter of a channel's capacity at most (sources that check
    // `output_full()` between records stop at capacity anyway; this bounds those that don't).
    const double fit = static_cast<double>(step_bytes_budget_) * static_cast<double>(emitted) / static_cast<double>(bytes);
    if (fit < static_cast<double>(limit)) limit = std::max<std::size_t>(1, static_cast<std::size_t>(fit));
  }
  source_step_ = std::min(limit, source_step_ * 2);
}

bool Task::consume_pending(bool stop) {
  auto& ch = channels[static_cast<std::size_t>(pending_gi_)];
  output_full_ = false;
  pending_pos_ = ch.consumer->consume(*pending_batch_, pending_pos_, stop ? &output_full_ : nullptr);
  if (pending_pos_ < pending_batch_->size()) return false;
  pending_batch_.reset();
  pending_pos_ = 0;
  pending_gi_ = -1;
  return true;
}

Task::Slice Task::run_source_slice() {
  auto step_start = std::chrono::steady_clock::now();
  const auto deadline = step_start + kSliceBudget;
  for (;;) {
    if (cancel_.load(std::memory_order_acquire)) {
      close_chain();
      return Slice::kDone;
    }
    if (suspended_) {
      flush_outputs();
      return Slice::kWait;
    }
    if (!outputs_available()) {
      flush_outputs();
      backpressured.fetch_add(1, std::memory_order_relaxed);
      parked_on_output_ = true;
      return Slice::kWait;
    }
    std::size_t emitted = 0;
    fault_point("task.process");
    output_full_ = false;
    const uint64_t bytes_before = pushed_bytes();
    const auto status = source->emit_next(source_step_, emitted);
    records_out.fetch_add(emitted, std::memory_order_relaxed);
    if (status == SourceOperator::Status::kEndOfInput) {
      // End of input ends event time: every window and timer downstream fires.
      source->process_watermark(kMaxWatermark, 0);
      return finish_chain();
    }
    if (status == SourceOperator::Status::kNothingAvailable) {
      flush_outputs();
      return Slice::kWait;
    }
    if (emitted == 0) flush_outputs();  // a source polling with nothing to give: let partial batches go
    fire_due_timers();
    const auto now = std::chrono::steady_clock::now();
    if (emitted > 0) adapt_source_step(emitted, pushed_bytes() - bytes_before, now - step_start);
    flush_if_due(step_start, now);
    if (now >= deadline) return Slice::kYield;
    step_start = now;
  }
}

Task::Slice Task::run_input_slice() {
  auto step_start = std::chrono::steady_clock::now();
  const auto deadline = step_start + kSliceBudget;
  Event event;
  if (!replay.empty()) replay_inflight();
  for (;;) {
    if (cancel_.load(std::memory_order_acquire)) {
      close_chain();
      return Slice::kDone;
    }
    if (unaligned && gate.has_priority()) {
      // A barrier that overtook data is taken even under backpressure.
      const int pgi = gate.poll_priority(event);
      if (pgi >= 0) {
        // The rest of an interrupted batch came before the barrier: it goes into the snapshot.
        if (pending_batch_) consume_pending(false);
        std::vector<InFlightEvent> overtaken;
        gate.take_overtaken(overtaken);
        handle_barrier(pgi, event, std::move(overtaken));
        continue;
      }
    }
    if (!outputs_available()) {
      flush_outputs();
      backpressured.fetch_add(1, std::memory_order_relaxed);
      parked_on_output_ = true;
      return Slice::kWait;
    }
    if (pending_batch_) {
      fault_point("task.process");
      consume_pending(true);
      fire_due_timers();
      const auto now = std::chrono::steady_clock::now();
      flush_if_due(step_start, now);
      if (now >= deadline) return Slice::kYield;
      step_start = now;
      continue;
    }
    const int gi = gate.poll(event);
    if (gi < 0) {
      flush_outputs();  // input ran dry: let partial batches go now (low latency)
      return Slice::kWait;
    }
    auto& ch = channels[static_cast<std::size_t>(gi)];
    switch (event.kind) {
      case Event::Kind::kBatch:
        fault_point("task.process");
        if (!recording_.empty() && recording_[static_cast<std::size_t>(gi)]) record_inflight(gi, event);
        records_in.fetch_add(event.batch->size(), std::memory_order_relaxed);
        bytes_in.fetch_add(event.batch->bytes(), std::memory_order_relaxed);
        output_full_ = false;
        pending_pos_ = ch.consumer->consume(*event.batch, 0, &output_full_);
        if (pending_pos_ < event.batch->size()) {
          // An output channel filled up: the rest of the batch waits for room.
          pending_batch_ = std::move(event.batch);
          pending_gi_ = gi;
        } else {
          pending_pos_ = 0;
          event.batch.reset();
        }
        break;
      case Event::Kind::kWatermark:
        if (!recording_.empty() && recording_[static_cast<std::size_t>(gi)]) record_inflight(gi, event);
        handle_watermark(gi, event.value);
        break;
      case Event::Kind::kWatermarkStatus:
        if (!recording_.empty() && recording_[static_cast<std::size_t>(gi)]) record_inflight(gi, event);
        handle_watermark_status(gi, event.value != 0);
        break;
      case Event::Kind::kBarrier: {
        std::vector<InFlightEvent> overtaken;  // a priority barrier that reached the front first
        gate.take_overtaken(overtaken);
        handle_barrier(gi, event, std::move(overtaken));
        break;
      }
      case Event::Kind::kEndOfInput:
        handle_end_of_channel(gi);
        check_alignment();  // an ended channel no longer holds a barrier back
        if (std::all_of(open_channels_.begin(), open_channels_.end(), [](int n) { return n == 0; })) {
          return finish_chain();
        }
        break;
    }
    fire_due_timers();
    const auto now = std::chrono::steady_clock::now();
    flush_if_due(step_start, now);
    if (now >= deadline) return Slice::kYield;
    step_start = now;
  }
}

void Task::handle_watermark(int gi, int64_t wm) {
  auto& ch = channels[static_cast<std::size_t>(gi)];
  ch.watermark = std::max(ch.watermark, wm);
  ch.idle = false;  // a watermark means the channel is active
  publish_channel(gi);
  update_input(ch.input_index);
}

void Task::publish_channel(int gi) {
  if (static_cast<std::size_t>(gi) >= channel_view_count) return;
  const auto& ch = channels[static_cast<std::size_t>(gi)];
  auto& v = channel_views[static_cast<std::size_t>(gi)];
  v.watermark.store(ch.watermark, std::memory_order_relaxed);
  v.flags.store(static_cast<uint8_t>((ch.idle ? 1 : 0) | (ch.ended ? 2 : 0)), std::memory_order_relaxed);
}

void Task::handle_watermark_status(int gi, bool idle) {
  auto& ch = channels[static_cast<std::size_t>(gi)];
  ch.idle = idle;
  publish_channel(gi);
  update_input(ch.input_index);
}

void Task::update_input(int input) {
  // The input's watermark is the minimum over its channels that are neither idle nor finished;
  // when every such channel is idle, the input is idle.
  int64_t min_wm = std::numeric_limits<int64_t>::max();
  int holder = -1;
  bool any_active = false;
  bool any_open = false;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const auto& c = channels[i];
    if (c.input_index != input || c.ended) continue;
    any_open = true;
    if (c.idle) continue;
    any_active = true;
    if (c.watermark < min_wm) {
      min_wm = c.watermark;
      holder = static_cast<int>(i);
    }
  }
  auto* head = operators.front().get();
  const auto in = static_cast<std::size_t>(input);
  const bool idle = any_open && !any_active;
  if (idle != input_idle_[in]) {
    input_idle_[in] = idle;
    head->process_watermark_status(idle, input);
  }
  holding_channel.store(holder, std::memory_order_relaxed);
  if (any_active && min_wm > input_watermark_[in]) {
    input_watermark_[in] = min_wm;
    head->process_watermark(min_wm, input);
    input_watermark.store(head->current_watermark(), std::memory_order_relaxed);
  }
}

void Task::handle_end_of_channel(int gi) {
  auto& ch = channels[static_cast<std::size_t>(gi)];
  if (ch.ended) return;
  ch.ended = true;
  publish_channel(gi);
  const int input = ch.input_index;
  if (--open_channels_[static_cast<std::size_t>(input)] == 0) {
    operators.front()->end_input(input);
  } else {
    update_input(input);  // a finished channel no longer holds the input back
  }
}

Task::Slice Task::finish_chain() {
  sample_state_size();
  // Operators are in topological order: each one's producers have finished before it ends its
  // input and finishes, so what a `finish()` flushes reaches operators that still accept it.
  operators.front()->finish();
  for (std::size_t i = 1; i < operators.size(); ++i) {
    operators[i]->end_input(0);
    operators[i]->finish();
  }
  flush_outputs();
  for (auto& p : partitions) p->broadcast_end_of_input();
  if (final_checkpoint && coordinator) {
    // The final state goes into the next checkpoint; sinks commit what they hold when it
    // completes, and only then does the task end.
    auto snaps = snapshot_chain(kFinalCheckpointId, now(), 0);
    waiting_final_ = true;
    coordinator->task_finished(this, std::move(snaps));
    return Slice::kWait;
  }
  if (coordinator) coordinator->task_ended_without_state(this);
  close_chain();
  return Slice::kDone;
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
  timers_.clear();
}

bool Task::is_recoverable(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const OperatorFailure& e) {
    return e.recoverable();
  } catch (const IncompatibleStateError&) {
    return false;
  } catch (...) {
    return true;
  }
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
