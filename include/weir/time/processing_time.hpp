#pragma once
/// The processing-time service a task gives its operators (the task implements it).
#include <cstdint>
#include <functional>

namespace weir::runtime {

/// Processing time and processing-time timers of a task. Called from the task's thread only;
/// callbacks run on it too, between records.
class ProcessingTimeService {
 public:
  virtual ~ProcessingTimeService() = default;
  virtual int64_t now() const = 0;
  /// Calls `callback(time)` once processing time reaches `time`.
  virtual void register_timer(int64_t time, std::function<void(int64_t)> callback) = 0;
};

}  // namespace weir::runtime
