#include "api/job_handle.h"
#include "graph/job_graph.h"
#include "runtime/job_run.h"
#include "weir/api/job.hpp"

namespace weir {

namespace detail {
namespace {

/// A job running in this process.
class LocalJob final : public JobHandle {
 public:
  explicit LocalJob(std::shared_ptr<runtime::JobRun> run) : run_(std::move(run)) {}
  const std::string& id() const override { return run_->id(); }
  JobStatus status() const override { return run_->status(); }
  void cancel() override { run_->cancel(); }
  JobExecutionResult wait() override { return run_->wait(); }
  std::shared_future<JobExecutionResult> result_future() const override { return run_->result_future(); }
  std::vector<TaskMetrics> metrics() const override { return run_->metrics(); }
  int restart_count() const override { return run_->restart_count(); }
  std::size_t peak_queued_bytes() const override { return run_->channel_stats().peak.load(std::memory_order_relaxed); }
  std::future<std::string> trigger_savepoint(const std::string& dir, bool stop) override {
    return run_->trigger_savepoint(dir, stop);
  }
  std::future<std::string> trigger_checkpoint() override { return run_->trigger_checkpoint(); }
  CheckpointStats checkpoint_stats() const override { return run_->checkpoint_stats(); }

 private:
  std::shared_ptr<runtime::JobRun> run_;
};

ClusterSubmit& cluster_submit() {
  static ClusterSubmit hook;
  return hook;
}

}  // namespace

void set_cluster_submit(ClusterSubmit hook) { cluster_submit() = std::move(hook); }

}  // namespace detail

JobClient::JobClient(std::shared_ptr<runtime::JobRun> run) : run_(std::make_shared<detail::LocalJob>(std::move(run))) {}
JobClient::JobClient(std::shared_ptr<detail::JobHandle> job) : run_(std::move(job)) {}
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
std::size_t JobClient::peak_queued_bytes() const { return run_->peak_queued_bytes(); }
std::future<std::string> JobClient::trigger_savepoint(const std::string& dir) { return run_->trigger_savepoint(dir, false); }
std::future<std::string> JobClient::stop_with_savepoint(const std::string& dir) { return run_->trigger_savepoint(dir, true); }
std::future<std::string> JobClient::trigger_checkpoint() { return run_->trigger_checkpoint(); }
CheckpointStats JobClient::get_checkpoint_stats() const { return run_->checkpoint_stats(); }

namespace detail {

JobClient submit_job(EnvState& env, const std::string& job_name) {
  if (const auto& hook = cluster_submit()) {
    if (auto client = hook(env, job_name)) return std::move(*client);
  }
  auto jg = graph::build_job_graph(env.graph, env.config, job_name);
  // The job runs the sinks declared since the last execute(); the environment keeps its graph,
  // so streams declared earlier can feed later jobs (Flink's behaviour).
  LogicalGraph taken = env.graph;
  for (auto& n : env.graph.nodes) {
    if (n->kind == LogicalNode::Kind::kSink) n->executed = true;
  }
  auto run = std::make_shared<runtime::JobRun>(std::move(taken), std::move(jg), env.config);
  run->start();
  run->set_registered();
  runtime::JobRegistry::instance().add(run);
  return JobClient(std::move(run));
}

std::string execution_plan(const EnvState& env) {
  return graph::build_job_graph(env.graph, env.config, "plan").to_json();
}

}  // namespace detail
}  // namespace weir
