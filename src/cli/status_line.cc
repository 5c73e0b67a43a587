#include "status_line.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "weir/api/job.hpp"

namespace weir::cli {

namespace {

constexpr double kTerminalRefreshS = 0.5;

bool has_watermark(int64_t wm) {
  return wm != std::numeric_limits<int64_t>::min() && wm != std::numeric_limits<int64_t>::max();
}

}  // namespace

JobShape JobShape::from_plan_json(std::string_view plan) {
  JobShape shape;
  const auto j = nlohmann::json::parse(plan, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("vertices") || !j["vertices"].is_array()) return shape;
  try {
    std::map<int64_t, std::string> names;
    for (const auto& v : j["vertices"]) names[v.at("id").get<int64_t>()] = v.at("name").get<std::string>();
    std::set<int64_t> with_outputs;
    if (j.contains("edges")) {
      for (const auto& e : j["edges"]) with_outputs.insert(e.at("from").get<int64_t>());
    }
    for (const auto& [id, name] : names) {
      if (!with_outputs.count(id)) shape.last_tasks.insert(name);
    }
    shape.known = !names.empty();
  } catch (const nlohmann::json::exception&) {
    return JobShape{};
  }
  return shape;
}

StatusTotals totals_of(const std::vector<TaskMetrics>& tasks, const JobShape& shape) {
  StatusTotals t;
  uint64_t out = 0;
  for (const auto& m : tasks) {
    t.in += m.records_out;  // only sources emit records of their own
    if (shape.known && shape.last_tasks.count(m.task_name)) out += m.records_in + m.records_out;
    if (has_watermark(m.output_watermark)) {
      t.min_watermark = t.min_watermark ? std::min(*t.min_watermark, m.output_watermark) : m.output_watermark;
    }
  }
  if (shape.known) t.out = out;
  return t;
}

std::string format_rate(double r) {
  if (!(r > 0)) return "0/s";
  if (r < 1000) return fmt::format("{:.0f}/s", r);
  if (r < 1e6) return fmt::format("{:.1f}k/s", r / 1e3);
  if (r < 1e9) return fmt::format("{:.2f}M/s", r / 1e6);
  return fmt::format("{:.2f}G/s", r / 1e9);
}

std::string format_duration_ms(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  const int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string format_bytes(uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n) / 1024.0;
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string format_status(const StatusSample* previous, const StatusSample& current, const JobShape& shape) {
  const StatusTotals now = totals_of(current.tasks, shape);
  std::optional<StatusTotals> before;
  double secs = 0;
  if (previous != nullptr) {
    before = totals_of(previous->tasks, shape);
    secs = current.at_s - previous->at_s;
  }
  // Records since `previous` (all of them when the counter went down: new tasks after a restart).
  auto delta = [](uint64_t cur, std::optional<uint64_t> prev) { return prev && cur >= *prev ? cur - *prev : cur; };
  auto rate = [&](uint64_t cur, std::optional<uint64_t> prev) -> std::string {
    if (!before || secs <= 0) return "—";
    return format_rate(static_cast<double>(delta(cur, prev)) / secs);
  };
  std::string line = current.state.empty() ? std::string("UNKNOWN") : current.state;
  line += "  in " + rate(now.in, before ? std::optional<uint64_t>(before->in) : std::nullopt);
  line += "  out ";
  if (now.out) {
    line += rate(*now.out, before ? before->out : std::nullopt);
  } else {
    line += "—";
  }
  line += "  lag ";
  line += now.min_watermark ? format_duration_ms(current.wall_ms - *now.min_watermark) : std::string("—");
  line += "  checkpoints ";
  if (current.checkpoints > 0) {
    line += fmt::format("{} (last {}", current.checkpoints, format_duration_ms(current.last_checkpoint_ms));
    if (current.last_checkpoint_bytes >= 0) line += ", " + format_bytes(static_cast<uint64_t>(current.last_checkpoint_bytes));
    line += ")";
  } else {
    line += "—";
  }
  line += fmt::format("  restarts {}", current.restarts);
  return line;
}

StatusOptions status_options(bool quiet, double interval_s, int fd) {
  StatusOptions o;
  o.interval_s = interval_s > 0 ? interval_s : 10;
  if (quiet) {
    o.mode = StatusMode::off;
  } else {
    o.mode = ::isatty(fd) ? StatusMode::terminal : StatusMode::plain;
  }
  return o;
}

StatusOptions status_options_from_env(int fd) {
  const char* v = std::getenv("WEIR_STATUS");
  if (v != nullptr && std::string_view(v) == "off") return status_options(true, 10, fd);
  double interval = 10;
  if (v != nullptr && *v != '\0') {
    char* end = nullptr;
    const double d = std::strtod(v, &end);
    if (end != v && d > 0) interval = d;
  }
  return status_options(false, interval, fd);
}

double monotonic_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

StatusSample sample_of(const JobClient& client) {
  StatusSample s;
  s.at_s = monotonic_s();
  s.wall_ms = wall_clock_ms();
  s.state = to_string(client.get_job_status());
  s.restarts = client.get_restart_count();
  s.tasks = client.metrics();
  const auto cs = client.get_checkpoint_stats();
  s.checkpoints = cs.completed;
  s.last_checkpoint_ms = cs.last_duration_ms;
  s.last_checkpoint_bytes = cs.last_size_bytes;
  return s;
}

// ---- StatusPrinter -----------------------------------------------------------------------------

StatusPrinter::StatusPrinter(StatusOptions options, JobShape shape, std::FILE* out)
    : options_(options), shape_(std::move(shape)), out_(out) {
  next_due_s_ = now_s() + (options_.mode == StatusMode::terminal ? kTerminalRefreshS : options_.interval_s);
}

double StatusPrinter::now_s() const { return monotonic_s(); }

void StatusPrinter::tick(const Sampler& sample) {
  if (!enabled() || finished_) return;
  const double now = now_s();
  if (!first_) {
    // The baseline the first rates (and the last line's averages) count from.
    if (auto s = sample()) first_ = previous_ = std::move(*s);
    return;
  }
  if (now < next_due_s_) return;
  next_due_s_ = now + (options_.mode == StatusMode::terminal ? kTerminalRefreshS : options_.interval_s);
  auto s = sample();
  if (!s) return;
  print(*s, &*previous_, false);
  previous_ = std::move(*s);
}

void StatusPrinter::finish(const Sampler& sample) {
  if (!enabled() || finished_) return;
  finished_ = true;
  auto s = sample();
  if (!s) {
    break_line();
    return;
  }
  print(*s, first_ ? &*first_ : nullptr, true);
}

void StatusPrinter::break_line() {
  if (line_open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    line_open_ = false;
  }
}

void StatusPrinter::print(const StatusSample& s, const StatusSample* previous, bool last) {
  const std::string line = format_status(previous, s, shape_);
  if (options_.mode == StatusMode::terminal) {
    // '\r', the line, then erase what a longer earlier line left to its right.
    std::fprintf(out_, "\r%s\x1b[K%s", line.c_str(), last ? "\n" : "");
    line_open_ = !last;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

// ---- StatusThread ------------------------------------------------------------------------------

StatusThread::StatusThread(StatusOptions options, JobShape shape, Sampler sample, std::function<bool()> done, std::FILE* out)
    : printer_(options, std::move(shape), out), sample_(std::move(sample)), done_(std::move(done)) {
  if (printer_.enabled()) thread_ = std::thread([this] { run(); });
}

StatusThread::~StatusThread() { stop(); }

void StatusThread::run() {
  auto safe_sample = [this]() -> std::optional<StatusSample> {
    try {
      return sample_();
    } catch (const std::exception&) {
      return std::nullopt;  // a metrics read that failed: no line this time
    }
  };
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const bool done = done_();
    if (done) {
      printer_.finish(safe_sample);
      lock.lock();
      break;
    }
    printer_.tick(safe_sample);
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping_; });
  }
  if (stopping_) {
    lock.unlock();
    printer_.finish(safe_sample);
  }
}

void StatusThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace weir::cli
