#include "checkpoint/checkpoint_coordinator.h"

#include <filesystem>
#include <random>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "weir/common/fault_point.hpp"
#include "weir/runtime/internal/record.hpp"

namespace weir::checkpoint {
namespace fs = std::filesystem;
using namespace runtime;  // the snapshot records (weir/state/snapshot.hpp)

namespace {
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

CheckpointCoordinator::CheckpointCoordinator(CheckpointConfig config, std::string job_id, std::string job_name,
                                             std::string backend, std::shared_ptr<Clock> clock, Callbacks callbacks)
    : config_(std::move(config)),
      job_id_(std::move(job_id)),
      job_name_(std::move(job_name)),
      backend_(std::move(backend)),
      clock_(std::move(clock)),
      callbacks_(std::move(callbacks)) {
  if (config_.get_checkpoint_storage().empty()) {
    job_dir_ = (fs::temp_directory_path() / ("weir-checkpoints-" + job_id_)).string();
    temp_dir_ = true;
  } else {
    job_dir_ = checkpoint::path_of_uri(config_.get_checkpoint_storage()) + "/" + job_id_;
  }
}

CheckpointCoordinator::~CheckpointCoordinator() { shutdown(); }

void CheckpointCoordinator::set_tasks(std::vector<TaskEntry> tasks, int max_parallelism) {
  std::lock_guard lock(mu_);
  tasks_ = std::move(tasks);
  max_parallelism_ = max_parallelism;
  finished_.clear();
  released_.clear();
  ended_without_state_.clear();
}

void CheckpointCoordinator::start() {
  writer_ = std::thread([this] { writer_loop(); });
  if (config_.is_checkpointing_enabled()) periodic_ = std::thread([this] { periodic_loop(); });
}

void CheckpointCoordinator::shutdown() {
  std::map<int64_t, std::shared_ptr<Pending>> left;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    left.swap(pending_);
    to_write_.clear();
  }
  cv_.notify_all();
  if (periodic_.joinable()) periodic_.join();
  if (writer_.joinable()) writer_.join();
  for (auto& [id, p] : left) {
    p->promise.set_exception(std::make_exception_ptr(StateError("the job ended before checkpoint " + std::to_string(id) + " completed")));
  }
  if (temp_dir_) checkpoint::remove_all(job_dir_);
}

std::future<std::string> CheckpointCoordinator::trigger(const std::string& savepoint_dir, bool stop) {
  auto p = std::make_shared<Pending>();
  auto future = p->promise.get_future();
  p->savepoint = !savepoint_dir.empty();
  p->stop = stop;
  p->dir = savepoint_dir;
  std::unique_lock lock(mu_);
  if (stopping_ || tasks_.empty()) {
    p->promise.set_exception(std::make_exception_ptr(StateError("the job is not running; no checkpoint was taken")));
    return future;
  }
  trigger_locked(lock, p);
  return future;
}

namespace {
const char* kPartlyFinished =
    "part of the job has finished; a savepoint of a partly finished job needs checkpointing enabled "
    "(env.enable_checkpointing), so that finished tasks keep their final state";
}  // namespace

void CheckpointCoordinator::task_ended_without_state(TaskGateway* task) {
  std::vector<std::shared_ptr<Pending>> failed;
  {
    std::lock_guard lock(mu_);
    ended_without_state_.insert(task);
    for (auto& [id, p] : pending_) {
      if (!p->writing && !p->acks.count(task)) failed.push_back(p);
    }
    for (auto& p : failed) pending_.erase(p->id);
  }
  for (auto& p : failed) p->promise.set_exception(std::make_exception_ptr(StateError(kPartlyFinished)));
}

void CheckpointCoordinator::trigger_locked(std::unique_lock<std::mutex>& lock, std::shared_ptr<Pending> p) {
  if (!ended_without_state_.empty()) {
    p->promise.set_exception(std::make_exception_ptr(StateError(kPartlyFinished)));
    return;
  }
  p->id = next_id_++;
  p->timestamp = clock_->now_ms();
  p->started = std::chrono::steady_clock::now();
  p->trigger_wall_ms = wall_ms();
  p->latest_ack_wall_ms = p->trigger_wall_ms;
  pending_[p->id] = p;
  const uint8_t flags = p->savepoint ? Event::kSavepoint : 0;
  spdlog::debug("job '{}': triggering {} {}", job_name_, p->savepoint ? "savepoint" : "checkpoint", p->id);
  for (const auto& te : tasks_) {
    auto it = finished_.find(te.task);
    if (it != finished_.end()) {
      p->acks[te.task] = it->second;
      p->finals.insert(te.task);
    } else if (te.source) {
      te.task->trigger_barrier(p->id, p->timestamp, flags, p->stop);
    }
  }
  maybe_complete_locked(p);
}

void CheckpointCoordinator::acknowledge(TaskGateway* task, int64_t id, std::vector<OperatorSnapshot> snapshots) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // aborted meanwhile
  it->second->acks[task] = std::make_shared<const std::vector<OperatorSnapshot>>(std::move(snapshots));
  it->second->latest_ack_wall_ms = wall_ms();
  it->second->alignment_ns = std::max(it->second->alignment_ns, task->alignment_ns(id));
  maybe_complete_locked(it->second);
}

void CheckpointCoordinator::decline(int64_t id, const std::string& reason) {
  std::function<void()> after;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    after = fail_pending_locked(it->second, reason);
  }
  if (after) after();
}

void CheckpointCoordinator::task_finished(TaskGateway* task, std::vector<OperatorSnapshot> snapshots) {
  std::unique_lock lock(mu_);
  if (std::none_of(tasks_.begin(), tasks_.end(), [&](const TaskEntry& e) { return e.task == task; })) return;  // an old attempt's
  const auto shared = std::make_shared<const std::vector<OperatorSnapshot>>(std::move(snapshots));
  finished_[task] = shared;
  for (auto& [id, p] : pending_) {
    if (p->writing || p->acks.count(task)) continue;
    p->acks[task] = shared;
    p->finals.insert(task);
  }
  for (auto& [id, p] : std::map<int64_t, std::shared_ptr<Pending>>(pending_)) maybe_complete_locked(p);
  // Every task has finished: a final checkpoint lets the sinks commit what they hold.
  if (finished_.size() == tasks_.size() && !stopping_) {
    bool any_open = false;
    for (auto& [id, p] : pending_) any_open = any_open || !p->savepoint;
    if (!any_open) trigger_locked(lock, std::make_shared<Pending>());
  }
}

void CheckpointCoordinator::maybe_complete_locked(const std::shared_ptr<Pending>& p) {
  if (p->writing || p->acks.size() < tasks_.size()) return;
  p->writing = true;
  to_write_.push_back(p);
  cv_.notify_all();
}

void CheckpointCoordinator::writer_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !to_write_.empty(); });
    if (stopping_) return;
    auto p = to_write_.front();
    to_write_.pop_front();
    lock.unlock();
    write(p);
    lock.lock();
  }
}

namespace {
std::string file_name(std::size_t op_ordinal, int subtask) {
  return "op" + std::to_string(op_ordinal) + "-" + std::to_string(subtask) + ".state";
}
}  // namespace

void CheckpointCoordinator::write(const std::shared_ptr<Pending>& p) {
  const std::string dir = p->savepoint ? p->dir : job_dir_ + "/chk-" + std::to_string(p->id);
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  std::vector<TaskEntry> tasks;
  int max_p;
  {
    std::lock_guard lock(mu_);
    tasks = tasks_;
    max_p = max_parallelism_;
  }
  checkpoint::Metadata meta;
  std::vector<detail::KvFile> new_uploads;
  int64_t size = 0;
  bool recorded = false;  // HA storage names this checkpoint
  try {
    if (p->savepoint && existed && fs::exists(dir + "/" + checkpoint::kMetadataFile, ec)) {
      throw StateError("savepoint folder '" + dir + "' already holds a savepoint; choose a new folder");
    }
    fault_point("checkpoint.async_write");
    checkpoint::make_dirs(dir);
    meta.checkpoint_id = p->id;
    meta.timestamp = p->timestamp;
    meta.savepoint = p->savepoint;
    meta.job_name = job_name_;
    meta.backend = p->savepoint ? "canonical" : backend_;
    std::vector<detail::KvFile> known;
    {
      std::lock_guard lock(mu_);
      for (auto& [n, f] : uploaded_) known.push_back(f);
    }
    for (const auto& te : tasks) {
      const auto& snaps = *p->acks.at(te.task);
      for (std::size_t i = 0; i < te.uids.size(); ++i) {
        auto it = std::find_if(meta.operators.begin(), meta.operators.end(), [&](auto& o) { return o.uid == te.uids[i]; });
        if (it == meta.operators.end()) {
          meta.operators.push_back(checkpoint::OperatorMeta{te.uids[i], te.names[i], te.parallelism, max_p, {}});
          it = meta.operators.end() - 1;
        }
        checkpoint::SubtaskMeta sm;
        sm.subtask = te.subtask;
        std::tie(sm.first_key_group, sm.last_key_group) = checkpoint::key_group_range(max_p, te.parallelism, te.subtask);
        if (i < snaps.size() && !snaps[i].empty()) {
          const auto& snap = snaps[i];
          std::set<std::string> names;
          std::unordered_set<uint64_t> keys;  // by hash: 8 bytes per key
          for (const auto& [kg, bytes] : snap.key_groups) {
            sm.keyed_bytes += bytes.size();
            for_each_keyed_record(bytes, [&](const KeyedRecordView& r) {
              ++sm.keyed_records;
              keys.insert(checkpoint::checksum(r.key) ^ static_cast<uint64_t>(kg));
              if (r.kind == KeyedRecord::kState) names.emplace(r.name);
            });
          }
          sm.keys = keys.size();
          for (const auto& l : snap.lists) names.insert(l.name);
          sm.state_names.assign(names.begin(), names.end());
          sm.state_types = snap.state_types;
          if (!snap.key_groups.empty() || !snap.lists.empty() || !snap.inflight_in.empty() || !snap.inflight_out.empty()) {
            const std::string bytes = checkpoint::encode_state_file(snap);
            const std::string name = file_name(static_cast<std::size_t>(it - meta.operators.begin()), te.subtask);
            checkpoint::write_file_atomic(dir + "/" + name, bytes);
            sm.file = checkpoint::FileRef{name, bytes.size(), checkpoint::checksum(bytes)};
            size += static_cast<int64_t>(bytes.size());
          }
          if (snap.kv) {
            meta.shared_dir = job_dir_ + "/shared";
            sm.kv_files = snap.kv->upload(meta.shared_dir, known);
            for (const auto& f : sm.kv_files) {
              const bool reused = std::any_of(known.begin(), known.end(), [&](const detail::KvFile& k) { return k.name == f.name; });
              if (!reused) size += static_cast<int64_t>(f.size);  // bytes written by this checkpoint
              new_uploads.push_back(f);
            }
          }
        }
        it->subtasks.push_back(std::move(sm));
      }
    }
    checkpoint::write_metadata(dir, meta);
    if (!p->savepoint && callbacks_.record_completed) {
      recorded = callbacks_.record_completed(p->id, dir);
    }
  } catch (const std::exception& e) {
    // A folder HA storage may name stays: a coordinator taking over restores from it.
    if (!existed && dynamic_cast<const CheckpointRecordUnknown*>(&e) == nullptr) checkpoint::remove_all(dir);
    spdlog::warn("job '{}': {} {} failed: {}", job_name_, p->savepoint ? "savepoint" : "checkpoint", p->id, e.what());
    std::function<void()> after;
    {
      std::lock_guard lock(mu_);
      for (const auto& f : new_uploads) uploaded_.emplace(f.name, f);
      if (pending_.count(p->id)) after = fail_pending_locked(p, e.what());
    }
    if (after) after();
    return;
  }

  bool stopped = false;
  {
    std::unique_lock lock(mu_);
    for (const auto& f : new_uploads) uploaded_.emplace(f.name, f);
    if (!pending_.count(p->id)) {
      // Aborted while being written (the job failed): not a checkpoint of any attempt. Unless
      // HA storage already names it: a coordinator taking over restores from there.
      if (!p->savepoint && !recorded) checkpoint::remove_all(dir);
      return;
    }
    pending_.erase(p->id);
    const auto elapsed = std::chrono::steady_clock::now() - p->started;
    last_duration_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
    last_size_ = size;
    record_ended_locked(*p, CheckpointRecord::Status::completed, static_cast<int64_t>(size), dir, {});
    if (!p->savepoint) {
      completed_.emplace_back(p->id, dir);
      ++completed_count_;
      consecutive_failures_ = 0;
      last_completed_at_ = steady_ms();
      prune_locked();
    }
    // Sinks commit on checkpoints (and on the savepoint that stops the job), not on other
    // savepoints: a later failure restores an older checkpoint and would replay what they hold.
    // Posted under the lock: a failure aborts pending checkpoints under it before the tasks
    // of the attempt are freed, so these tasks are alive.
    if (!p->savepoint || p->stop) {
      for (const auto& te : tasks_) te.task->post_checkpoint_complete(p->id, p->finals.count(te.task) != 0, p->stop);
    }
    stopped = p->stop;
    // Tasks whose final snapshot a completed checkpoint holds may end now. Tasks that finished
    // after acknowledging this checkpoint still wait: once all have finished, one more
    // checkpoint (of final snapshots only) releases them.
    for (TaskGateway* t : p->finals) released_.insert(t);
    if (!p->savepoint && !stopping_ && !tasks_.empty() && finished_.size() == tasks_.size() &&
        released_.size() < finished_.size()) {
      bool any_open = false;
      for (auto& [id, q] : pending_) any_open = any_open || !q->savepoint;
      if (!any_open) trigger_locked(lock, std::make_shared<Pending>());
    }
  }
  spdlog::debug("job '{}': {} {} complete in {} ms, {} bytes: {}", job_name_, p->savepoint ? "savepoint" : "checkpoint",
                p->id, last_duration_ms_, size, dir);
  p->promise.set_value(dir);
  if (stopped && callbacks_.stopped) callbacks_.stopped();
}

std::function<void()> CheckpointCoordinator::fail_pending_locked(const std::shared_ptr<Pending>& p, const std::string& reason) {
  pending_.erase(p->id);
  p->promise.set_exception(std::make_exception_ptr(StateError(reason)));
  ++failed_count_;
  record_ended_locked(*p, CheckpointRecord::Status::failed, 0, {}, reason);
  for (const auto& te : tasks_) te.task->post_checkpoint_aborted(p->id);
  if (p->savepoint) return {};
  ++consecutive_failures_;
  const bool all_finished = !tasks_.empty() && finished_.size() == tasks_.size();
  if (all_finished) {
    return [cb = callbacks_.fail_job, reason] { if (cb) cb("the final checkpoint failed: " + reason); };
  }
  if (consecutive_failures_ > config_.get_tolerable_checkpoint_failure_number()) {
    const auto n = consecutive_failures_;
    consecutive_failures_ = 0;
    return [cb = callbacks_.fail_job, reason, n] {
      if (cb) cb("checkpoints failed " + std::to_string(n) + " times in a row, more than tolerated; last cause: " + reason);
    };
  }
  return {};
}

void CheckpointCoordinator::prune_locked() {
  while (static_cast<int>(completed_.size()) > config_.get_max_retained_checkpoints()) {
    checkpoint::remove_all(completed_.front().second);
    completed_.erase(completed_.begin());
  }
  if (uploaded_.empty()) return;
  // Shared RocksDB files: delete those no retained checkpoint refers to.
  std::set<std::string> live;
  for (const auto& [id, dir] : completed_) {
    try {
      const auto meta = checkpoint::read_metadata(dir);
      for (const auto& op : meta.operators) {
        for (const auto& st : op.subtasks) {
          for (const auto& f : st.kv_files) live.insert(f.name);
        }
      }
    } catch (const std::exception& e) {
      spdlog::warn("job '{}': reading {} to collect shared files: {}", job_name_, dir, e.what());
      return;  // keep everything when unsure
    }
  }
  for (auto it = uploaded_.begin(); it != uploaded_.end();) {
    if (live.count(it->first) == 0) {
      std::error_code ec;
      fs::remove(job_dir_ + "/shared/" + it->first, ec);
      it = uploaded_.erase(it);
    } else {
      ++it;
    }
  }
}

void CheckpointCoordinator::periodic_loop() {
  const int64_t interval = config_.get_checkpoint_interval();
  int64_t next = steady_ms() + interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t now = steady_ms();
    // Timeouts.
    std::vector<std::function<void()>> after;
    for (auto& [id, p] : std::map<int64_t, std::shared_ptr<Pending>>(pending_)) {
      const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - p->started).count();
      if (!p->writing && age > config_.get_checkpoint_timeout()) {
        if (auto f = fail_pending_locked(p, "checkpoint " + std::to_string(id) + " expired before completing (timeout " +
                                                std::to_string(config_.get_checkpoint_timeout()) + " ms)")) {
          after.push_back(std::move(f));
        }
      }
    }
    if (!after.empty()) {
      lock.unlock();
      for (auto& f : after) f();
      lock.lock();
      continue;
    }
    int concurrent = 0;
    for (auto& [id, p] : pending_) concurrent += p->savepoint ? 0 : 1;
    const int64_t earliest = std::max(next, last_completed_at_ + config_.get_min_pause_between_checkpoints());
    if (now >= earliest && concurrent < config_.get_max_concurrent_checkpoints() && !tasks_.empty() &&
        finished_.size() < tasks_.size()) {
      next = now + interval;
      trigger_locked(lock, std::make_shared<Pending>());
      continue;
    }
    const int64_t wait = std::clamp<int64_t>(std::max(earliest, now + 1) - now, 1, 50);
    cv_.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

void CheckpointCoordinator::abort_pending(const std::string& reason) {
  std::lock_guard lock(mu_);
  for (auto& [id, p] : pending_) {
    p->promise.set_exception(std::make_exception_ptr(StateError("checkpoint " + std::to_string(id) + " aborted: " + reason)));
    record_ended_locked(*p, CheckpointRecord::Status::failed, 0, {}, "aborted: " + reason);
  }
  pending_.clear();
  to_write_.clear();
  tasks_.clear();
  finished_.clear();
  released_.clear();
  ended_without_state_.clear();
}

void CheckpointCoordinator::discard_retained() {
  std::lock_guard lock(mu_);
  for (const auto& [id, dir] : completed_) checkpoint::remove_all(dir);
  completed_.clear();
  checkpoint::remove_all(job_dir_ + "/shared");
  uploaded_.clear();
  std::error_code ec;
  fs::remove(job_dir_, ec);  // only when empty
}

std::vector<std::pair<int64_t, std::string>> CheckpointCoordinator::completed() const {
  std::lock_guard lock(mu_);
  return {completed_.rbegin(), completed_.rend()};
}

void CheckpointCoordinator::forget_completed(const std::string& dir) {
  std::lock_guard lock(mu_);
  std::erase_if(completed_, [&](const auto& c) { return c.second == dir; });
}

void CheckpointCoordinator::completion_delivered(int64_t id) {
  // Relaxed is enough: it is read by the restart after every task of the attempt has ended
  // (their ends synchronise through the job's counters and locks).
  int64_t seen = delivered_.load(std::memory_order_relaxed);
  while (seen < id && !delivered_.compare_exchange_weak(seen, id, std::memory_order_relaxed)) {
  }
}

int64_t CheckpointCoordinator::delivered_through() const { return delivered_.load(std::memory_order_relaxed); }

void CheckpointCoordinator::set_restored(int64_t id, std::string dir) {
  std::lock_guard lock(mu_);
  restored_id_ = id;
  restored_dir_ = std::move(dir);
  // As Flink: checkpoint ids go on after the restored one (a job that resumes in the same
  // folder, a coordinator taking over, must not write chk-N twice; sinks name transactions by id).
  if (id >= next_id_) next_id_ = id + 1;
}
void CheckpointCoordinator::count_fallback_past_committed() {
  std::lock_guard lock(mu_);
  ++fallbacks_past_committed_;
}
int64_t CheckpointCoordinator::restored_id() const {
  std::lock_guard lock(mu_);
  return restored_id_;
}
std::string CheckpointCoordinator::restored_dir() const {
  std::lock_guard lock(mu_);
  return restored_dir_;
}
int64_t CheckpointCoordinator::fallbacks_past_committed() const {
  std::lock_guard lock(mu_);
  return fallbacks_past_committed_;
}

int64_t CheckpointCoordinator::completed_count() const {
  std::lock_guard lock(mu_);
  return completed_count_;
}
int64_t CheckpointCoordinator::failed_count() const {
  std::lock_guard lock(mu_);
  return failed_count_;
}
int64_t CheckpointCoordinator::last_duration_ms() const {
  std::lock_guard lock(mu_);
  return last_duration_ms_;
}
int64_t CheckpointCoordinator::last_size_bytes() const {
  std::lock_guard lock(mu_);
  return last_size_;
}

}  // namespace weir::checkpoint

namespace weir::checkpoint {

RestorePlan load_restore_plan(const std::string& dir, const std::vector<OperatorShape>& operators, int max_parallelism,
                              bool allow_non_restored, int64_t* checkpoint_id) {
  const auto meta = checkpoint::read_metadata(dir);
  if (checkpoint_id) *checkpoint_id = meta.checkpoint_id;
  RestorePlan plan;
  // Each state file read (and checked) once.
  struct Decoded {
    std::shared_ptr<std::map<int, std::string>> groups;
    std::vector<OperatorList> lists;
    std::vector<ChannelState> inflight_in, inflight_out;
  };
  auto load = [&](const checkpoint::SubtaskMeta& st) {
    Decoded d;
    d.groups = std::make_shared<std::map<int, std::string>>();
    if (!st.file.name.empty()) {
      const std::string bytes = checkpoint::read_verified(dir, st.file);
      try {
        checkpoint::decode_state_file(bytes, *d.groups, d.lists, &d.inflight_in, &d.inflight_out);
      } catch (const StateError& e) {
        throw StateError("checkpoint file '" + dir + "/" + st.file.name + "': " + e.what());
      }
      // A key group outside the subtask's range would be dropped or restored twice.
      for (const auto& [kg, bytes] : *d.groups) {
        if (kg < st.first_key_group || kg > st.last_key_group) {
          throw StateError("checkpoint file '" + dir + "/" + st.file.name + "' holds key group " + std::to_string(kg) +
                           ", outside its subtask's key groups " + std::to_string(st.first_key_group) + "-" +
                           std::to_string(st.last_key_group) + " in the metadata; the checkpoint is damaged");
        }
      }
    }
    return d;
  };
  for (const auto& op : meta.operators) {
    auto shape = std::find_if(operators.begin(), operators.end(), [&](const OperatorShape& s) { return s.uid == op.uid; });
    const bool has_state = std::any_of(op.subtasks.begin(), op.subtasks.end(), [](const checkpoint::SubtaskMeta& st) {
      return !st.file.name.empty() || !st.kv_files.empty();
    });
    if (shape == operators.end()) {
      if (!has_state || allow_non_restored) continue;
      throw StateError("'" + dir + "' holds state of operator '" + op.name + "' (uid '" + op.uid +
                       "'), which this job does not have; give the operator its old uid(), or restore with "
                       "SavepointRestoreSettings::for_path(path, /*allow_non_restored_state=*/true) to skip that state");
    }
    if (has_state && op.max_parallelism != max_parallelism) {
      throw StateError("operator '" + op.name + "' was checkpointed with max parallelism " + std::to_string(op.max_parallelism) +
                       " and the job now has " + std::to_string(max_parallelism) +
                       "; the max parallelism (the number of key groups) cannot change: set_max_parallelism(" +
                       std::to_string(op.max_parallelism) + ")");
    }
    std::vector<Decoded> old;
    old.reserve(op.subtasks.size());
    for (const auto& st : op.subtasks) old.push_back(load(st));
    const int p = shape->parallelism;
    auto& restores = plan[op.uid];
    restores.resize(static_cast<std::size_t>(p));
    // Even-split lists: all elements in old subtask order, dealt out in contiguous shares (the
    // same subtask's elements when the parallelism is unchanged).
    std::map<std::string, std::vector<std::string>> even_all;
    std::map<std::string, std::vector<std::string>> unions;
    for (const auto& d : old) {
      for (const auto& l : d.lists) {
        auto& dst = l.mode == Redistribution::union_ ? unions[l.name] : even_all[l.name];
        dst.insert(dst.end(), l.elements.begin(), l.elements.end());
      }
    }
    const bool inflight = std::any_of(old.begin(), old.end(), [](const Decoded& d) {
      return !d.inflight_in.empty() || !d.inflight_out.empty();
    });
    if (inflight && static_cast<int>(op.subtasks.size()) != p) {
      throw StateError("'" + dir + "' is an unaligned checkpoint with records in flight at operator '" + op.name +
                       "', which cannot change its parallelism; restore it at parallelism " +
                       std::to_string(op.subtasks.size()) + ", or take a savepoint (always aligned) and rescale that");
    }
    for (int s = 0; s < p; ++s) {
      auto& r = restores[static_cast<std::size_t>(s)];
      r.restored_ = true;
      r.uid_ = op.uid;
      for (const auto& st : op.subtasks) {
        for (const auto& t : st.state_types) add_state_type(r.types_, t);
      }
      if (inflight) {
        r.inflight_in_ = old[static_cast<std::size_t>(s)].inflight_in;
        r.inflight_out_ = old[static_cast<std::size_t>(s)].inflight_out;
      }
      std::tie(r.first_kg_, r.last_kg_) = checkpoint::key_group_range(max_parallelism, p, s);
      r.kv_dir_ = meta.shared_dir;
      for (std::size_t i = 0; i < op.subtasks.size(); ++i) {
        const auto& st = op.subtasks[i];
        if (st.last_key_group < r.first_kg_ || st.first_key_group > r.last_kg_) continue;
        r.keep_alive_.push_back(std::shared_ptr<const std::string>(old[i].groups, nullptr));
        for (const auto& [kg, bytes] : *old[i].groups) {
          if (kg >= r.first_kg_ && kg <= r.last_kg_) r.groups_.emplace_back(kg, std::string_view(bytes));
        }
        if (!st.kv_files.empty()) r.kv_sources_.push_back(StateRestore::KvSource{st.first_key_group, st.last_key_group, st.kv_files});
      }
      for (const auto& [name, elems] : unions) r.lists_[name] = elems;
      if (static_cast<int>(op.subtasks.size()) == p) {
        for (const auto& l : old[static_cast<std::size_t>(s)].lists) {
          if (l.mode == Redistribution::even_split) r.lists_[l.name] = l.elements;
        }
        for (const auto& [name, elems] : even_all) r.lists_.try_emplace(name);
      } else {
        for (const auto& [name, elems] : even_all) {
          const std::size_t n = elems.size();
          const std::size_t lo = n * static_cast<std::size_t>(s) / static_cast<std::size_t>(p);
          const std::size_t hi = n * static_cast<std::size_t>(s + 1) / static_cast<std::size_t>(p);
          r.lists_[name] = std::vector<std::string>(elems.begin() + static_cast<std::ptrdiff_t>(lo),
                                                    elems.begin() + static_cast<std::ptrdiff_t>(hi));
        }
      }
    }
  }
  return plan;
}

}  // namespace weir::checkpoint

namespace weir::checkpoint {

const char* to_string(CheckpointRecord::Status status) {
  switch (status) {
    case CheckpointRecord::Status::in_progress: return "IN_PROGRESS";
    case CheckpointRecord::Status::completed: return "COMPLETED";
    case CheckpointRecord::Status::failed: return "FAILED";
  }
  return "UNKNOWN";
}

void CheckpointCoordinator::record_ended_locked(const Pending& p, CheckpointRecord::Status status, int64_t size,
                                                std::string path, std::string failure) {
  CheckpointRecord r;
  r.id = p.id;
  r.status = status;
  r.savepoint = p.savepoint;
  r.trigger_ms = p.trigger_wall_ms;
  r.latest_ack_ms = status == CheckpointRecord::Status::completed ? wall_ms() : p.latest_ack_wall_ms;
  r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - p.started).count();
  r.size_bytes = size;
  r.alignment_ms = p.alignment_ns / 1000000;
  r.num_subtasks = static_cast<int>(tasks_.size());
  r.num_acknowledged = static_cast<int>(p.acks.size());
  r.path = std::move(path);
  r.failure = std::move(failure);
  history_.push_back(std::move(r));
  while (history_.size() > 100) history_.pop_front();
}

std::vector<CheckpointRecord> CheckpointCoordinator::history() const {
  std::lock_guard lock(mu_);
  std::vector<CheckpointRecord> out;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    const auto& p = *it->second;
    CheckpointRecord r;
    r.id = p.id;
    r.savepoint = p.savepoint;
    r.trigger_ms = p.trigger_wall_ms;
    r.latest_ack_ms = p.latest_ack_wall_ms;
    r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - p.started).count();
    r.alignment_ms = p.alignment_ns / 1000000;
    r.num_subtasks = static_cast<int>(tasks_.size());
    r.num_acknowledged = static_cast<int>(p.acks.size());
    out.push_back(std::move(r));
  }
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) out.push_back(*it);
  return out;
}

}  // namespace weir::checkpoint
