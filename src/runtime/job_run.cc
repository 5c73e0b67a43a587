#include "runtime/job_run.h"
#include "runtime/job_id.h"

#include <cstdlib>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace weir {

const char* to_string(JobStatus s) {
  switch (s) {
    case JobStatus::created: return "CREATED";
    case JobStatus::running: return "RUNNING";
    case JobStatus::failing: return "FAILING";
    case JobStatus::failed: return "FAILED";
    case JobStatus::canceling: return "CANCELLING";
    case JobStatus::canceled: return "CANCELED";
    case JobStatus::finished: return "FINISHED";
    case JobStatus::restarting: return "RESTARTING";
  }
  return "UNKNOWN";
}

namespace runtime {
namespace {
/// WEIR_LOG=debug|info|warn|error|off sets the log level (read once).
void apply_log_level_from_env() {
  static const bool once = [] {
    // Made here, before any job thread logs: the first use creates spdlog's default logger.
    (void)spdlog::default_logger();
    if (const char* v = std::getenv("WEIR_LOG")) spdlog::set_level(spdlog::level::from_str(v));
    return true;
  }();
  (void)once;
}
}  // namespace

std::string new_job_id() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

JobRun::JobRun(detail::LogicalGraph logical, graph::JobGraph graph, ExecutionConfig config)
    : logical_(std::move(logical)),
      graph_(std::move(graph)),
      config_(config),
      id_(new_job_id()),
      restart_strategy_(config.restart_strategy) {
  apply_log_level_from_env();
  future_ = promise_.get_future().share();
  if (config_.checkpoint.is_checkpointing_enabled() && !config_.restart_strategy_set) {
    // As Flink: with checkpoints, restart (1 s apart, without limit) from the latest one.
    restart_strategy_ = RestartStrategy::fixed_delay(std::numeric_limits<int>::max(), std::chrono::milliseconds(1000));
  }
}

JobRun::JobRun(detail::LogicalGraph logical, graph::JobGraph graph, ExecutionConfig config, Placement placement)
    : JobRun(std::move(logical), std::move(graph), std::move(config)) {
  id_ = placement.job_id;
  attempt_ = placement.attempt;
  // Restarts are the cluster coordinator's: the part ends at its first failure.
  restart_strategy_ = RestartStrategy::no_restart();
  placement_ = std::move(placement);
}

std::string JobRun::operator_uid(const graph::JobGraph& graph, int node) {
  const auto& jn = graph.nodes[static_cast<std::size_t>(node)];
  if (!jn.logical->uid.empty()) return jn.logical->uid;
  return "auto-" + std::to_string(jn.logical->id) + "-" + jn.name;
}

std::vector<OperatorShape> JobRun::operator_shapes() const {
  std::vector<OperatorShape> out;
  for (std::size_t n = 0; n < graph_.nodes.size(); ++n) {
    const auto& jn = graph_.nodes[n];
    out.push_back(OperatorShape{uid_of(static_cast<int>(n)), jn.name, jn.parallelism});
  }
  return out;
}

JobRun::~JobRun() {
  bool running;
  {
    std::lock_guard lock(mu_);
    running = status_ != JobStatus::created && !ended_;
  }
  if (running) {
    cancel();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ended_; });
  }
  join_pool();
  if (registered_) JobRegistry::instance().archive(snapshot());
}

int64_t JobRun::wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

JobSnapshot JobRun::snapshot() const {
  JobSnapshot s;
  s.id = id_;
  s.name = graph_.job_name;
  s.max_parallelism = graph_.max_parallelism;
  s.plan_json = graph_.to_json();
  s.tasks = metrics();
  s.task_hosts.assign(s.tasks.size(), "localhost");
  s.checkpoints = checkpoint_stats();
  if (coordinator_) s.checkpoint_history = coordinator_->history();
  s.restarts = restart_count();
  std::lock_guard lock(mu_);
  s.start_ms = start_wall_ms_;
  s.status = status_;
  s.end_ms = end_wall_ms_;
  s.timestamps = status_times_;
  s.exceptions = exceptions_;
  return s;
}

void JobRun::build() {
  const int max_p = graph_.max_parallelism;
  // The plan fixes every task and channel and their positions; this process runs all of them.
  const auto& plan = physical_;
  // Tasks, one per vertex and subtask, with their operators; tasks_[i] runs plan.tasks[i].
  std::vector<std::vector<Task*>> tasks_of(graph_.vertices.size());
  // op_of[node][subtask]
  std::vector<std::vector<StreamOperator*>> op_of(graph_.nodes.size());
  const auto local = [&](int32_t t) {
    return !placement_ || plan.tasks[static_cast<std::size_t>(t)].worker == placement_->process;
  };
  // by plan task index; null for tasks of other processes
  std::vector<Task*> task_at(plan.tasks.size(), nullptr);
  for (std::size_t ti = 0; ti < plan.tasks.size(); ++ti) {
    const auto& pt = plan.tasks[ti];
    const auto v = static_cast<std::size_t>(pt.vertex);
    if (!local(static_cast<int32_t>(ti))) {
      tasks_of[v].push_back(nullptr);
      continue;
    }
    const auto& vx = graph_.vertices[v];
    const int s = pt.subtask;
    TaskInfo info;
    info.task_name = vx.name;
    info.subtask = s;
    info.parallelism = vx.parallelism;
    info.max_parallelism = max_p;
    info.attempt = attempt_;
    info.auto_watermark_interval = config_.auto_watermark_interval;
    info.checkpointing = config_.checkpoint.is_checkpointing_enabled();
    info.checkpoint_interval = info.checkpointing ? config_.checkpoint.get_checkpoint_interval() : 0;
    if (config_.state_backend.kind() == StateBackend::Kind::rocksdb) {
      info.rocksdb_dir = config_.state_backend.dir() + "/job-" + id_ + "/attempt-" + std::to_string(attempt_);
      info.rocksdb_memory = config_.state_backend.memory_budget();
      info.rocksdb_cache_entries = config_.state_backend.cache_entries();
    }
    auto task = std::make_unique<Task>(this, pool_.get(), info);
    task->vertex = pt.vertex;
    for (int n : vx.nodes) {
      const auto& jn = graph_.nodes[static_cast<std::size_t>(n)];
      auto op = jn.logical->factory();
      op->set_name(jn.name);
      op->set_uid(uid_of(n));
      op->setup(info, task.get());
      StateRestore restore;
      if (plan_) {
        auto it = plan_->find(op->uid());
        if (it != plan_->end() && static_cast<std::size_t>(s) < it->second.size()) {
          restore = it->second[static_cast<std::size_t>(s)];
        }
      }
      task->restores.push_back(std::move(restore));
      auto& ops = op_of[static_cast<std::size_t>(n)];
      ops.resize(static_cast<std::size_t>(vx.parallelism));
      ops[static_cast<std::size_t>(s)] = op.get();
      task->operators.push_back(std::move(op));
    }
    if (graph_.nodes[static_cast<std::size_t>(vx.nodes[0])].logical->kind == detail::LogicalNode::Kind::kSource) {
      task->source = dynamic_cast<SourceOperator*>(task->operators.front().get());
      if (!task->source) throw JobFailure("source '" + vx.name + "' does not implement SourceOperator");
    }
    task->coordinator = placement_ ? placement_->responder : coordinator_.get();
    task->exactly_once = config_.checkpoint.get_checkpointing_mode() == CheckpointingMode::exactly_once;
    task->unaligned = config_.checkpoint.takes_unaligned_checkpoints();
    task->final_checkpoint = config_.checkpoint.is_checkpointing_enabled();
    tasks_of[v].push_back(task.get());
    task_at[ti] = task.get();
    if (placement_ && placement_->task_built) placement_->task_built(static_cast<int32_t>(ti), task.get());
    tasks_.push_back(std::move(task));
  }

  // Channels, in plan order (which is every consumer's gate order; channels_[i] is
  // plan.channels[i]), then the partitions and writers of the edges between tasks;
  // writer_of[edge][producer subtask].
  // One consumer object per edge and consumer task.
  std::map<std::pair<int, Task*>, BatchConsumer*> consumer_of;
  // Channels from other processes, opened once the tasks are wired (see the end).
  std::vector<std::size_t> remote_inputs;
  // The producer's end of every plan channel whose producer runs here (null otherwise).
  std::vector<OutputChannel*> out_end(plan.channels.size(), nullptr);
  for (std::size_t ci = 0; ci < plan.channels.size(); ++ci) {
    const auto& pc = plan.channels[ci];
    const auto& part = plan.partitions[static_cast<std::size_t>(pc.partition)];
    const auto& e = graph_.edges[static_cast<std::size_t>(part.edge)];
    Task* producer = task_at[static_cast<std::size_t>(part.producer)];
    Task* ct = task_at[static_cast<std::size_t>(pc.consumer)];
    if (!ct) {
      // The consumer runs in another process: only the producer's end lives here.
      if (producer) {
        remote_out_.push_back(placement_->open_output(static_cast<int32_t>(ci), plan.tasks[static_cast<std::size_t>(pc.consumer)].worker, producer));
        out_end[ci] = remote_out_.back().get();
      }
      continue;
    }
    auto key = std::make_pair(part.edge, ct);
    auto it = consumer_of.find(key);
    if (it == consumer_of.end()) {
      auto c = e.type->consumer(ct->operators.front()->input(e.input_index));
      it = consumer_of.emplace(key, c.get()).first;
      ct->consumers.push_back(std::move(c));
    }
    if (pc.gate != static_cast<int>(ct->channels.size())) {
      throw JobFailure("internal error: the physical plan's channels are out of gate order");
    }
    ct->channels.push_back(Task::InputChannelState{e.input_index, it->second});
    if (!producer) {
      remote_inputs.push_back(ci);
      continue;
    }
    auto ch = std::make_unique<LocalChannel>(config_.channel_capacity_bytes, producer, &ct->gate, pc.gate, &stats_);
    out_end[ci] = ch.get();
    channels_.push_back(std::move(ch));
  }
  // What metrics read of each task's input channels: its producer's vertex and subtask.
  for (auto* t : task_at) {
    if (t == nullptr) continue;
    t->channel_view_count = t->channels.size();
    t->channel_views = std::make_unique<Task::ChannelView[]>(t->channels.size());
  }
  for (const auto& pc : plan.channels) {
    Task* ct = task_at[static_cast<std::size_t>(pc.consumer)];
    if (!ct) continue;
    const auto& part = plan.partitions[static_cast<std::size_t>(pc.partition)];
    const auto& producer = plan.tasks[static_cast<std::size_t>(part.producer)];
    auto& v = ct->channel_views[static_cast<std::size_t>(pc.gate)];
    v.input = ct->channels[static_cast<std::size_t>(pc.gate)].input_index;
    v.upstream_vertex = producer.vertex;
    v.upstream_subtask = producer.subtask;
  }
  std::vector<std::vector<OutputBase*>> writer_of(graph_.edges.size());
  for (const auto& pp : plan.partitions) {
    const auto& e = graph_.edges[static_cast<std::size_t>(pp.edge)];
    Task* producer = task_at[static_cast<std::size_t>(pp.producer)];
    if (!producer) continue;
    const int i = producer->info().subtask;
    std::vector<OutputChannel*> chans;
    for (int32_t c : pp.channels) chans.push_back(out_end[static_cast<std::size_t>(c)]);
    const auto& from = graph_.nodes[static_cast<std::size_t>(e.from)];
    const int64_t own_timeout = from.logical ? from.logical->buffer_timeout_us : -2;
    auto part = std::make_unique<ResultPartition>(std::move(chans), i, config_.batch_records, config_.batch_bytes,
                                                  own_timeout >= -1 ? own_timeout : config_.buffer_timeout.count());
    auto w = e.writer_factory ? e.writer_factory(part.get(), max_p) : e.type->writer(e.partition, part.get());
    auto* wb = dynamic_cast<WriterBase*>(w.get());
    if (!wb) throw JobFailure("internal error: the writer of an edge cannot be flushed");
    producer->writers.push_back(wb);
    auto& wo = writer_of[static_cast<std::size_t>(pp.edge)];
    wo.resize(static_cast<std::size_t>(graph_.vertices[static_cast<std::size_t>(plan.tasks[static_cast<std::size_t>(pp.producer)].vertex)].parallelism));
    wo[static_cast<std::size_t>(i)] = w.get();
    producer->outputs.push_back(std::move(w));
    producer->partitions.push_back(std::move(part));
  }

  // Records in flight at a restored unaligned checkpoint: per channel, what the consumer had
  // taken before the barrier, then what the barrier overtook in the producer's output. A
  // producer whose consumer runs in another process sends its part down the channel first.
  for (std::size_t ci = 0; ci < plan.channels.size(); ++ci) {
    const auto& pc = plan.channels[ci];
    const auto& part = plan.partitions[static_cast<std::size_t>(pc.partition)];
    Task* consumer = task_at[static_cast<std::size_t>(pc.consumer)];
    Task* producer = task_at[static_cast<std::size_t>(part.producer)];
    if (consumer && !consumer->restores.empty()) {
      for (const auto& cs : consumer->restores.front().inflight_in_) {
        if (cs.channel != pc.gate) continue;
        for (const auto& e : cs.events) consumer->replay.emplace_back(pc.gate, e);
      }
    }
    if (producer && !producer->restores.empty()) {
      const auto& type = *graph_.edges[static_cast<std::size_t>(part.edge)].type;
      for (const auto& cs : producer->restores.front().inflight_out_) {
        if (cs.partition != part.index || cs.channel != pc.index) continue;
        for (const auto& e : cs.events) {
          if (consumer) {
            consumer->replay.emplace_back(pc.gate, e);
          } else {
            out_end[ci]->push(from_inflight(e, type));
          }
        }
      }
    }
  }

  // Outputs of every operator: chained successors, writers, or both (fan-out), per tag.
  for (std::size_t v = 0; v < graph_.vertices.size(); ++v) {
    const auto& vx = graph_.vertices[v];
    for (int s = 0; s < vx.parallelism; ++s) {
      Task* task = tasks_of[v][static_cast<std::size_t>(s)];
      if (!task) continue;
      for (int n : vx.nodes) {
        const auto& jn = graph_.nodes[static_cast<std::size_t>(n)];
        StreamOperator* op = op_of[static_cast<std::size_t>(n)][static_cast<std::size_t>(s)];
        std::vector<std::string> tags;
        std::vector<std::vector<OutputBase*>> targets;
        std::vector<const detail::TypeOps*> types;
        for (int ei : jn.out_edges) {
          const auto& e = graph_.edges[static_cast<std::size_t>(ei)];
          OutputBase* target;
          if (e.chained) {
            StreamOperator* next = op_of[static_cast<std::size_t>(e.to)][static_cast<std::size_t>(s)];
            auto out = e.type->chained(next->input(e.input_index), next, e.input_index);
            target = out.get();
            task->outputs.push_back(std::move(out));
          } else {
            target = writer_of[static_cast<std::size_t>(ei)][static_cast<std::size_t>(s)];
          }
          auto it = std::find(tags.begin(), tags.end(), e.side_tag);
          if (it == tags.end()) {
            tags.push_back(e.side_tag);
            targets.emplace_back();
            types.push_back(e.type.get());
            it = tags.end() - 1;
          }
          targets[static_cast<std::size_t>(it - tags.begin())].push_back(target);
        }
        bool has_main = false;
        for (std::size_t t = 0; t < tags.size(); ++t) {
          OutputBase* out = targets[t].front();
          if (targets[t].size() > 1) {
            auto fan = types[t]->fan_out(targets[t]);
            out = fan.get();
            task->outputs.push_back(std::move(fan));
          }
          if (tags[t].empty()) {
            op->set_output(out);
            has_main = true;
          } else {
            op->add_side_output(tags[t], types[t]->type(), out);
          }
        }
        if (!has_main && jn.logical->out_type) {
          auto d = jn.logical->out_type->discard();
          op->set_output(d.get());
          task->outputs.push_back(std::move(d));
        }
      }
    }
  }
  // Last: from here on the coordinator may post to the tasks (and so schedule them), which
  // must be wired completely.
  if (!placement_) {
    std::vector<CheckpointCoordinator::TaskEntry> entries;
    for (std::size_t v = 0; v < graph_.vertices.size(); ++v) {
      const auto& vx = graph_.vertices[v];
      for (auto* t : tasks_of[v]) {
        CheckpointCoordinator::TaskEntry e{t, static_cast<int>(v), t->source != nullptr, {}, {}, vx.parallelism, t->info().subtask};
        for (int n : vx.nodes) {
          e.uids.push_back(uid_of(n));
          e.names.push_back(graph_.nodes[static_cast<std::size_t>(n)].name);
        }
        entries.push_back(std::move(e));
      }
    }
    coordinator_->set_tasks(std::move(entries), max_p);
  }
  // Input from other processes may arrive, and schedule its consumer, as soon as its channel is
  // open: so they open last, when every task is wired (the producers' frames wait for the
  // channel's first credit until then).
  for (std::size_t ci : remote_inputs) {
    const auto& pc = plan.channels[ci];
    const auto& part = plan.partitions[static_cast<std::size_t>(pc.partition)];
    Task* ct = task_at[static_cast<std::size_t>(pc.consumer)];
    remote_in_.push_back(placement_->open_input(static_cast<int32_t>(ci), plan.tasks[static_cast<std::size_t>(part.producer)].worker,
                                                pc.gate, &ct->gate, graph_.edges[static_cast<std::size_t>(part.edge)].type));
  }
}

void JobRun::start() {
  const int threads = config_.worker_threads > 0 ? config_.worker_threads : graph::default_parallelism();
  pool_ = std::make_unique<WorkerPool>(threads);
  try {
    if (placement_) {
      if (!placement_->restore_dir.empty()) {
        plan_ = load_restore_plan(placement_->restore_dir, operator_shapes(), graph_.max_parallelism,
                                  placement_->allow_non_restored);
      }
      int32_t processes = 1;
      for (int32_t p : placement_->task_process) processes = std::max(processes, p + 1);
      physical_ = graph::make_physical_plan(graph_, processes);
      if (placement_->task_process.size() != physical_.tasks.size()) {
        throw JobFailure("the placement names " + std::to_string(placement_->task_process.size()) + " tasks, the job has " +
                         std::to_string(physical_.tasks.size()) + " (the job graph differs between processes)");
      }
      for (std::size_t i = 0; i < physical_.tasks.size(); ++i) physical_.tasks[i].worker = placement_->task_process[i];
    } else {
      CheckpointCoordinator::Callbacks callbacks;
      callbacks.fail_job = [this](const std::string& m) { fail(m); };
      callbacks.stopped = [this] { stopped_with_savepoint(); };
      coordinator_ = std::make_unique<CheckpointCoordinator>(config_.checkpoint, id_, graph_.job_name,
                                                             config_.state_backend.name(), config_.clock, callbacks);
      if (config_.savepoint_restore.restore_savepoint()) {
        int64_t id = -1;
        plan_ = load_restore_plan(config_.savepoint_restore.get_restore_path(), operator_shapes(), graph_.max_parallelism,
                                  config_.savepoint_restore.allows_non_restored_state(), &id);
        coordinator_->set_restored(id, config_.savepoint_restore.get_restore_path());
      }
      physical_ = graph::make_physical_plan(graph_);
    }
    build();
  } catch (const std::exception& e) {
    {
      std::lock_guard lock(mu_);
      status_ = JobStatus::failed;
      ended_ = true;
    }
    join_pool();
    throw JobFailure("Job '" + graph_.job_name + "' could not start: " + e.what());
  }
  started_ = std::chrono::steady_clock::now();
  remaining_.store(static_cast<int>(tasks_.size()));
  if (coordinator_) coordinator_->start();
  if (config_.clock->is_manual()) {
    clock_listener_ = config_.clock->add_listener([this] { wake_due_tasks(); });
  } else {
    wake_thread_ = std::thread([this] { wakeup_loop(); });
  }
  {
    std::lock_guard lock(mu_);
    status_ = JobStatus::running;
    start_wall_ms_ = wall_ms();
    status_times_["CREATED"] = start_wall_ms_;
    status_times_["RUNNING"] = start_wall_ms_;
  }
  spdlog::debug("job '{}' ({}) starts {} tasks on {} threads", graph_.job_name, id_, tasks_.size(), threads);
  for (auto& t : tasks_) t->notify();
}

void JobRun::cancel() {
  {
    std::lock_guard lock(mu_);
    if (ended_) return;
    if (status_ == JobStatus::restarting) {
      status_ = JobStatus::canceling;  // the restart thread sees it and ends the job
      cv_.notify_all();
      return;
    }
    if (status_ == JobStatus::failing) {
      status_ = JobStatus::canceling;  // the tasks are already being canceled; no restart
      return;
    }
    if (status_ != JobStatus::running) return;
    status_ = JobStatus::canceling;
  }
  std::lock_guard lock(tasks_mu_);
  for (auto& t : tasks_) t->request_cancel();
}

int JobRun::restart_count() const {
  std::lock_guard lock(mu_);
  return restart_strategy_.restarts();
}

void JobRun::task_done(Task*) {
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) complete();
}

void JobRun::task_failed(Task* task, const std::string& message, bool recoverable) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (status_ == JobStatus::running && !recoverable) unrecoverable_ = true;
    if (status_ == JobStatus::running) {
      status_ = JobStatus::failing;
      failure_ = message;
      first = true;
      status_times_["FAILING"] = wall_ms();
      exceptions_.push_back(ExceptionRecord{wall_ms(), task->info().task_name + " (" + std::to_string(task->info().subtask + 1) + "/" +
                                                           std::to_string(task->info().parallelism) + ")", message});
      if (exceptions_.size() > 100) exceptions_.erase(exceptions_.begin());
    }
  }
  if (first) {
    spdlog::error("job '{}' fails: {}", graph_.job_name, message);
    if (placement_ && placement_->failed) placement_->failed(message, recoverable);
    if (coordinator_) coordinator_->abort_pending("the job failed");
    std::lock_guard lock(tasks_mu_);
    for (auto& t : tasks_) {
      if (t.get() != task) t->request_cancel();
    }
  } else {
    spdlog::debug("job '{}': further failure: {}", graph_.job_name, message);
  }
  task_done(task);
}

void JobRun::fail(const std::string& message) {
  {
    std::lock_guard lock(mu_);
    if (status_ != JobStatus::running) return;
    status_ = JobStatus::failing;
    failure_ = message;
    status_times_["FAILING"] = wall_ms();
    exceptions_.push_back(ExceptionRecord{wall_ms(), "", message});
    if (exceptions_.size() > 100) exceptions_.erase(exceptions_.begin());
  }
  spdlog::error("job '{}' fails: {}", graph_.job_name, message);
  if (placement_ && placement_->failed) placement_->failed(message, true);
  if (coordinator_) coordinator_->abort_pending("the job failed");
  std::lock_guard lock(tasks_mu_);
  for (auto& t : tasks_) t->request_cancel();
}

void JobRun::stopped_with_savepoint() {
  {
    std::lock_guard lock(mu_);
    if (status_ != JobStatus::running) return;
    status_ = JobStatus::canceling;
    stop_requested_ = true;
  }
  std::lock_guard lock(tasks_mu_);
  for (auto& t : tasks_) t->request_cancel();
}

std::future<std::string> JobRun::trigger_savepoint(const std::string& dir, bool stop) {
  if (dir.empty()) throw GraphError("trigger_savepoint: the folder must not be empty");
  if (!coordinator_) throw GraphError("trigger_savepoint: this process runs part of a cluster job; ask the coordinator");
  return coordinator_->trigger(checkpoint::path_of_uri(dir), stop);
}

std::future<std::string> JobRun::trigger_checkpoint() {
  if (!coordinator_) throw GraphError("trigger_checkpoint: this process runs part of a cluster job; ask the coordinator");
  return coordinator_->trigger();
}

CheckpointStats JobRun::checkpoint_stats() const {
  CheckpointStats s;
  if (!coordinator_) return s;
  s.completed = coordinator_->completed_count();
  s.failed = coordinator_->failed_count();
  s.last_duration_ms = coordinator_->last_duration_ms();
  s.last_size_bytes = coordinator_->last_size_bytes();
  const auto retained = coordinator_->completed();
  if (!retained.empty()) s.latest_path = retained.front().second;
  s.restored_checkpoint_id = coordinator_->restored_id();
  s.restored_path = coordinator_->restored_dir();
  s.fallbacks_past_committed = coordinator_->fallbacks_past_committed();
  return s;
}

void JobRun::complete() {
  const auto runtime =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  int64_t restart_delay = -1;
  {
    std::lock_guard lock(mu_);
    if (status_ == JobStatus::failing && !unrecoverable_) {
      if (auto delay = restart_strategy_.on_failure(config_.clock->now_ms())) {
        spdlog::warn("job '{}' restarts in {} ms (restart {}) after: {}", graph_.job_name, *delay,
                     restart_strategy_.restarts(), failure_);
        status_ = JobStatus::restarting;
        status_times_["RESTARTING"] = wall_ms();
        restart_delay = *delay;
      }
    }
  }
  if (restart_delay >= 0) {
    // The last task is finishing on this worker thread; the tasks are rebuilt on another one.
    // The previous restart thread has finished its work (all of its tasks ran), so joining it
    // here is short.
    std::thread previous;
    {
      std::lock_guard lock(mu_);
      previous = std::move(restart_thread_);
    }
    if (previous.joinable()) previous.join();
    std::lock_guard lock(mu_);
    restart_thread_ = std::thread([this, restart_delay] { restart(restart_delay); });
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (status_ == JobStatus::failing) {
      status_ = JobStatus::failed;
      const int n = restart_strategy_.restarts();
      const std::string after = n > 0 ? " (after " + std::to_string(n) + (n == 1 ? " restart)" : " restarts)") : "";
      promise_.set_exception(std::make_exception_ptr(JobFailure("Job '" + graph_.job_name + "' failed" + after + ": " + failure_)));
    } else if (status_ == JobStatus::canceling && stop_requested_) {
      status_ = JobStatus::finished;
      promise_.set_value(JobExecutionResult(id_, graph_.job_name, runtime));
    } else if (status_ == JobStatus::canceling) {
      status_ = JobStatus::canceled;
      if (coordinator_ && config_.checkpoint.get_externalized_checkpoint_retention() == CheckpointRetention::delete_on_cancellation) {
        coordinator_->discard_retained();
      }
      promise_.set_exception(std::make_exception_ptr(JobFailure("Job '" + graph_.job_name + "' was canceled")));
    } else {
      status_ = JobStatus::finished;
      promise_.set_value(JobExecutionResult(id_, graph_.job_name, runtime));
    }
    ended_ = true;
    end_wall_ms_ = wall_ms();
    status_times_[weir::to_string(status_)] = end_wall_ms_;
  }
  if (coordinator_) coordinator_->abort_pending("the job ended");
  pool_->stop();
  cv_.notify_all();
}

void JobRun::restart(int64_t delay_ms) {
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return status_ == JobStatus::canceling; });
    if (status_ == JobStatus::canceling) {
      status_ = JobStatus::canceled;
      promise_.set_exception(std::make_exception_ptr(JobFailure("Job '" + graph_.job_name + "' was canceled")));
      ended_ = true;
      end_wall_ms_ = wall_ms();
      status_times_[weir::to_string(status_)] = end_wall_ms_;
      pool_->stop();
      cv_.notify_all();
      return;
    }
    failure_.clear();
    ++attempt_;
  }
  {
    // Every task of the failed attempt is done; drop them and what refers to them.
    std::lock_guard lock(wake_mu_);
    wakeups_.clear();
  }
  try {
    coordinator_->abort_pending("the job restarts");
    choose_restore();
    // Without a completed checkpoint the job starts over (from its savepoint, if it had one).
    std::lock_guard lock(tasks_mu_);
    tasks_.clear();
    for (auto& c : channels_) stats_.sub(c->queued_bytes());  // events the failed attempt left behind
    channels_.clear();
    build();
    remaining_.store(static_cast<int>(tasks_.size()));
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    status_ = JobStatus::failed;
    promise_.set_exception(std::make_exception_ptr(JobFailure("Job '" + graph_.job_name + "' could not restart: " + e.what())));
    ended_ = true;
    end_wall_ms_ = wall_ms();
    status_times_[weir::to_string(status_)] = end_wall_ms_;
    pool_->stop();
    cv_.notify_all();
    return;
  }
  bool cancel_now;
  {
    std::lock_guard lock(mu_);
    cancel_now = status_ == JobStatus::canceling;
    if (!cancel_now) status_ = JobStatus::running;
  }
  std::lock_guard lock(tasks_mu_);
  for (auto& t : tasks_) {
    if (cancel_now) t->request_cancel();
    t->notify();
  }
}

void JobRun::choose_restore() {
  // The newest retained checkpoint that reads back intact. Going past a damaged newer one is
  // harmless while no task has acted on its completion (its sinks' transactions were never
  // committed; the older checkpoint's replay writes them once). Once one has, the output
  // between the two checkpoints is already committed and the replay writes it again: that
  // breaks exactly-once, so it is refused unless the configuration accepts it.
  const auto retained = coordinator_->completed();
  struct Damaged {
    int64_t id;
    std::string dir;
    std::string reason;
  };
  std::vector<Damaged> damaged;
  const std::pair<int64_t, std::string>* chosen = nullptr;
  for (const auto& c : retained) {
    try {
      plan_ = load_restore_plan(c.second, operator_shapes(), graph_.max_parallelism, false);
      chosen = &c;
      break;
    } catch (const StateError& e) {
      spdlog::error("job '{}': checkpoint {} ({}) cannot be restored: {}", graph_.job_name, c.first, c.second, e.what());
      damaged.push_back(Damaged{c.first, c.second, e.what()});
    }
  }
  if (!chosen && !retained.empty()) {
    std::string which;
    for (const auto& d : damaged) which += (which.empty() ? "" : "; ") + d.dir + ": " + d.reason;
    throw StateError("no retained checkpoint can be read back (" + which +
                     "); repair one (e.g. from a copy) and resume the job from it with SavepointRestoreSettings::for_path");
  }
  if (!chosen) return;
  const int64_t delivered = coordinator_->delivered_through();
  const Damaged* committed = nullptr;  // the newest damaged checkpoint whose completion a task acted on
  for (const auto& d : damaged) {
    if (d.id <= delivered) {
      committed = &d;
      break;
    }
  }
  if (committed) {
    const std::string what = "the newest retained checkpoint " + std::to_string(committed->id) + " ('" + committed->dir +
                             "') is damaged (" + committed->reason + ") and its output is already committed (tasks " +
                             "heard of its completion); restoring the older checkpoint " + std::to_string(chosen->first) +
                             " ('" + chosen->second + "') would write the output between the two again";
    if (!config_.checkpoint.allows_fallback_past_committed_checkpoint()) {
      throw StateError(what + ". Either restore checkpoint " + std::to_string(committed->id) +
                       " by hand (repair its folder, e.g. from a copy, and resume the job from it with "
                       "SavepointRestoreSettings::for_path), or accept duplicates: "
                       "get_checkpoint_config().set_allow_fallback_past_committed_checkpoint(true)");
    }
    coordinator_->count_fallback_past_committed();
    spdlog::error("job '{}': exactly-once is broken: {}; allowed by set_allow_fallback_past_committed_checkpoint",
                  graph_.job_name, what);
  } else if (!damaged.empty()) {
    spdlog::warn("job '{}': going past damaged checkpoint {} to checkpoint {}; no task had acted on its completion, so "
                 "nothing is written twice",
                 graph_.job_name, damaged.front().id, chosen->first);
  }
  // A damaged checkpoint is not restored again; its folder stays for inspection.
  for (const auto& d : damaged) coordinator_->forget_completed(d.dir);
  spdlog::info("job '{}' restores checkpoint {} ({})", graph_.job_name, chosen->first, chosen->second);
  coordinator_->set_restored(chosen->first, chosen->second);
}

void JobRun::join_pool() {
  std::thread restart_thread;
  {
    std::lock_guard lock(mu_);
    if (joined_ || !pool_) return;
    joined_ = true;
    restart_thread = std::move(restart_thread_);
  }
  if (restart_thread.joinable()) restart_thread.join();
  pool_->stop();
  pool_->join();
  if (coordinator_) coordinator_->shutdown();
  if (clock_listener_) config_.clock->remove_listener(clock_listener_);
  {
    std::lock_guard lock(wake_mu_);
    wake_stop_ = true;
    wakeups_.clear();
  }
  wake_cv_.notify_all();
  if (wake_thread_.joinable()) wake_thread_.join();
}

void JobRun::schedule_wakeup(Task* task, int64_t time) {
  {
    std::lock_guard lock(wake_mu_);
    if (wake_stop_) return;
    wakeups_.emplace(time, task);
  }
  wake_cv_.notify_one();
  if (config_.clock->is_manual() && time <= config_.clock->now_ms()) wake_due_tasks();
}

void JobRun::wake_due_tasks() {
  // Notifies under the lock: a restart clears the wake-ups under it before it frees the tasks.
  // (notify() only takes a worker queue's lock, never wake_mu_.)
  std::lock_guard lock(wake_mu_);
  if (wake_stop_) return;
  const int64_t now = config_.clock->now_ms();
  while (!wakeups_.empty() && wakeups_.begin()->first <= now) {
    wakeups_.begin()->second->notify();
    wakeups_.erase(wakeups_.begin());
  }
}

void JobRun::wakeup_loop() {
  std::unique_lock lock(wake_mu_);
  while (!wake_stop_) {
    if (wakeups_.empty()) {
      wake_cv_.wait(lock);
      continue;
    }
    const int64_t wait_ms = wakeups_.begin()->first - config_.clock->now_ms();
    if (wait_ms > 0) {
      wake_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
      continue;
    }
    lock.unlock();
    wake_due_tasks();
    lock.lock();
  }
}

JobExecutionResult JobRun::wait() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ended_; });
  }
  join_pool();
  return future_.get();  // rethrows the failure
}

JobStatus JobRun::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::vector<TaskMetrics> JobRun::metrics() const {
  std::lock_guard lock(tasks_mu_);
  std::vector<TaskMetrics> out;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& t : tasks_) {
    TaskMetrics m;
    m.task_name = t->info().task_name;
    m.subtask = t->info().subtask;
    m.vertex = t->vertex;
    m.records_in = t->records_in.load(std::memory_order_relaxed);
    m.records_out = t->source != nullptr ? t->records_out.load(std::memory_order_relaxed)
                                         : t->sent_records.load(std::memory_order_relaxed);
    m.backpressured_count = t->backpressured.load(std::memory_order_relaxed);
    m.input_watermark = t->input_watermark.load(std::memory_order_relaxed);
    m.output_watermark = t->output_watermark.load(std::memory_order_relaxed);
    m.watermark_holding_channel = t->holding_channel.load(std::memory_order_relaxed);
    m.state_memory_bytes = t->state_memory.load(std::memory_order_relaxed);
    m.state_memory_peak_bytes = t->state_memory_peak.load(std::memory_order_relaxed);
    m.state_disk_bytes = t->state_disk.load(std::memory_order_relaxed);
    m.bytes_in = t->bytes_in.load(std::memory_order_relaxed);
    m.bytes_out = t->bytes_out.load(std::memory_order_relaxed);
    m.busy_ns = t->busy_ns.load(std::memory_order_relaxed);
    m.backpressured_ns = t->backpressured_ns.load(std::memory_order_relaxed);
    m.lifetime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t->created).count();
    for (std::size_t i = 0; i < t->channel_view_count; ++i) {
      const auto& v = t->channel_views[i];
      const auto flags = v.flags.load(std::memory_order_relaxed);
      m.inputs.push_back(InputChannelMetrics{v.input, v.upstream_vertex, v.upstream_subtask,
                                             v.watermark.load(std::memory_order_relaxed), (flags & 1) != 0,
                                             (flags & 2) != 0});
    }
    for (const auto& [op, group] : t->metric_groups()) {
      for (auto& [name, value] : group->values()) m.operator_metrics[op + "." + name] = value;
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace runtime
}  // namespace weir
