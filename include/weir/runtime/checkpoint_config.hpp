#pragma once
/// Checkpoint settings (Flink's CheckpointConfig) and the savepoint a job starts from.
#include <chrono>
#include <cstdint>
#include <string>

#include "weir/common/errors.hpp"

namespace weir {

namespace detail {
struct ConfigCodec;
}

enum class CheckpointingMode { exactly_once, at_least_once };

/// Whether a canceled job's retained checkpoints stay on disk (Flink's externalized checkpoint
/// cleanup). Default: retained, so a job can be resumed from them with `for_path`.
enum class CheckpointRetention { delete_on_cancellation, retain_on_cancellation };

/// Checkpoint settings, as Flink's CheckpointConfig.
class CheckpointConfig {
 public:
  bool is_checkpointing_enabled() const { return interval_ms_ > 0; }
  int64_t get_checkpoint_interval() const { return interval_ms_; }
  void set_checkpoint_interval(int64_t ms) { interval_ms_ = ms; }
  CheckpointingMode get_checkpointing_mode() const { return mode_; }
  void set_checkpointing_mode(CheckpointingMode m) { mode_ = m; }
  int64_t get_checkpoint_timeout() const { return timeout_ms_; }
  void set_checkpoint_timeout(int64_t ms) {
    if (ms <= 0) throw GraphError("checkpoint timeout must be positive");
    timeout_ms_ = ms;
  }
  int64_t get_min_pause_between_checkpoints() const { return min_pause_ms_; }
  void set_min_pause_between_checkpoints(int64_t ms) {
    if (ms < 0) throw GraphError("min pause between checkpoints must not be negative");
    min_pause_ms_ = ms;
  }
  int get_max_concurrent_checkpoints() const { return max_concurrent_; }
  void set_max_concurrent_checkpoints(int n) {
    if (n < 1) throw GraphError("max concurrent checkpoints must be at least 1");
    max_concurrent_ = n;
  }
  int get_tolerable_checkpoint_failure_number() const { return tolerable_failures_; }
  void set_tolerable_checkpoint_failure_number(int n) {
    if (n < 0) throw GraphError("tolerable checkpoint failures must not be negative");
    tolerable_failures_ = n;
  }
  int get_max_retained_checkpoints() const { return retained_; }
  void set_max_retained_checkpoints(int n) {
    if (n < 1) throw GraphError("retained checkpoints must be at least 1");
    retained_ = n;
  }
  bool is_unaligned_checkpoints_enabled() const { return unaligned_; }
  void enable_unaligned_checkpoints(bool on = true) { unaligned_ = on; }
  /// Checkpoints are taken unaligned: checkpointing on, exactly once, unaligned enabled.
  bool takes_unaligned_checkpoints() const {
    return is_checkpointing_enabled() && mode_ == CheckpointingMode::exactly_once && unaligned_;
  }
  /// Whether a restart may restore an older checkpoint when the newest retained one is damaged
  /// although tasks already acted on its completion (sinks committed its output): then the
  /// output between the two checkpoints is written again. Default false: the job fails with a
  /// message naming the damaged checkpoint. When allowed, each such restart is logged and
  /// counted in `CheckpointStats::fallbacks_past_committed`.
  void set_allow_fallback_past_committed_checkpoint(bool allow) { fallback_past_committed_ = allow; }
  bool allows_fallback_past_committed_checkpoint() const { return fallback_past_committed_; }
  void set_externalized_checkpoint_retention(CheckpointRetention r) { retention_ = r; }
  CheckpointRetention get_externalized_checkpoint_retention() const { return retention_; }
  /// "file:///dir" or a plain path. Empty: checkpoints go to a temporary folder that is removed
  /// when the job ends (the job recovers from them, but they do not outlive it).
  const std::string& get_checkpoint_storage() const { return storage_; }
  void set_checkpoint_storage(std::string uri) { storage_ = std::move(uri); }

 private:
  friend struct detail::ConfigCodec;  // cluster mode ships the settings (src/cluster/codec.cc)
  int64_t interval_ms_ = 0;
  CheckpointingMode mode_ = CheckpointingMode::exactly_once;
  int64_t timeout_ms_ = 10 * 60 * 1000;
  int64_t min_pause_ms_ = 0;
  int max_concurrent_ = 1;
  int tolerable_failures_ = 0;
  int retained_ = 1;
  bool unaligned_ = false;
  bool fallback_past_committed_ = false;
  CheckpointRetention retention_ = CheckpointRetention::retain_on_cancellation;
  std::string storage_;
};

/// Where a job's state starts from: a savepoint or retained checkpoint directory.
class SavepointRestoreSettings {
 public:
  static SavepointRestoreSettings none() { return {}; }
  /// `allow_non_restored_state`: state of operators that are no longer in the job is skipped
  /// instead of failing the restore.
  static SavepointRestoreSettings for_path(std::string path, bool allow_non_restored_state = false) {
    SavepointRestoreSettings s;
    s.path_ = std::move(path);
    s.allow_non_restored_ = allow_non_restored_state;
    return s;
  }
  bool restore_savepoint() const { return !path_.empty(); }
  const std::string& get_restore_path() const { return path_; }
  bool allows_non_restored_state() const { return allow_non_restored_; }

 private:
  friend struct detail::ConfigCodec;  // cluster mode ships the settings (src/cluster/codec.cc)
  std::string path_;
  bool allow_non_restored_ = false;
};

}  // namespace weir
