#include "graph/job_graph.h"
#include "runtime/job_run.h"
#include "weir/api/job.hpp"

namespace weir {

JobClient::JobClient(std::shared_ptr<runtime::JobRun> run) : run_(std::move(run)) {}
JobClient::JobClient(JobClient&&) noexcept = default;
JobClient& JobClient::operator=(JobClient&&) noexcept = default;
JobClient::~JobClient() = default;  // the JobRun cancels and joins when the last owner goes

const std::string& JobClient::get_job_id() const { return run_->id(); }
JobStatus JobClient::get_job_status() const { return run_->status(); }
void JobClient::cancel() { run_->cancel(); }
JobExecutionResult JobClient::wait() { return run_->wait(); }
std::shared_future<JobExecutionResult> JobClient::get_job_execution_result() const { return run_->result_future(); }
std::vector<TaskMetrics> JobClient::metrics() const { return run_->metrics(); }
int JobClient::get_restart_count() const { return run_->restart_count(); }
std::size_t JobClient::peak_queued_bytes() const { return run_->channel_stats().peak.load(std::memory_order_relaxed); }
std::future<std::string> JobClient::trigger_savepoint(const std::string& dir) { return run_->trigger_savepoint(dir, false); }
std::future<std::string> JobClient::stop_with_savepoint(const std::string& dir) { return run_->trigger_savepoint(dir, true); }
std::future<std::string> JobClient::trigger_checkpoint() { return run_->trigger_checkpoint(); }
CheckpointStats JobClient::get_checkpoint_stats() const { return run_->checkpoint_stats(); }

namespace detail {

JobClient submit_job(EnvState& env, const std::string& job_name) {
  auto jg = graph::build_job_graph(env.graph, env.config, job_name);
  // The job runs the sinks declared since the last execute(); the environment keeps its graph,
  // so streams declared earlier can feed later jobs (Flink's behaviour).
  LogicalGraph taken = env.graph;
  for (auto& n : env.graph.nodes) {
    if (n->kind == LogicalNode::Kind::kSink) n->executed = true;
  }
  auto run = std::make_shared<runtime::JobRun>(std::move(taken), std::move(jg), env.config);
  run->start();
  return JobClient(std::move(run));
}

std::string execution_plan(const EnvState& env) {
  return graph::build_job_graph(env.graph, env.config, "plan").to_json();
}

}  // namespace detail
}  // namespace weir
