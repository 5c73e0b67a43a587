#include "rest/prometheus.h"

#include <limits>
#include <map>

#include <fmt/format.h>

namespace weir::rest {

std::string prometheus_escape(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

/// Samples grouped by metric family, so each family's HELP and TYPE come once.
class Families {
 public:
  void add(const std::string& name, const char* type, const char* help, const std::string& labels, double value) {
    auto& f = families_[name];
    if (f.type.empty()) {
      f.type = type;
      f.help = help;
    }
    f.lines += fmt::format("{}{{{}}} {}\n", name, labels, format(value));
  }
  std::string text() const {
    std::string out;
    for (const auto& [name, f] : families_) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
      out += f.lines;
    }
    return out;
  }

 private:
  static std::string format(double v) {
    if (v == static_cast<double>(static_cast<int64_t>(v))) return std::to_string(static_cast<int64_t>(v));
    return fmt::format("{:.6g}", v);
  }
  struct Family {
    std::string type;
    std::string help;
    std::string lines;
  };
  std::map<std::string, Family> families_;
};

constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();

}  // namespace

std::string prometheus_text(const std::vector<std::pair<runtime::JobSnapshot, std::vector<TaskRates>>>& jobs, int64_t now) {
  Families f;
  for (const auto& [j, rates] : jobs) {
    const std::string jl = fmt::format("job_id=\"{}\",job_name=\"{}\"", prometheus_escape(j.id), prometheus_escape(j.name));
    for (const char* s : {"CREATED", "RUNNING", "FAILING", "FAILED", "CANCELLING", "CANCELED", "FINISHED", "RESTARTING"}) {
      f.add("weir_job_status", "gauge", "1 for the job's current state", jl + fmt::format(",state=\"{}\"", s),
            std::string(weir::to_string(j.status)) == s ? 1 : 0);
    }
    f.add("weir_job_restarts_total", "counter", "Restarts after failures", jl, j.restarts);
    f.add("weir_job_checkpoints_completed_total", "counter", "Completed checkpoints", jl, static_cast<double>(j.checkpoints.completed));
    f.add("weir_job_checkpoints_failed_total", "counter", "Failed checkpoints", jl, static_cast<double>(j.checkpoints.failed));
    f.add("weir_job_checkpoint_last_duration_ms", "gauge", "Trigger to completion of the newest checkpoint or savepoint", jl,
          static_cast<double>(j.checkpoints.last_duration_ms));
    f.add("weir_job_checkpoint_last_size_bytes", "gauge", "Bytes written by the newest checkpoint or savepoint", jl,
          static_cast<double>(j.checkpoints.last_size_bytes));
    for (std::size_t i = 0; i < j.tasks.size(); ++i) {
      const auto& t = j.tasks[i];
      const TaskRates r = i < rates.size() ? rates[i] : TaskRates{};
      const std::string tl = jl + fmt::format(",task=\"{}\",subtask=\"{}\"", prometheus_escape(t.task_name), t.subtask);
      f.add("weir_task_records_in_total", "counter", "Records a task consumed from its input channels", tl, static_cast<double>(t.records_in));
      f.add("weir_task_records_out_total", "counter", "Records a source task emitted", tl, static_cast<double>(t.records_out));
      f.add("weir_task_bytes_in_total", "counter", "Bytes a task consumed from its input channels", tl, static_cast<double>(t.bytes_in));
      f.add("weir_task_bytes_out_total", "counter", "Bytes a task sent to its output channels", tl, static_cast<double>(t.bytes_out));
      f.add("weir_task_records_in_per_second", "gauge", "Records consumed per second (last second)", tl, r.records_in);
      f.add("weir_task_records_out_per_second", "gauge", "Records emitted per second (last second)", tl, r.records_out);
      f.add("weir_task_busy_ratio", "gauge", "Share of the last second the task was busy", tl, r.busy_ms / 1000.0);
      f.add("weir_task_idle_ratio", "gauge", "Share of the last second the task was idle", tl, r.idle_ms / 1000.0);
      f.add("weir_task_backpressured_ratio", "gauge", "Share of the last second the task waited for room downstream", tl,
            r.backpressured_ms / 1000.0);
      f.add("weir_task_backpressured_total", "counter", "Times the task parked because an output was full", tl,
            static_cast<double>(t.backpressured_count));
      const int64_t wm = t.inputs.empty() ? t.output_watermark : t.input_watermark;
      if (wm != kNoWatermark && wm != std::numeric_limits<int64_t>::max()) {
        f.add("weir_task_watermark_ms", "gauge", "The task's current event time (input watermark; a source's output)", tl,
              static_cast<double>(wm));
        f.add("weir_task_watermark_lag_ms", "gauge", "Wall clock minus the task's watermark", tl, static_cast<double>(now - wm));
      }
      if (t.state_memory_bytes > 0 || t.state_disk_bytes > 0) {
        f.add("weir_task_state_memory_bytes", "gauge", "Memory the task's RocksDB state holds", tl, static_cast<double>(t.state_memory_bytes));
        f.add("weir_task_state_disk_bytes", "gauge", "Bytes of the task's live RocksDB files", tl, static_cast<double>(t.state_disk_bytes));
      }
      for (const auto& [key, value] : t.operator_metrics) {
        // "<operator>.<metric>"; the operator's name may hold dots too: the metric is the part
        // after the operator's, which connectors name without spaces.
        std::string op, metric = key;
        const auto lag = key.rfind(".lag");
        const auto part = key.find(".partition.");
        if (part != std::string::npos && lag == key.size() - 4) {
          op = key.substr(0, part);
          const std::string tp = key.substr(part + 11, lag - part - 11);
          f.add("weir_kafka_consumer_lag", "gauge", "Records between a Kafka partition's high watermark and the reader's position",
                tl + fmt::format(",operator=\"{}\",topic_partition=\"{}\"", prometheus_escape(op), prometheus_escape(tp)),
                static_cast<double>(value));
          continue;
        }
        bool bad = false;
        for (const char* suffix : {".bad_records_skipped", ".bad_records_dead_lettered"}) {
          const std::string sfx = suffix;
          if (key.size() > sfx.size() && key.compare(key.size() - sfx.size(), sfx.size(), sfx) == 0) {
            op = key.substr(0, key.size() - sfx.size());
            f.add("weir_bad_records_total", "counter", "Malformed records a source skipped or dead-lettered",
                  tl + fmt::format(",operator=\"{}\",policy=\"{}\"", prometheus_escape(op),
                                   sfx == ".bad_records_skipped" ? "skip" : "dead_letter"),
                  static_cast<double>(value));
            bad = true;
          }
        }
        if (bad) continue;
        f.add("weir_operator_metric", "untyped", "An operator's own counters and gauges (its MetricGroup)",
              tl + fmt::format(",metric=\"{}\"", prometheus_escape(metric)), static_cast<double>(value));
      }
    }
  }
  return f.text();
}

}  // namespace weir::rest
