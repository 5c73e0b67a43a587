#include "cluster/job_process.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "api/job_handle.h"
#include "cluster/client.h"
#include "cluster/cluster.grpc.pb.h"
#include "cluster/codec.h"
#include "cluster/session.h"
#include "graph/job_graph.h"
#include "network/data_plane.h"
#include "runtime/job_run.h"
#include "weir/common/key_groups.hpp"

namespace weir::cluster {

std::string graph_fingerprint(const std::string& json) {
  return fmt::format("{:016x}", stable_hash(json.data(), json.size()));
}

namespace {

std::string env_or(const char* name, const std::string& fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

/// What a job on a cluster needs of its environment, the same in every process: the default
/// parallelism of its submitter, and records that can travel between processes (refused at
/// graph-build time, with what to do, when a type has no Serde).
void prepare_for_cluster(detail::EnvState& env) {
  const auto p = env_or("WEIR_DEFAULT_PARALLELISM");
  if (!p.empty() && env.config.parallelism == 0) env.config.parallelism = std::stoi(p);
  env.config.serializable_edges = true;
}

/// The part of a job attempt this process runs.
class TaskPart final : public detail::JobHandle,
                       public checkpoint::CheckpointResponder,
                       public std::enable_shared_from_this<TaskPart> {
 public:
  TaskPart(detail::EnvState& env, const std::string& job_name, rpc::TaskDeployment d) : d_(std::move(d)) {
    jg_.emplace(graph::build_job_graph(env.graph, env.config, job_name));
    logical_ = env.graph;
    for (auto& n : env.graph.nodes) {
      if (n->kind == detail::LogicalNode::Kind::kSink) n->executed = true;
    }
    config_ = env.config;
    fingerprint_ = graph_fingerprint(jg_->to_json());
  }

  ~TaskPart() override { shutdown(); }

  void start() {
    network::DataPlaneOptions dopt;
    dopt.bind_host = d_.data_host().empty() ? "127.0.0.1" : d_.data_host();
    dopt.secret = d_.secret();
    // A part that ended well lets every frame its tasks queued reach the consumers before the
    // process exits (they may still be working through their input); see exit_when_ended.
    dopt.close_timeout = std::chrono::minutes(10);
    plane_ = std::make_unique<network::DataPlane>(dopt);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(1 << 30);
    args.SetMaxSendMessageSize(1 << 30);
    channel_ = grpc::CreateCustomChannel(d_.coordinator(), grpc::InsecureChannelCredentials(), args);
    stub_ = rpc::Coordinator::NewStub(channel_);
    stream_ = stub_->TaskSession(&ctx_);
    out_ = std::make_unique<Outbox<rpc::TaskMessage>>([this](const rpc::TaskMessage& m) { return stream_->Write(m); });
    rpc::TaskMessage m;
    auto* a = m.mutable_attach();
    a->set_job_id(d_.job_id());
    a->set_attempt(d_.attempt());
    a->set_process(d_.process());
    a->set_data_address(dopt.bind_host + ":" + std::to_string(plane_->port()));
    a->set_fingerprint(fingerprint_);
    a->set_secret(d_.secret());
    out_->send(std::move(m));
    last_heard_ = steady_ms();
    reader_ = std::thread([this] { read_loop(); });
    beat_ = std::thread([this] { beat_loop(); });
    // Keeps the part alive until the process exits, whatever happens to the job's handle.
    std::thread([self = shared_from_this()] { self->exit_when_ended(); }).detach();
  }

  // JobHandle: what execute() sees in a task process.
  const std::string& id() const override { return d_.job_id(); }
  JobStatus status() const override {
    std::lock_guard lock(mu_);
    return run_ ? run_->status() : JobStatus::created;
  }
  void cancel() override { end("canceled in the task process", false); }
  /// Never returns: the process ends with its part (see `exit_when_ended`).
  JobExecutionResult wait() override {
    future_.wait();
    return future_.get();
  }
  std::shared_future<JobExecutionResult> result_future() const override { return future_; }
  std::vector<TaskMetrics> metrics() const override {
    std::lock_guard lock(mu_);
    return run_ ? run_->metrics() : std::vector<TaskMetrics>{};
  }
  int restart_count() const override { return 0; }
  std::size_t peak_queued_bytes() const override { return 0; }
  std::future<std::string> trigger_savepoint(const std::string&, bool) override {
    throw GraphError("savepoints of a cluster job are taken by the coordinator: weir savepoint JOB_ID DIR");
  }
  std::future<std::string> trigger_checkpoint() override {
    throw GraphError("checkpoints of a cluster job are triggered by the coordinator");
  }
  CheckpointStats checkpoint_stats() const override { return {}; }

  // CheckpointResponder: the tasks' reports go to the coordinator.
  void acknowledge(checkpoint::TaskGateway* task, int64_t id, std::vector<runtime::OperatorSnapshot> snaps) override {
    rpc::TaskMessage m;
    try {
      auto files = encode_snapshots(snaps);
      auto* a = m.mutable_ack();
      a->set_task(index_of(task));
      a->set_checkpoint_id(id);
      for (auto& f : files) a->add_snapshots(std::move(f));
    } catch (const std::exception& e) {
      m.Clear();
      auto* d = m.mutable_decline();
      d->set_task(index_of(task));
      d->set_checkpoint_id(id);
      d->set_reason(e.what());
    }
    out_->send(std::move(m));
  }
  void decline(int64_t id, const std::string& reason) override {
    rpc::TaskMessage m;
    m.mutable_decline()->set_checkpoint_id(id);
    m.mutable_decline()->set_reason(reason);
    out_->send(std::move(m));
  }
  void task_finished(checkpoint::TaskGateway* task, std::vector<runtime::OperatorSnapshot> snaps) override {
    rpc::TaskMessage m;
    auto* f = m.mutable_finished();
    f->set_task(index_of(task));
    f->set_with_state(true);
    try {
      for (auto& s : encode_snapshots(snaps)) f->add_snapshots(std::move(s));
    } catch (const std::exception& e) {
      end(std::string("a finished task's snapshot cannot be sent: ") + e.what(), false);
      return;
    }
    out_->send(std::move(m));
  }
  void task_ended_without_state(checkpoint::TaskGateway* task) override {
    rpc::TaskMessage m;
    m.mutable_finished()->set_task(index_of(task));
    m.mutable_finished()->set_with_state(false);
    out_->send(std::move(m));
  }
  void completion_delivered(int64_t id) override {
    rpc::TaskMessage m;
    m.mutable_delivered()->set_checkpoint_id(id);
    out_->send(std::move(m));
  }

 private:
  int index_of(checkpoint::TaskGateway* t) {
    std::lock_guard lock(mu_);
    auto it = index_.find(t);
    return it == index_.end() ? -1 : it->second;
  }
  runtime::Task* task_at(int index) {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(index);
    return it == tasks_.end() ? nullptr : it->second;
  }

  void read_loop() {
    rpc::ToTask m;
    while (stream_->Read(&m)) {
      {
        std::lock_guard lock(mu_);
        last_heard_ = steady_ms();
      }
      if (m.has_start()) {
        std::vector<std::string> peers(m.start().data_addresses().begin(), m.start().data_addresses().end());
        start_run(std::move(peers));
      } else if (m.has_trigger()) {
        if (auto* t = task_at(m.trigger().task())) {
          t->trigger_barrier(m.trigger().checkpoint_id(), m.trigger().timestamp(), static_cast<uint8_t>(m.trigger().flags()),
                             m.trigger().stop());
        }
      } else if (m.has_complete()) {
        if (auto* t = task_at(m.complete().task())) {
          t->post_checkpoint_complete(m.complete().checkpoint_id(), m.complete().release(), m.complete().stop());
        }
      } else if (m.has_aborted()) {
        if (auto* t = task_at(m.aborted().task())) t->post_checkpoint_aborted(m.aborted().checkpoint_id());
      } else if (m.has_cancel()) {
        end("canceled by the coordinator: " + m.cancel(), false);
      } else if (m.has_rejected()) {
        end("the coordinator refused this task process: " + m.rejected(), true);
        return;
      }
    }
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    if (!stopping) end("the connection to the coordinator " + d_.coordinator() + " ended", true);
  }

  void beat_loop() {
    const int64_t interval = std::max<int64_t>(50, d_.heartbeat_interval_ms());
    const int64_t timeout = std::max<int64_t>(interval * 2, d_.heartbeat_timeout_ms());
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(interval));
      if (stopping_) break;
      const bool silent = steady_ms() - last_heard_ > timeout;
      std::vector<TaskMetrics> ms;
      if (run_) ms = run_->metrics();
      lock.unlock();
      if (silent) {
        // Cut off from the coordinator: it restarts the job elsewhere, so this part stops.
        end("no heartbeat from the coordinator " + d_.coordinator() + " for " + std::to_string(timeout) + " ms", true);
        ctx_.TryCancel();
        lock.lock();
        break;
      }
      rpc::TaskMessage hb;
      hb.mutable_heartbeat()->set_sent_ms(now_ms());
      out_->send(std::move(hb));
      send_metrics(ms);
      lock.lock();
    }
  }

  /// Sends the tasks' metrics (with every heartbeat, and once more as the part ends).
  void send_metrics(const std::vector<TaskMetrics>& ms) {
    if (ms.empty()) return;
    rpc::TaskMessage mm;
    for (std::size_t i = 0; i < ms.size() && i < local_.size(); ++i) {
      auto* t = mm.mutable_metrics()->add_tasks();
      encode_task_metrics(ms[i], t);
      t->set_task(local_[i]);
      t->set_state("running");
    }
    out_->send(std::move(mm));
  }

  void start_run(std::vector<std::string> peers) {
    runtime::Placement pl;
    pl.process = d_.process();
    pl.task_process.assign(d_.task_process().begin(), d_.task_process().end());
    pl.attempt = d_.attempt();
    pl.job_id = d_.job_id();
    pl.responder = this;
    pl.restore_dir = d_.restore_dir();
    pl.allow_non_restored = d_.allow_non_restored();
    // A channel between processes holds more than a local one: credits return over the
    // network, and a window of several round trips keeps the producer from stalling on them.
    const std::size_t capacity = config_.channel_capacity_bytes * 4;
    auto* stats = &stats_;
    pl.open_output = [this, peers, capacity, stats](int32_t channel, int32_t consumer, runtime::Task* producer) {
      network::ChannelId id{d_.job_id(), d_.attempt(), channel};
      return plane_->open_output(id, peers.at(static_cast<std::size_t>(consumer)), capacity, producer, stats);
    };
    pl.open_input = [this, capacity, stats](int32_t channel, int32_t, int gate_index, runtime::InputGate* gate,
                                           std::shared_ptr<const detail::TypeOps> type) {
      network::ChannelId id{d_.job_id(), d_.attempt(), channel};
      return plane_->open_input(id, gate_index, gate, std::move(type), capacity, stats);
    };
    pl.task_built = [this](int32_t index, runtime::Task* t) {
      std::lock_guard lock(mu_);
      tasks_[index] = t;
      index_[t] = index;
      local_.push_back(index);
    };
    pl.failed = [this](const std::string& message, bool recoverable) { report_failure(message, recoverable); };
    auto run = std::make_shared<runtime::JobRun>(logical_, std::move(*jg_), config_, std::move(pl));
    {
      std::lock_guard lock(mu_);
      run_ = run;
    }
    try {
      run->start();
    } catch (const std::exception& e) {
      report_failure(e.what(), false);
      finished(e.what(), true);
      return;
    }
    waiter_ = std::thread([this, run] {
      try {
        run->wait();
        finished("", false);
      } catch (const std::exception& e) {
        finished(e.what(), true);
      }
    });
  }

  /// A task process runs its part of the job and ends with it: the program's code after
  /// execute() runs only where the job was submitted. (Whatever waits on the job — execute(),
  /// a language binding's wait on the result — never sees it end.)
  void exit_when_ended() {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return ended_; });
    }
    // Frames still queued for other processes (the end of input, the last batches) go out
    // before the process ends: exiting with them queued, or with unread credits in a socket
    // (the kernel then resets the connection), would lose data the consumers have not read. A
    // part that failed does not wait: its attempt is over.
    if (!failed_ && plane_) plane_->close();
    report_end();
    shutdown();
    std::fflush(nullptr);
    ::_exit(failed_ ? 1 : 0);
  }

  void report_failure(const std::string& message, bool recoverable) {
    std::lock_guard lock(mu_);
    if (failure_reported_) return;
    failure_reported_ = true;
    rpc::TaskMessage m;
    m.mutable_ended()->set_failed(true);
    m.mutable_ended()->set_message(message);
    m.mutable_ended()->set_recoverable(recoverable);
    out_->send(std::move(m));
  }

  /// Ends the part: with `message` as its failure when not empty. A running part is canceled
  /// and ends when its tasks have (`finished`).
  void end(const std::string& message, bool failed) {
    std::shared_ptr<runtime::JobRun> run;
    {
      std::lock_guard lock(mu_);
      if (!message.empty() && end_message_.empty()) end_message_ = message;
      if (failed) failed_ = true;
      run = run_;
      if (!run) {
        ended_ = true;
        cv_.notify_all();
        return;
      }
    }
    run->cancel();
  }

  void finished(const std::string& message, bool failed) {
    std::lock_guard lock(mu_);
    if (!message.empty() && end_message_.empty()) end_message_ = message;
    if (failed) failed_ = true;
    ended_ = true;
    cv_.notify_all();
  }

  void report_end() {
    rpc::TaskMessage m;
    std::vector<TaskMetrics> ms;
    {
      std::lock_guard lock(mu_);
      if (run_) ms = run_->metrics();
      if (!failure_reported_) {
        m.mutable_ended()->set_failed(failed_ || !end_message_.empty());
        m.mutable_ended()->set_message(end_message_);
        m.mutable_ended()->set_recoverable(true);
        failure_reported_ = true;
      }
    }
    // The last metrics go before the end, so the coordinator's view of a finished job holds
    // every record its tasks counted (heartbeats alone leave out what came after the last one).
    send_metrics(ms);
    if (m.has_ended()) out_->send(std::move(m));
    out_->drain(std::chrono::seconds(5));
  }

  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (beat_.joinable()) beat_.join();
    if (out_) out_->close();
    if (stream_) {
      // Half-close, then let the coordinator end the call, so it reads everything written
      // (cancelling at once could drop the last messages); cancel if it does not answer.
      stream_->WritesDone();
      std::thread cancel_later([this] {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return reader_done_; })) ctx_.TryCancel();
      });
      if (reader_.joinable()) reader_.join();
      {
        std::lock_guard lock(mu_);
        reader_done_ = true;
      }
      cv_.notify_all();
      cancel_later.join();
      stream_->Finish();
    }
    if (waiter_.joinable() && waiter_.get_id() != std::this_thread::get_id()) waiter_.join();
  }

  rpc::TaskDeployment d_;
  std::optional<graph::JobGraph> jg_;
  detail::LogicalGraph logical_;
  ExecutionConfig config_;
  std::string fingerprint_;
  std::unique_ptr<network::DataPlane> plane_;
  runtime::ChannelStats stats_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rpc::Coordinator::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<rpc::TaskMessage, rpc::ToTask>> stream_;
  std::unique_ptr<Outbox<rpc::TaskMessage>> out_;
  std::thread reader_;
  std::thread beat_;
  std::thread waiter_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<runtime::JobRun> run_;
  std::map<int, runtime::Task*> tasks_;
  std::map<checkpoint::TaskGateway*, int> index_;
  std::vector<int> local_;  // plan indexes of the local tasks, in plan order
  int64_t last_heard_ = 0;
  bool ended_ = false;
  bool failed_ = false;
  bool stopping_ = false;
  bool failure_reported_ = false;
  bool reader_done_ = false;
  std::string end_message_;
  std::promise<JobExecutionResult> promise_;  // never set: the process exits instead
  std::shared_future<JobExecutionResult> future_ = promise_.get_future().share();
};

std::optional<JobClient> cluster_submit(detail::EnvState& env, const std::string& job_name) {
  const auto deployment = env_or("WEIR_TASK_DEPLOYMENT");
  if (!deployment.empty()) {
    prepare_for_cluster(env);
    std::ifstream in(deployment, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    rpc::TaskDeployment d;
    if (!in || !d.ParseFromString(ss.str())) {
      throw JobFailure("cannot read the task deployment " + deployment + " (WEIR_TASK_DEPLOYMENT)");
    }
    // One job per task process: a later execute() in the same program is not this deployment's.
    ::unsetenv("WEIR_TASK_DEPLOYMENT");
    auto part = std::make_shared<TaskPart>(env, job_name, std::move(d));
    part->start();
    return JobClient(std::static_pointer_cast<detail::JobHandle>(part));
  }
  const auto coordinator = env_or("WEIR_COORDINATOR");
  if (!coordinator.empty()) {
    prepare_for_cluster(env);
    return submit_to_cluster(env, job_name, coordinator);
  }
  return std::nullopt;
}

}  // namespace

void install_cluster_submit() { detail::set_cluster_submit(cluster_submit); }

namespace {
// libweir registers the hook when it loads, so every program that links it gets cluster mode.
const bool installed = (install_cluster_submit(), true);
}  // namespace

}  // namespace weir::cluster
