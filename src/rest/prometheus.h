#pragma once
/// Prometheus' text exposition format (version 0.0.4) of the jobs' metrics.
#include <string>
#include <utility>
#include <vector>

#include "rest/json_views.h"
#include "runtime/job_registry.h"

namespace weir::rest {

/// Every metric of `jobs` (each with its tasks' rates), one family per metric name:
/// per task records/bytes in and out (totals and per second), busy/idle/backpressured shares,
/// watermarks and their lag behind `now_ms`; per job state, restarts and checkpoints; per
/// operator Kafka consumer lag, bad-record counts and the rest of its metric group.
std::string prometheus_text(const std::vector<std::pair<runtime::JobSnapshot, std::vector<TaskRates>>>& jobs, int64_t now_ms);

/// A label value escaped for the text format (backslash, double quote, newline).
std::string prometheus_escape(const std::string& value);

}  // namespace weir::rest
