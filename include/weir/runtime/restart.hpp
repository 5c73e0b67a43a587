#pragma once
/// Restart strategies, as Flink's "Task Failure Recovery": what a job does when a task fails.
/// Without checkpoints a restarted job starts again from the beginning of its sources.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>

#include "weir/common/errors.hpp"

namespace weir {

namespace detail {
struct ConfigCodec;
}

class RestartStrategy {
 public:
  /// Fail the job at the first failure (the default).
  static RestartStrategy no_restart() { return RestartStrategy(Kind::kNone); }
  /// Restart up to `restart_attempts` times, waiting `delay` before each.
  static RestartStrategy fixed_delay(int restart_attempts, std::chrono::milliseconds delay) {
    if (restart_attempts < 0 || delay.count() < 0) throw GraphError("fixed_delay: attempts and delay must not be negative");
    RestartStrategy s(Kind::kFixed);
    s.attempts_ = restart_attempts;
    s.delay_ = delay.count();
    return s;
  }
  /// Restart after `delay` unless more than `max_failures_per_interval` failures fell within
  /// `failure_rate_interval`.
  static RestartStrategy failure_rate(int max_failures_per_interval, std::chrono::milliseconds failure_rate_interval,
                                      std::chrono::milliseconds delay) {
    if (max_failures_per_interval < 1 || failure_rate_interval.count() <= 0 || delay.count() < 0) {
      throw GraphError("failure_rate: needs at least 1 failure per a positive interval and a delay that is not negative");
    }
    RestartStrategy s(Kind::kRate);
    s.attempts_ = max_failures_per_interval;
    s.interval_ = failure_rate_interval.count();
    s.delay_ = delay.count();
    return s;
  }
  /// Restart forever with a delay that starts at `initial_backoff`, grows by `multiplier` up
  /// to `max_backoff`, and starts again after `reset_threshold` without failures; `jitter` (0..1)
  /// spreads the delay.
  static RestartStrategy exponential_delay(std::chrono::milliseconds initial_backoff, std::chrono::milliseconds max_backoff,
                                           double multiplier, std::chrono::milliseconds reset_threshold, double jitter = 0.0) {
    if (initial_backoff.count() < 0 || max_backoff < initial_backoff || multiplier < 1.0 || jitter < 0 || jitter > 1) {
      throw GraphError("exponential_delay: needs 0 <= initial <= max backoff, multiplier >= 1, jitter in [0, 1]");
    }
    RestartStrategy s(Kind::kExponential);
    s.delay_ = initial_backoff.count();
    s.max_delay_ = max_backoff.count();
    s.multiplier_ = multiplier;
    s.interval_ = reset_threshold.count();
    s.jitter_ = jitter;
    return s;
  }

  /// A failure at `now_ms` (processing time): the delay before restarting, or nothing to give up.
  std::optional<int64_t> on_failure(int64_t now_ms) {
    switch (kind_) {
      case Kind::kNone:
        return std::nullopt;
      case Kind::kFixed:
        if (restarts_ >= attempts_) return std::nullopt;
        ++restarts_;
        return delay_;
      case Kind::kRate:
        failures_.push_back(now_ms);
        while (!failures_.empty() && failures_.front() <= now_ms - interval_) failures_.pop_front();
        if (static_cast<int>(failures_.size()) > attempts_) return std::nullopt;
        ++restarts_;
        return delay_;
      case Kind::kExponential: {
        if (last_failure_ && now_ms - *last_failure_ >= interval_) current_ = 0;
        last_failure_ = now_ms;
        current_ = current_ == 0 ? std::max<int64_t>(delay_, 0) : std::min<int64_t>(max_delay_, static_cast<int64_t>(current_ * multiplier_));
        ++restarts_;
        int64_t d = current_;
        if (jitter_ > 0) {
          std::uniform_real_distribution<double> u(-jitter_, jitter_);
          d = std::max<int64_t>(0, static_cast<int64_t>(static_cast<double>(d) * (1.0 + u(rng_))));
        }
        return d;
      }
    }
    return std::nullopt;
  }
  int restarts() const { return restarts_; }
  bool restarts_at_all() const { return kind_ != Kind::kNone; }

 private:
  friend struct detail::ConfigCodec;  // cluster mode ships the settings (src/cluster/codec.cc)
  enum class Kind { kNone, kFixed, kRate, kExponential };
  explicit RestartStrategy(Kind k) : kind_(k) {}
  Kind kind_;
  int attempts_ = 0;
  int64_t delay_ = 0;
  int64_t max_delay_ = 0;
  int64_t interval_ = 0;
  double multiplier_ = 1.0;
  double jitter_ = 0.0;
  int restarts_ = 0;
  int64_t current_ = 0;
  std::optional<int64_t> last_failure_;
  std::deque<int64_t> failures_;
  std::mt19937_64 rng_{0x5eed};
};

}  // namespace weir
