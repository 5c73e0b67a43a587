#pragma once
/// The live status line of `weir run`, `weir submit` and `weir demo`: records/s in and out,
/// watermark lag, the last checkpoint, the job's state and restarts.
///
/// What the fields mean (docs/cli.md says the same to users):
/// - in: records the job's sources emitted per second, summed over their subtasks.
/// - out: records per second that reached the job's last tasks (the tasks no edge leaves: the
///   ones holding its sinks), summed over their subtasks; a last task that is itself a source
///   (a source chained to its sink) counts the records it emits. It counts what enters the
///   last task, so a filter chained in front of a sink counts records before filtering.
///   "—" when the job's shape is unknown.
/// - lag: wall clock minus the smallest output watermark of the job's tasks that have one
///   (tasks whose input ended, with the final watermark, do not count); "—" when none has one.
/// - checkpoint: completed checkpoints, the duration and size of the newest one.
///
/// `format_status` is a pure function of two samples; `StatusPrinter` decides when to print
/// (about twice a second refreshed in place with '\r' on a terminal, a plain line every N seconds
/// otherwise, nothing when quiet); `StatusThread` runs one on a thread of its own.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "weir/runtime/execution.hpp"

namespace weir {
class JobClient;
}

namespace weir::cli {

/// What the status line shows of a job at one moment.
struct StatusSample {
  double at_s = 0;      ///< a monotonic clock, in seconds (rates are per second of it)
  int64_t wall_ms = 0;  ///< the wall clock, ms since the epoch (for the watermark lag)
  std::string state;    ///< RUNNING, RESTARTING, FINISHED, ...
  int restarts = 0;
  std::vector<TaskMetrics> tasks;
  int64_t checkpoints = 0;             ///< completed checkpoints
  int64_t last_checkpoint_ms = 0;      ///< duration of the newest completed one
  int64_t last_checkpoint_bytes = -1;  ///< its size; -1: not known (cluster jobs)
};

/// The job's shape, as far as the status line needs it.
struct JobShape {
  std::set<std::string> last_tasks;  ///< names of the tasks no edge leaves
  bool known = false;                ///< false: "out" shows "—"

  /// From a job graph's JSON (`get_execution_plan()`, a cluster job's plan_json); unknown when
  /// it cannot be read.
  static JobShape from_plan_json(std::string_view plan);
};

/// The sums over a job's tasks.
struct StatusTotals {
  uint64_t in = 0;
  std::optional<uint64_t> out;
  std::optional<int64_t> min_watermark;
};
StatusTotals totals_of(const std::vector<TaskMetrics>& tasks, const JobShape& shape);

/// The line (no '\r', no newline) for `current`; rates are over the time since `previous`
/// (none: no rates yet). Counters that went down (a restart made new tasks) count from zero.
std::string format_status(const StatusSample* previous, const StatusSample& current, const JobShape& shape);

/// "850/s", "12.3k/s", "1.23M/s".
std::string format_rate(double per_second);
/// "850 ms", "12.3 s", "4m05s", "3h07m", "2d04h".
std::string format_duration_ms(int64_t ms);
/// "700 B", "1.2 KiB", "3.4 MiB".
std::string format_bytes(uint64_t n);

enum class StatusMode { off, terminal, plain };

struct StatusOptions {
  StatusMode mode = StatusMode::off;
  double interval_s = 10;  ///< between plain lines; a terminal refreshes every 0.5 s
};
/// Off when quiet, else terminal when `fd` is one, else plain lines every `interval_s`.
StatusOptions status_options(bool quiet, double interval_s, int fd = 2);
/// From WEIR_STATUS ("off", or the plain-line interval in seconds; default 10), for `fd`.
StatusOptions status_options_from_env(int fd = 2);

using Sampler = std::function<std::optional<StatusSample>()>;

/// Prints status lines when they are due. Not thread-safe: one thread calls it.
class StatusPrinter {
 public:
  StatusPrinter(StatusOptions options, JobShape shape, std::FILE* out = stderr);
  bool enabled() const { return options_.mode != StatusMode::off; }
  void set_shape(JobShape shape) { shape_ = std::move(shape); }
  /// Samples and prints when a line is due; cheap otherwise. A sampler may return nothing
  /// (not available yet, or an error it logged): then nothing is printed.
  void tick(const Sampler& sample);
  /// Prints the last line (rates averaged over the whole run), ending it with a newline.
  /// Once; later calls do nothing.
  void finish(const Sampler& sample);
  /// Ends a line refreshed in place (before other output); nothing in plain mode.
  void break_line();

 private:
  void print(const StatusSample& s, const StatusSample* previous, bool last);
  double now_s() const;

  StatusOptions options_;
  JobShape shape_;
  std::FILE* out_;
  double next_due_s_ = 0;
  std::optional<StatusSample> first_;
  std::optional<StatusSample> previous_;
  bool line_open_ = false;
  bool finished_ = false;
};

/// A StatusPrinter on a thread of its own (for jobs whose caller waits elsewhere: Python).
/// It ends by itself, with the last line, once `done()` is true; `stop()` ends it sooner.
class StatusThread {
 public:
  StatusThread(StatusOptions options, JobShape shape, Sampler sample, std::function<bool()> done,
               std::FILE* out = stderr);
  ~StatusThread();
  StatusThread(const StatusThread&) = delete;
  StatusThread& operator=(const StatusThread&) = delete;
  /// Prints the last line (unless printed) and joins the thread. Idempotent.
  void stop();

 private:
  void run();

  StatusPrinter printer_;
  Sampler sample_;
  std::function<bool()> done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

/// A sample of a job running in this process.
StatusSample sample_of(const JobClient& client);
/// Seconds of a monotonic clock; milliseconds of the wall clock.
double monotonic_s();
int64_t wall_clock_ms();

}  // namespace weir::cli
