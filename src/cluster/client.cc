#include "cluster/client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/job_handle.h"
#include "cluster/cluster.grpc.pb.h"
#include "cluster/codec.h"
#include "cluster/job_process.h"
#include "cluster/session.h"
#include "graph/job_graph.h"
#include "runtime/job_id.h"
#include "runtime/job_run.h"

namespace weir::cluster {

struct ClusterClient::Impl {
  std::vector<std::string> addresses;
  std::string secret;
  std::size_t current = 0;
  std::vector<std::unique_ptr<rpc::Coordinator::Stub>> stubs;
  std::chrono::milliseconds patience{30000};

  /// Calls `f` on the leading coordinator: on UNAVAILABLE (down, or a standby) the next one.
  template <class F>
  void call(const char* what, F&& f) {
    grpc::Status last;
    // A new leader may take a few heartbeat timeouts to be elected: keep asking meanwhile.
    const auto until = std::chrono::steady_clock::now() + patience;
    for (int round = 0; round == 0 || std::chrono::steady_clock::now() < until; ++round) {
      for (std::size_t k = 0; k < stubs.size(); ++k) {
        const std::size_t i = (current + k) % stubs.size();
        last = f(*stubs[i]);
        if (last.ok()) {
          current = i;
          return;
        }
        // Down, a standby, or unreachable (a cut-off host answers nothing): try the next one.
        if (last.error_code() != grpc::StatusCode::UNAVAILABLE && last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
          throw JobFailure(std::string(what) + ": " + last.error_message());
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    std::string list;
    for (const auto& a : addresses) list += (list.empty() ? "" : ", ") + a;
    throw JobFailure(std::string(what) + ": no coordinator answers at " + list + " (" + last.error_message() + ")");
  }
};

ClusterClient::ClusterClient(std::string addresses, std::string secret) : impl_(std::make_unique<Impl>()) {
  impl_->addresses = split_list(addresses, ',');
  if (impl_->addresses.empty()) throw GraphError("no coordinator address given (HOST:PORT)");
  if (secret.empty()) {
    if (const char* s = std::getenv("WEIR_CLUSTER_SECRET")) secret = s;
  }
  impl_->secret = std::move(secret);
  // One address: it is down, say so soon. Several (HA): wait for a standby to take over.
  impl_->patience = std::chrono::milliseconds(impl_->addresses.size() > 1 ? 30000 : 1000);
  if (const char* p = std::getenv("WEIR_COORDINATOR_PATIENCE_MS")) impl_->patience = std::chrono::milliseconds(std::atoll(p));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  args.SetMaxSendMessageSize(1 << 30);
  for (const auto& addr : impl_->addresses) {
    impl_->stubs.push_back(rpc::Coordinator::NewStub(grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args)));
  }
}

ClusterClient::~ClusterClient() = default;

namespace {
void deadline(grpc::ClientContext& ctx, std::chrono::milliseconds d) { ctx.set_deadline(std::chrono::system_clock::now() + d); }
}  // namespace

std::string ClusterClient::submit(const std::string& spec_bytes) {
  rpc::SubmitRequest req;
  if (!req.mutable_spec()->ParseFromString(spec_bytes)) throw JobFailure("internal error: the job's description is malformed");
  req.set_secret(impl_->secret);
  req.set_submission_id(runtime::new_job_id());
  rpc::SubmitReply reply;
  impl_->call("submitting the job", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, std::chrono::seconds(60));
    return s.Submit(&ctx, req, &reply);
  });
  return reply.job_id();
}

rpc::JobList ClusterClient::list() {
  rpc::JobRef ref;
  ref.set_secret(impl_->secret);
  rpc::JobList out;
  impl_->call("listing jobs", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, std::chrono::seconds(3));
    return s.ListJobs(&ctx, ref, &out);
  });
  return out;
}

rpc::JobInfo ClusterClient::get(const std::string& id) {
  rpc::JobRef ref;
  ref.set_job_id(id);
  ref.set_secret(impl_->secret);
  rpc::JobInfo out;
  impl_->call("reading the job", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, std::chrono::seconds(3));
    return s.GetJob(&ctx, ref, &out);
  });
  return out;
}

rpc::JobInfo ClusterClient::wait(const std::string& id, std::chrono::milliseconds timeout) {
  rpc::JobRef ref;
  ref.set_job_id(id);
  ref.set_secret(impl_->secret);
  rpc::JobInfo out;
  bool timed_out = false;
  impl_->call("waiting for the job", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, timeout);
    auto st = s.WaitJob(&ctx, ref, &out);
    if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      timed_out = true;
      return grpc::Status::OK;
    }
    return st;
  });
  // The job did not end meanwhile, or the coordinator no longer answers: a short call tells
  // which (and moves to the one that leads now).
  if (timed_out) return get(id);
  return out;
}

rpc::JobInfo ClusterClient::cancel(const std::string& id) {
  rpc::JobRef ref;
  ref.set_job_id(id);
  ref.set_secret(impl_->secret);
  rpc::JobInfo out;
  impl_->call("canceling the job", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, std::chrono::seconds(30));
    return s.Cancel(&ctx, ref, &out);
  });
  return out;
}

std::string ClusterClient::savepoint(const std::string& id, const std::string& dir, bool stop) {
  rpc::SavepointRequest req;
  req.set_job_id(id);
  req.set_dir(dir);
  req.set_stop(stop);
  req.set_secret(impl_->secret);
  rpc::SavepointReply out;
  impl_->call(stop ? "stopping the job with a savepoint" : "taking a savepoint", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, std::chrono::minutes(10));
    return s.Savepoint(&ctx, req, &out);
  });
  return out.path();
}

rpc::ClusterInfo ClusterClient::cluster() {
  rpc::JobRef ref;
  ref.set_secret(impl_->secret);
  rpc::ClusterInfo out;
  impl_->call("reading the cluster", [&](rpc::Coordinator::Stub& s) {
    grpc::ClientContext ctx;
    deadline(ctx, std::chrono::seconds(3));
    return s.Cluster(&ctx, ref, &out);
  });
  return out;
}

namespace {

JobStatus status_of(const std::string& s) {
  for (auto st : {JobStatus::created, JobStatus::running, JobStatus::failing, JobStatus::failed, JobStatus::canceling,
                  JobStatus::canceled, JobStatus::finished, JobStatus::restarting}) {
    if (s == to_string(st)) return st;
  }
  return JobStatus::created;
}

bool final_status(const std::string& s) {
  const auto st = status_of(s);
  return st == JobStatus::finished || st == JobStatus::failed || st == JobStatus::canceled;
}

/// A job running on a cluster, as its submitting program sees it.
class RemoteJob final : public detail::JobHandle {
 public:
  RemoteJob(std::shared_ptr<ClusterClient> client, std::string id, std::string name, bool detached)
      : client_(std::move(client)), id_(std::move(id)), name_(std::move(name)), detached_(detached) {
    future_ = promise_.get_future().share();
    if (detached_) {
      promise_.set_value(JobExecutionResult(id_, name_, std::chrono::milliseconds(0)));
    } else {
      // The result is followed on a thread of its own, so the future (what language bindings
      // wait on) settles whether or not anyone calls wait().
      follower_ = std::thread([this] { follow(); });
    }
  }
  ~RemoteJob() override {
    stop_ = true;
    if (follower_.joinable()) follower_.join();
  }
  const std::string& id() const override { return id_; }
  JobStatus status() const override { return status_of(client_->get(id_).status()); }
  void cancel() override { client_->cancel(id_); }
  JobExecutionResult wait() override { return future_.get(); }
  std::shared_future<JobExecutionResult> result_future() const override { return future_; }
  std::vector<TaskMetrics> metrics() const override {
    std::vector<TaskMetrics> out;
    const auto info = client_->get(id_);  // kept: a range over a temporary's member would dangle
    for (const auto& t : info.tasks()) out.push_back(decode_task_metrics(t));
    return out;
  }
  int restart_count() const override { return client_->get(id_).restarts(); }
  std::size_t peak_queued_bytes() const override { return 0; }
  std::future<std::string> trigger_savepoint(const std::string& dir, bool stop) override {
    auto c = client_;
    auto id = id_;
    return std::async(std::launch::async, [c, id, dir, stop] { return c->savepoint(id, dir, stop); });
  }
  std::future<std::string> trigger_checkpoint() override {
    throw GraphError("checkpoints of a cluster job are triggered by the coordinator (periodically); use trigger_savepoint");
  }
  CheckpointStats checkpoint_stats() const override {
    const auto info = client_->get(id_);
    CheckpointStats s;
    s.completed = info.completed_checkpoints();
    s.last_duration_ms = info.last_checkpoint_ms();
    s.latest_path = info.latest_checkpoint();
    s.restored_checkpoint_id = info.restored_checkpoint();
    return s;
  }

 private:
  void follow() {
    for (;;) {
      rpc::JobInfo info;
      try {
        info = client_->wait(id_, std::chrono::seconds(2));
      } catch (const std::exception& e) {
        promise_.set_exception(std::make_exception_ptr(JobFailure("Job '" + name_ + "': " + e.what())));
        return;
      }
      if (stop_) {
        promise_.set_exception(std::make_exception_ptr(JobFailure("Job '" + name_ + "': no longer followed")));
        return;
      }
      if (!final_status(info.status())) continue;
      if (status_of(info.status()) == JobStatus::finished) {
        promise_.set_value(JobExecutionResult(id_, name_, std::chrono::milliseconds(info.end_ms() - info.start_ms())));
      } else {
        const std::string what =
            status_of(info.status()) == JobStatus::canceled ? "Job '" + name_ + "' was canceled" : info.failure();
        promise_.set_exception(std::make_exception_ptr(JobFailure(what)));
      }
      return;
    }
  }

  std::shared_ptr<ClusterClient> client_;
  std::string id_;
  std::string name_;
  bool detached_;
  std::atomic<bool> stop_{false};
  std::promise<JobExecutionResult> promise_;
  std::shared_future<JobExecutionResult> future_;
  std::thread follower_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw JobFailure("cannot read the job file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

JobClient submit_to_cluster(detail::EnvState& env, const std::string& job_name, const std::string& addresses) {
  auto jg = graph::build_job_graph(env.graph, env.config, job_name);
  for (auto& n : env.graph.nodes) {
    if (n->kind == detail::LogicalNode::Kind::kSink) n->executed = true;
  }
  rpc::JobSpec spec;
  spec.set_name(job_name);
  const auto json = jg.to_json();
  spec.set_fingerprint(graph_fingerprint(json));
  spec.set_plan_json(json);
  spec.set_max_parallelism(jg.max_parallelism);
  for (const auto& vx : jg.vertices) {
    auto* v = spec.add_vertices();
    v->set_name(vx.name);
    v->set_parallelism(vx.parallelism);
    v->set_source(jg.nodes[static_cast<std::size_t>(vx.nodes[0])].logical->kind == detail::LogicalNode::Kind::kSource);
    for (int n : vx.nodes) {
      v->add_uids(runtime::JobRun::operator_uid(jg, n));
      v->add_names(jg.nodes[static_cast<std::size_t>(n)].name);
    }
  }
  const auto& cfg = env.config;
  if (cfg.state_backend.kind() == StateBackend::Kind::rocksdb && cfg.checkpoint.is_checkpointing_enabled()) {
    throw GraphError("cluster mode checkpoints keyed state on the heap backend only for now: "
                     "use StateBackend::heap() (env.set_state_backend) for jobs submitted with weir submit");
  }
  spec.set_checkpoint_config(detail::ConfigCodec::encode(cfg.checkpoint));
  RestartStrategy restart = cfg.restart_strategy;
  if (cfg.checkpoint.is_checkpointing_enabled() && !cfg.restart_strategy_set) {
    restart = RestartStrategy::fixed_delay(std::numeric_limits<int>::max(), std::chrono::milliseconds(1000));
  }
  spec.set_restart_strategy(detail::ConfigCodec::encode(restart));
  spec.set_state_backend(cfg.state_backend.name());
  if (cfg.savepoint_restore.restore_savepoint()) {
    spec.set_restore_path(cfg.savepoint_restore.get_restore_path());
    spec.set_allow_non_restored(cfg.savepoint_restore.allows_non_restored_state());
  }
  const char* files = std::getenv("WEIR_SUBMIT_FILES");
  if (!files || !*files) {
    throw GraphError("WEIR_COORDINATOR is set but WEIR_SUBMIT_FILES is not: start cluster jobs with weir submit JOB");
  }
  bool first = true;
  for (const auto& path : split_list(files, ':')) {
    auto* f = spec.add_files();
    const auto slash = path.rfind('/');
    f->set_name(slash == std::string::npos ? path : path.substr(slash + 1));
    f->set_content(read_all(path));
    struct stat st {};
    f->set_executable(::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IXUSR));
    if (first) spec.set_entry(f->name());
    first = false;
  }
  if (const char* a = std::getenv("WEIR_SUBMIT_ARGS")) {
    // Each argument ends with \x1f (so empty arguments survive).
    std::string cur;
    for (const char* c = a; *c != '\0'; ++c) {
      if (*c == '\x1f') {
        spec.add_args(cur);
        cur.clear();
      } else {
        cur += *c;
      }
    }
  }
  if (const char* t = std::getenv("WEIR_SLOT_TIMEOUT_MS")) spec.set_slot_timeout_ms(std::atoll(t));
  // Every process must build the same graph: the default parallelism is the submitter's.
  spec.add_env("WEIR_DEFAULT_PARALLELISM=" +
               std::to_string(cfg.parallelism > 0 ? cfg.parallelism : graph::default_parallelism()));
  const char* detached = std::getenv("WEIR_SUBMIT_DETACHED");
  auto client = std::make_shared<ClusterClient>(addresses);
  const auto id = client->submit(spec.SerializeAsString());
  spdlog::debug("job '{}' submitted to {} as {}", job_name, addresses, id);
  if (const char* idfile = std::getenv("WEIR_SUBMIT_ID_FILE")) {
    std::ofstream(idfile) << id << "\n";
  }
  auto handle = std::make_shared<RemoteJob>(client, id, job_name, detached && std::string(detached) == "1");
  return JobClient(std::static_pointer_cast<detail::JobHandle>(handle));
}

}  // namespace weir::cluster
