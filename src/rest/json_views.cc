#include "rest/json_views.h"

#include <algorithm>
#include <functional>
#include <limits>

#include <fmt/format.h>

namespace weir::rest {
using nlohmann::json;

namespace {

constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();

json watermark_value(int64_t wm) {
  if (wm == kNoWatermark) return nullptr;
  return wm;
}

std::string ship_strategy(const std::string& partition) {
  if (partition == "hash") return "HASH";
  if (partition == "forward") return "FORWARD";
  if (partition == "rebalance" || partition == "default") return "REBALANCE";
  if (partition == "shuffle") return "SHUFFLE";
  if (partition == "broadcast") return "BROADCAST";
  if (partition == "global") return "GLOBAL";
  if (partition == "custom") return "CUSTOM";
  return partition;
}

bool ended(const runtime::JobSnapshot& j) { return j.end_ms >= 0; }

std::string task_state(const runtime::JobSnapshot& j) {
  switch (j.status) {
    case JobStatus::finished: return "FINISHED";
    case JobStatus::canceled: return "CANCELED";
    case JobStatus::failed: return "FAILED";
    case JobStatus::canceling: return "CANCELING";
    case JobStatus::created: return "CREATED";
    default: return "RUNNING";
  }
}

json metrics_of(const TaskMetrics& t) {
  const int64_t busy = t.busy_ns / 1000000;
  const int64_t bp = t.backpressured_ns / 1000000;
  const int64_t idle = std::max<int64_t>(0, t.lifetime_ns / 1000000 - busy - bp);
  return json{{"read-bytes", t.bytes_in},
              {"read-bytes-complete", true},
              {"write-bytes", t.bytes_out},
              {"write-bytes-complete", true},
              {"read-records", t.records_in},
              {"read-records-complete", true},
              {"write-records", t.records_out},
              {"write-records-complete", true},
              {"accumulated-backpressured-time", bp},
              {"accumulated-idle-time", idle},
              {"accumulated-busy-time", busy}};
}

void add_metrics(json& into, const json& m) {
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it.value().is_number()) into[it.key()] = into.value(it.key(), int64_t{0}) + it.value().get<int64_t>();
    else into[it.key()] = it.value();
  }
}

json rates_json(const TaskRates& r) {
  return json{{"records-in-per-second", r.records_in},     {"records-out-per-second", r.records_out},
              {"bytes-in-per-second", r.bytes_in},         {"bytes-out-per-second", r.bytes_out},
              {"busy-ms-per-second", r.busy_ms},           {"idle-ms-per-second", r.idle_ms},
              {"backpressured-ms-per-second", r.backpressured_ms}};
}

/// The tasks of vertex `v`, by subtask (indexes into job.tasks).
std::vector<std::size_t> tasks_of(const runtime::JobSnapshot& job, int v) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < job.tasks.size(); ++i) {
    if (job.tasks[i].vertex == v) out.push_back(i);
  }
  std::sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) { return job.tasks[a].subtask < job.tasks[b].subtask; });
  return out;
}

/// The vertex whose 32-digit id is `vid`, or a plain index; -1 when none.
int find_vertex(const runtime::JobSnapshot& job, const Plan& plan, const std::string& vid) {
  for (const auto& v : plan.vertices) {
    if (vertex_id(job, v.index) == vid || std::to_string(v.index) == vid) return v.index;
  }
  return -1;
}

json task_counts(const runtime::JobSnapshot& job, std::size_t n) {
  json c{{"CREATED", 0}, {"SCHEDULED", 0}, {"DEPLOYING", 0}, {"RUNNING", 0}, {"FINISHED", 0},
         {"CANCELING", 0}, {"CANCELED", 0}, {"FAILED", 0}, {"RECONCILING", 0}, {"INITIALIZING", 0}};
  c[task_state(job)] = static_cast<int64_t>(n);
  return c;
}

/// The input watermark a subtask shows: a source's is what it emits.
int64_t shown_input_watermark(const TaskMetrics& t) { return t.inputs.empty() ? t.output_watermark : t.input_watermark; }

}  // namespace

TaskRates compute_rates(const TaskMetrics& cur, const TaskMetrics& prev, double seconds) {
  TaskRates r;
  if (seconds <= 0) return r;
  const auto d = [&](auto a, auto b) { return a >= b ? static_cast<double>(a - b) : 0.0; };
  r.records_in = d(cur.records_in, prev.records_in) / seconds;
  r.records_out = d(cur.records_out, prev.records_out) / seconds;
  r.bytes_in = d(cur.bytes_in, prev.bytes_in) / seconds;
  r.bytes_out = d(cur.bytes_out, prev.bytes_out) / seconds;
  const double life = d(cur.lifetime_ns, prev.lifetime_ns);
  const double busy = d(cur.busy_ns, prev.busy_ns);
  const double bp = d(cur.backpressured_ns, prev.backpressured_ns);
  if (life > 0) {
    r.busy_ms = std::min(1000.0, busy / life * 1000.0);
    r.backpressured_ms = std::min(1000.0 - r.busy_ms, bp / life * 1000.0);
    r.idle_ms = std::max(0.0, 1000.0 - r.busy_ms - r.backpressured_ms);
  }
  return r;
}

const char* backpressure_level(double bp) {
  if (bp > 500) return "high";
  if (bp > 100) return "low";
  return "ok";
}

std::string vertex_id(const runtime::JobSnapshot& job, int vertex) {
  const auto h = std::hash<std::string>{}(job.id + "/" + std::to_string(vertex));
  return fmt::format("{:016x}{:08x}{:08x}", h, 0x77656972u /* "weir" */, static_cast<unsigned>(vertex));
}

Plan parse_plan(const std::string& plan_json) {
  Plan p;
  if (plan_json.empty()) return p;
  const auto j = json::parse(plan_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return p;
  for (const auto& v : j.value("vertices", json::array())) {
    PlanVertex pv;
    pv.index = v.value("id", 0);
    pv.name = v.value("name", "");
    pv.parallelism = v.value("parallelism", 1);
    for (const auto& o : v.value("operators", json::array())) pv.operators.push_back(o.value("name", ""));
    p.vertices.push_back(std::move(pv));
  }
  for (const auto& e : j.value("edges", json::array())) {
    p.edges.push_back(PlanEdge{e.value("from", 0), e.value("to", 0), e.value("input", 0), e.value("partition", ""),
                               e.value("side_output", "")});
  }
  return p;
}

json overview_json(const std::vector<runtime::JobSnapshot>& jobs, const std::vector<WorkerSnapshot>& workers,
                   const std::string& version) {
  int running = 0, finished = 0, canceled = 0, failed = 0;
  for (const auto& j : jobs) {
    switch (j.status) {
      case JobStatus::finished: ++finished; break;
      case JobStatus::canceled: ++canceled; break;
      case JobStatus::failed: ++failed; break;
      default: ++running;
    }
  }
  int slots = 0, free_slots = 0;
  for (const auto& w : workers) {
    slots += w.slots;
    free_slots += w.free_slots;
  }
  return json{{"taskmanagers", workers.size()}, {"slots-total", slots},       {"slots-available", free_slots},
              {"jobs-running", running},        {"jobs-finished", finished},  {"jobs-cancelled", canceled},
              {"jobs-failed", failed},          {"flink-version", "weir " + version}, {"weir-version", version}};
}

json job_overview_json(const runtime::JobSnapshot& j) {
  const int64_t end = ended(j) ? j.end_ms : -1;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  int64_t modified = j.start_ms;
  for (const auto& [k, t] : j.timestamps) modified = std::max(modified, t);
  json tasks{{"total", j.tasks.size()}, {"created", 0}, {"scheduled", 0}, {"deploying", 0}, {"running", 0},
             {"finished", 0}, {"canceling", 0}, {"canceled", 0}, {"failed", 0}, {"reconciling", 0}, {"initializing", 0}};
  auto state = task_state(j);
  std::transform(state.begin(), state.end(), state.begin(), ::tolower);
  tasks[state] = j.tasks.size();
  return json{{"jid", j.id},
              {"name", j.name},
              {"state", weir::to_string(j.status)},
              {"start-time", j.start_ms},
              {"end-time", end},
              {"duration", (end >= 0 ? end : now) - j.start_ms},
              {"last-modification", modified},
              {"tasks", tasks},
              {"restarts", j.restarts}};
}

json job_details_json(const runtime::JobSnapshot& j, const std::vector<TaskRates>& rates) {
  const auto plan = parse_plan(j.plan_json);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t end = ended(j) ? j.end_ms : -1;
  json out{{"jid", j.id},
           {"name", j.name},
           {"isStoppable", false},
           {"state", weir::to_string(j.status)},
           {"job-type", "STREAMING"},
           {"start-time", j.start_ms},
           {"end-time", end},
           {"duration", (end >= 0 ? end : now) - j.start_ms},
           {"maxParallelism", j.max_parallelism},
           {"now", now},
           {"restarts", j.restarts},
           {"timestamps", j.timestamps}};
  json vertices = json::array();
  json nodes = json::array();
  json status_counts = task_counts(j, 0);
  for (const auto& v : plan.vertices) {
    const auto ts = tasks_of(j, v.index);
    json m = json::object();
    TaskRates sum;
    int64_t wm = kNoWatermark;
    bool any_wm = false;
    for (auto i : ts) {
      add_metrics(m, metrics_of(j.tasks[i]));
      if (i < rates.size()) {
        const auto& r = rates[i];
        sum.records_in += r.records_in;
        sum.records_out += r.records_out;
        sum.bytes_in += r.bytes_in;
        sum.bytes_out += r.bytes_out;
        sum.busy_ms = std::max(sum.busy_ms, r.busy_ms);
        sum.idle_ms = std::max(sum.idle_ms, r.idle_ms);
        sum.backpressured_ms = std::max(sum.backpressured_ms, r.backpressured_ms);
      }
      const int64_t w = shown_input_watermark(j.tasks[i]);
      wm = any_wm ? std::min(wm, w) : w;
      any_wm = true;
    }
    if (m.empty()) m = metrics_of(TaskMetrics{});
    const auto vid = vertex_id(j, v.index);
    const int n = ts.empty() ? v.parallelism : static_cast<int>(ts.size());
    status_counts[task_state(j)] = status_counts[task_state(j)].get<int64_t>() + n;
    vertices.push_back(json{{"id", vid},
                            {"name", v.name},
                            {"maxParallelism", j.max_parallelism},
                            {"parallelism", v.parallelism},
                            {"status", task_state(j)},
                            {"start-time", j.start_ms},
                            {"end-time", end},
                            {"duration", (end >= 0 ? end : now) - j.start_ms},
                            {"tasks", task_counts(j, static_cast<std::size_t>(n))},
                            {"metrics", m},
                            {"rates", rates_json(sum)},
                            {"backpressure-level", backpressure_level(sum.backpressured_ms)},
                            {"watermark", any_wm ? watermark_value(wm) : json(nullptr)}});
    json inputs = json::array();
    int num = 0;
    for (const auto& e : plan.edges) {
      if (e.to != v.index) continue;
      json in{{"num", num++}, {"id", vertex_id(j, e.from)}, {"ship_strategy", ship_strategy(e.partition)},
              {"exchange", "pipelined_bounded"}};
      if (!e.side_output.empty()) in["side_output"] = e.side_output;
      inputs.push_back(in);
    }
    std::string description;
    for (std::size_t k = 0; k < v.operators.size(); ++k) description += (k ? " -> " : "") + v.operators[k];
    json node{{"id", vid},
              {"parallelism", v.parallelism},
              {"operator", ""},
              {"operator_strategy", ""},
              {"description", description},
              {"optimizer_properties", json::object()}};
    if (!inputs.empty()) node["inputs"] = inputs;
    nodes.push_back(node);
  }
  out["vertices"] = vertices;
  out["status-counts"] = status_counts;
  out["plan"] = json{{"jid", j.id}, {"name", j.name}, {"type", "STREAMING"}, {"nodes", nodes}};
  return out;
}

std::optional<json> vertex_details_json(const runtime::JobSnapshot& j, const std::vector<TaskRates>& rates,
                                        const std::string& vid) {
  const auto plan = parse_plan(j.plan_json);
  const int v = find_vertex(j, plan, vid);
  if (v < 0) return std::nullopt;
  const auto& pv = *std::find_if(plan.vertices.begin(), plan.vertices.end(), [&](const PlanVertex& x) { return x.index == v; });
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t end = ended(j) ? j.end_ms : -1;
  json subtasks = json::array();
  for (auto i : tasks_of(j, v)) {
    const auto& t = j.tasks[i];
    const TaskRates r = i < rates.size() ? rates[i] : TaskRates{};
    subtasks.push_back(json{{"subtask", t.subtask},
                            {"status", task_state(j)},
                            {"attempt", j.restarts},
                            {"host", i < j.task_hosts.size() ? j.task_hosts[i] : "localhost"},
                            {"start-time", j.start_ms},
                            {"end-time", end},
                            {"duration", (end >= 0 ? end : now) - j.start_ms},
                            {"metrics", metrics_of(t)},
                            {"rates", rates_json(r)},
                            {"backpressure-level", backpressure_level(r.backpressured_ms)},
                            {"input-watermark", watermark_value(shown_input_watermark(t))},
                            {"output-watermark", watermark_value(t.output_watermark)},
                            {"operator-metrics", t.operator_metrics}});
  }
  return json{{"id", vertex_id(j, v)},     {"name", pv.name}, {"parallelism", pv.parallelism},
              {"maxParallelism", j.max_parallelism}, {"now", now}, {"subtasks", subtasks}};
}

std::optional<json> vertex_watermarks_json(const runtime::JobSnapshot& j, const std::string& vid) {
  const auto plan = parse_plan(j.plan_json);
  const int v = find_vertex(j, plan, vid);
  if (v < 0) return std::nullopt;
  json out = json::array();
  for (auto i : tasks_of(j, v)) {
    const auto& t = j.tasks[i];
    const int64_t wm = shown_input_watermark(t);
    // Flink writes the value as a string; no watermark yet is Long.MIN_VALUE.
    out.push_back(json{{"id", std::to_string(t.subtask) + ".currentInputWatermark"}, {"value", std::to_string(wm)}});
  }
  return out;
}

json watermarks_json(const runtime::JobSnapshot& j, int64_t now) {
  const auto plan = parse_plan(j.plan_json);
  json vertices = json::array();
  for (const auto& v : plan.vertices) {
    json subtasks = json::array();
    for (auto i : tasks_of(j, v.index)) {
      const auto& t = j.tasks[i];
      const int64_t in_wm = shown_input_watermark(t);
      json inputs = json::array();
      for (std::size_t k = 0; k < t.inputs.size(); ++k) {
        const auto& c = t.inputs[k];
        std::string upstream_name;
        for (const auto& u : plan.vertices) {
          if (u.index == c.upstream_vertex) upstream_name = u.name;
        }
        inputs.push_back(json{{"index", k},
                              {"input", c.input},
                              {"upstream-id", c.upstream_vertex >= 0 ? json(vertex_id(j, c.upstream_vertex)) : json(nullptr)},
                              {"upstream-name", upstream_name},
                              {"upstream-subtask", c.upstream_subtask},
                              {"watermark", watermark_value(c.watermark)},
                              {"idle", c.idle},
                              {"ended", c.ended},
                              {"holding", static_cast<int>(k) == t.watermark_holding_channel}});
      }
      json holding = t.watermark_holding_channel >= 0 && static_cast<std::size_t>(t.watermark_holding_channel) < t.inputs.size()
                         ? json(t.watermark_holding_channel)
                         : json(nullptr);
      subtasks.push_back(json{{"subtask", t.subtask},
                              {"input-watermark", watermark_value(in_wm)},
                              {"output-watermark", watermark_value(t.output_watermark)},
                              {"lag-ms", in_wm == kNoWatermark || in_wm == std::numeric_limits<int64_t>::max()
                                             ? json(nullptr)
                                             : json(now - in_wm)},
                              {"holding-input", holding},
                              {"inputs", inputs}});
    }
    vertices.push_back(json{{"id", vertex_id(j, v.index)}, {"name", v.name}, {"subtasks", subtasks}});
  }
  return json{{"now", now}, {"vertices", vertices}};
}

namespace {
json checkpoint_entry(const checkpoint::CheckpointRecord& r) {
  json e{{"id", r.id},
         {"status", checkpoint::to_string(r.status)},
         {"is_savepoint", r.savepoint},
         {"savepointFormat", r.savepoint ? json("CANONICAL") : json(nullptr)},
         {"checkpoint_type", r.savepoint ? "SAVEPOINT" : "CHECKPOINT"},
         {"trigger_timestamp", r.trigger_ms},
         {"latest_ack_timestamp", r.latest_ack_ms},
         {"state_size", r.size_bytes},
         {"checkpointed_size", r.size_bytes},
         {"end_to_end_duration", r.duration_ms},
         {"alignment_duration", r.alignment_ms},
         {"alignment_buffered", 0},
         {"processed_data", 0},
         {"persisted_data", 0},
         {"num_subtasks", r.num_subtasks},
         {"num_acknowledged_subtasks", r.num_acknowledged},
         {"external_path", r.path.empty() ? json(nullptr) : json(r.path)},
         {"discarded", false}};
  if (r.status == checkpoint::CheckpointRecord::Status::failed) {
    e["failure_message"] = r.failure;
    e["failure_timestamp"] = r.latest_ack_ms;
  }
  return e;
}

json min_max_avg(const std::vector<int64_t>& xs) {
  if (xs.empty()) return json{{"min", 0}, {"max", 0}, {"avg", 0}};
  int64_t lo = xs[0], hi = xs[0], sum = 0;
  for (auto x : xs) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
  }
  return json{{"min", lo}, {"max", hi}, {"avg", sum / static_cast<int64_t>(xs.size())}};
}
}  // namespace

json checkpoints_json(const runtime::JobSnapshot& j) {
  using S = checkpoint::CheckpointRecord::Status;
  int64_t in_progress = 0;
  std::vector<int64_t> sizes, durations, alignments;
  json latest_completed = nullptr, latest_savepoint = nullptr, latest_failed = nullptr;
  json history = json::array();
  for (const auto& r : j.checkpoint_history) {  // newest first
    if (r.status == S::in_progress) ++in_progress;
    if (r.status == S::completed) {
      sizes.push_back(r.size_bytes);
      durations.push_back(r.duration_ms);
      alignments.push_back(r.alignment_ms);
      if (r.savepoint && latest_savepoint.is_null()) latest_savepoint = checkpoint_entry(r);
      if (!r.savepoint && latest_completed.is_null()) latest_completed = checkpoint_entry(r);
    }
    if (r.status == S::failed && latest_failed.is_null()) latest_failed = checkpoint_entry(r);
    history.push_back(checkpoint_entry(r));
  }
  json restored = nullptr;
  if (j.checkpoints.restored_checkpoint_id >= 0) {
    restored = json{{"id", j.checkpoints.restored_checkpoint_id},
                    {"restore_timestamp", j.start_ms},
                    {"is_savepoint", j.checkpoints.restored_path.find("chk-") == std::string::npos},
                    {"external_path", j.checkpoints.restored_path}};
  }
  const int64_t completed = j.checkpoints.completed;
  const int64_t failed = j.checkpoints.failed;
  return json{{"counts",
               {{"restored", j.checkpoints.restored_checkpoint_id >= 0 ? 1 : 0},
                {"total", completed + failed + in_progress},
                {"in_progress", in_progress},
                {"completed", completed},
                {"failed", failed}}},
              {"summary",
               {{"state_size", min_max_avg(sizes)},
                {"checkpointed_size", min_max_avg(sizes)},
                {"end_to_end_duration", min_max_avg(durations)},
                {"alignment_duration", min_max_avg(alignments)}}},
              {"latest",
               {{"completed", latest_completed}, {"savepoint", latest_savepoint}, {"failed", latest_failed}, {"restored", restored}}},
              {"history", history}};
}

json exceptions_json(const runtime::JobSnapshot& j) {
  json entries = json::array();
  for (auto it = j.exceptions.rbegin(); it != j.exceptions.rend(); ++it) {
    entries.push_back(json{{"exceptionName", "weir.JobFailure"},
                           {"stacktrace", it->message},
                           {"timestamp", it->timestamp_ms},
                           {"taskName", it->task.empty() ? json(nullptr) : json(it->task)},
                           {"location", "localhost"},
                           {"failureLabels", json::object()},
                           {"concurrentExceptions", json::array()}});
  }
  json root = nullptr, ts = nullptr;
  if (!j.exceptions.empty()) {
    root = j.exceptions.back().message;
    ts = j.exceptions.back().timestamp_ms;
  }
  return json{{"root-exception", root},
              {"timestamp", ts},
              {"all-exceptions", json::array()},
              {"truncated", false},
              {"exceptionHistory", {{"entries", entries}, {"truncated", false}}}};
}

json taskmanagers_json(const std::vector<WorkerSnapshot>& workers, int64_t now) {
  json tms = json::array();
  for (const auto& w : workers) {
    tms.push_back(json{{"id", w.id},
                       {"path", w.host},
                       {"dataPort", -1},
                       {"jmxPort", -1},
                       {"timeSinceLastHeartbeat", std::max<int64_t>(0, now - w.last_heartbeat_ms)},
                       {"slotsNumber", w.slots},
                       {"freeSlots", w.free_slots},
                       {"hardware",
                        {{"cpuCores", w.cpu_cores},
                         {"physicalMemory", w.physical_memory},
                         {"freeMemory", w.free_memory},
                         {"managedMemory", 0}}}});
  }
  return json{{"taskmanagers", tms}};
}

}  // namespace weir::rest
