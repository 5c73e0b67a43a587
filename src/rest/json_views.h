#pragma once
/// The REST API's JSON documents, built from job snapshots (Flink's field names where Flink has
/// them; docs/rest.md and src/rest/openapi.json describe every one).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rest/server.h"
#include "runtime/job_registry.h"

namespace weir::rest {

/// Rates of one subtask over a sampling interval (per second).
struct TaskRates {
  double records_in = 0;
  double records_out = 0;
  double bytes_in = 0;
  double bytes_out = 0;
  double busy_ms = 0;           ///< ms per second, 0..1000
  double idle_ms = 0;
  double backpressured_ms = 0;
};
/// Rates between two readings of a task `seconds` apart (`prev` zero: since it started).
TaskRates compute_rates(const TaskMetrics& cur, const TaskMetrics& prev, double seconds);
/// Flink's thresholds on the backpressured share of time: "high" above 0.5, "low" above 0.1.
const char* backpressure_level(double backpressured_ms_per_second);

/// A job graph vertex as the API names it (32 hex digits, stable for the job).
std::string vertex_id(const runtime::JobSnapshot& job, int vertex);

/// The vertices of a job (index, name, parallelism) and its edges, read from its plan.
struct PlanVertex {
  int index = 0;
  std::string name;
  int parallelism = 1;
  std::vector<std::string> operators;
};
struct PlanEdge {
  int from = 0;
  int to = 0;
  int input = 0;
  std::string partition;
  std::string side_output;
};
struct Plan {
  std::vector<PlanVertex> vertices;
  std::vector<PlanEdge> edges;
};
Plan parse_plan(const std::string& plan_json);

nlohmann::json overview_json(const std::vector<runtime::JobSnapshot>& jobs, const std::vector<WorkerSnapshot>& workers,
                             const std::string& version);
nlohmann::json job_overview_json(const runtime::JobSnapshot& job);
nlohmann::json job_details_json(const runtime::JobSnapshot& job, const std::vector<TaskRates>& rates);
std::optional<nlohmann::json> vertex_details_json(const runtime::JobSnapshot& job, const std::vector<TaskRates>& rates,
                                                  const std::string& vid);
std::optional<nlohmann::json> vertex_watermarks_json(const runtime::JobSnapshot& job, const std::string& vid);
nlohmann::json watermarks_json(const runtime::JobSnapshot& job, int64_t now_ms);
nlohmann::json checkpoints_json(const runtime::JobSnapshot& job);
nlohmann::json exceptions_json(const runtime::JobSnapshot& job);
nlohmann::json taskmanagers_json(const std::vector<WorkerSnapshot>& workers, int64_t now_ms);

}  // namespace weir::rest
