#include "cluster_commands.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/client.h"
#include "cluster/cluster.pb.h"
#include "cluster/coordinator.h"
#include "cluster/worker.h"
#include "weir/common/logging.hpp"

namespace weir::cli {

namespace {

struct Options {
  cluster::CoordinatorOptions coord;
  cluster::WorkerOptions worker;
  std::string address;  // client commands
  int parallelism = 0;
  bool detached = false;
  std::string job;
  std::string job_id;
  std::string savepoint_dir;
  bool json = false;
  bool quiet = false;
  double status_interval = 10;
  int64_t heartbeat_interval = 1000;
  int64_t heartbeat_timeout = 6000;
  int64_t slot_timeout = 300000;
  int64_t attach_timeout = 120000;
};

Options& opts() {
  static Options o;
  return o;
}

std::string default_coordinator() {
  const char* c = std::getenv("WEIR_COORDINATOR");
  return c && *c ? c : "127.0.0.1:6123";
}

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::canonical("/proc/self/exe", ec);
  return ec ? "weir" : p.string();
}

bool is_python(const std::string& f) { return f.size() > 3 && f.compare(f.size() - 3, 3, ".py") == 0; }

/// Starts the job's program with `env` added; returns its pid (or -1, with a message).
pid_t spawn_job(const std::string& job, const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv;
  if (is_python(job)) {
    argv = {python_for_jobs(), "-m", "weir", job};
  } else {
    argv = {job};
  }
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "weir: fork: %s\n", std::strerror(errno));
    return -1;
  }
  if (pid == 0) {
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    std::fprintf(stderr, "weir: cannot run %s: %s\n", a[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

/// Waits for the job's program; `tick` runs about every 20 ms meanwhile.
int wait_child(pid_t pid, const std::atomic<bool>& interrupted, const std::function<void()>& tick) {
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return 1;
    if (interrupted) ::kill(pid, SIGTERM);
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// A cluster job's status as the coordinator has it (task metrics come with heartbeats).
StatusSample sample_of(const cluster::rpc::JobInfo& info) {
  StatusSample s;
  s.at_s = monotonic_s();
  s.wall_ms = wall_clock_ms();
  s.state = info.status();
  s.restarts = info.restarts();
  s.checkpoints = info.completed_checkpoints();
  s.last_checkpoint_ms = info.last_checkpoint_ms();
  s.last_checkpoint_bytes = -1;  // the coordinator does not report sizes
  for (const auto& t : info.tasks()) {
    TaskMetrics m;
    m.task_name = t.vertex();
    m.subtask = t.subtask();
    m.records_in = static_cast<uint64_t>(std::max<int64_t>(0, t.records_in()));
    m.records_out = static_cast<uint64_t>(std::max<int64_t>(0, t.records_out()));
    // Only a running task's watermark counts (a deploying one has none yet).
    m.output_watermark = t.state() == "running" ? t.watermark() : std::numeric_limits<int64_t>::min();
    s.tasks.push_back(std::move(m));
  }
  return s;
}

/// The job id the program wrote once it submitted (empty until the whole line is there).
std::string read_job_id(const std::filesystem::path& idfile) {
  std::ifstream in(idfile);
  std::string line;
  if (!std::getline(in, line) || in.eof()) return {};  // no newline yet: still being written
  return line;
}

/// Each argument followed by \x1f (WEIR_SUBMIT_ARGS; empty arguments survive).
std::string join_args(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += a + '\x1f';
  return s;
}

/// Runs the job's program so that its execute() submits to `coordinator`.
int submit_job(const std::string& coordinator, const std::string& job, const std::vector<std::string>& args, int parallelism,
               bool detached, const std::atomic<bool>& interrupted, const StatusOptions& status) {
  std::error_code ec;
  const auto path = std::filesystem::canonical(job, ec);
  if (ec) {
    std::fprintf(stderr, "weir submit: no job file %s\n", job.c_str());
    return 2;
  }
  if (!is_python(job) && ::access(path.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "weir submit: %s is neither a .py file nor an executable program that links Weir\n", job.c_str());
    return 2;
  }
  const auto idfile = std::filesystem::temp_directory_path() / fmt::format("weir-submit-{}.id", ::getpid());
  std::vector<std::string> env = {"WEIR_COORDINATOR=" + coordinator, "WEIR_SUBMIT_FILES=" + path.string(),
                                  "WEIR_SUBMIT_ARGS=" + join_args(args), "WEIR_SUBMIT_ID_FILE=" + idfile.string()};
  if (detached) env.push_back("WEIR_SUBMIT_DETACHED=1");
  env.push_back("WEIR_STATUS=off");  // the status line is this process's (from the coordinator), not the program's
  if (parallelism > 0) env.push_back("WEIR_DEFAULT_PARALLELISM=" + std::to_string(parallelism));
  const pid_t pid = spawn_job(path.string(), args, env);
  if (pid < 0) return 1;
  // The status line, from the coordinator, once the program has submitted the job.
  StatusPrinter printer(detached ? status_options(true, 10) : status, JobShape{});
  std::string id;
  std::unique_ptr<cluster::ClusterClient> client;
  bool shape_known = false;
  const Sampler sample = [&]() -> std::optional<StatusSample> {
    if (id.empty()) id = read_job_id(idfile);
    if (id.empty()) return std::nullopt;
    try {
      if (!client) client = std::make_unique<cluster::ClusterClient>(coordinator);
      const auto info = client->get(id);
      if (!shape_known) {
        printer.set_shape(JobShape::from_plan_json(info.plan_json()));
        shape_known = true;
      }
      return sample_of(info);
    } catch (const std::exception& e) {
      spdlog::debug("status of job {}: {}", id, e.what());
      return std::nullopt;
    }
  };
  int code = wait_child(pid, interrupted, [&] {
    if (printer.enabled()) printer.tick(sample);
  });
  if (printer.enabled()) printer.finish(sample);
  if (id.empty()) id = read_job_id(idfile);
  std::filesystem::remove(idfile, ec);
  if (id.empty()) return code;  // the program ended before it submitted a job (its own error)
  if (detached) {
    std::printf("Job submitted: %s\n", id.c_str());
    return code;
  }
  // The job's outcome decides, whatever the program did with it (a C++ program that does not
  // catch the failure ends with an abort): 0, or the failure's cause and 1.
  try {
    cluster::ClusterClient client(coordinator);
    const auto info = client.get(id);
    if (info.status() == "FINISHED") {
      std::printf("Job %s finished\n", id.c_str());
      return code;
    }
    if (info.status() == "FAILED" || info.status() == "CANCELED") {
      std::fprintf(stderr, "weir submit: %s\n",
                   info.status() == "FAILED" ? info.failure().c_str() : ("job " + id + " was canceled").c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir submit: cannot read job %s's outcome: %s\n", id.c_str(), e.what());
  }
  std::printf("Job %s did not finish\n", id.c_str());
  return code == 0 ? 1 : code;
}

void print_jobs(const cluster::rpc::JobList& list, bool json) {
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& j : list.jobs()) {
      out.push_back({{"id", j.job_id()},
                     {"name", j.name()},
                     {"status", j.status()},
                     {"restarts", j.restarts()},
                     {"checkpoints", j.completed_checkpoints()},
                     {"last_checkpoint_ms", j.last_checkpoint_ms()},
                     {"attempt", j.attempt()},
                     {"failure", j.failure()}});
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("%-32s  %-10s  %8s  %11s  %s\n", "JOB ID", "STATUS", "RESTARTS", "CHECKPOINTS", "NAME");
  for (const auto& j : list.jobs()) {
    std::printf("%-32s  %-10s  %8d  %11lld  %s\n", j.job_id().c_str(), j.status().c_str(), j.restarts(),
                static_cast<long long>(j.completed_checkpoints()), j.name().c_str());
  }
}

}  // namespace

void apply_log_level() {
  if (const char* v = std::getenv("WEIR_LOG")) spdlog::set_level(spdlog::level::from_str(v));
}

std::string python_for_jobs() {
  const char* py = std::getenv("WEIR_PYTHON");
#ifdef WEIR_DEFAULT_PYTHON
  std::string python = py != nullptr && *py != '\0' ? py : WEIR_DEFAULT_PYTHON;
  if (!std::filesystem::exists(python)) python = "python3";
#else
  std::string python = py != nullptr && *py != '\0' ? py : "python3";
#endif
  std::error_code ec;
  const auto self = std::filesystem::canonical("/proc/self/exe", ec);
  if (!ec) {
    const auto pkg = self.parent_path().parent_path().parent_path() / "python";
    if (std::filesystem::exists(pkg / "weir" / "__init__.py")) {
      const char* old = std::getenv("PYTHONPATH");
      const std::string p = pkg.string();
      if (!old || std::string(old).find(p) == std::string::npos) {
        std::string path = p + (old != nullptr && *old != '\0' ? ":" + std::string(old) : "");
        ::setenv("PYTHONPATH", path.c_str(), 1);
      }
    }
  }
  ::setenv("WEIR_PYTHON", python.c_str(), 0);
  return python;
}

ClusterCommands add_cluster_commands(CLI::App& app) {
  auto& o = opts();
  ClusterCommands c;
  c.coordinator = app.add_subcommand("coordinator", "Run a cluster's coordinator (Flink's JobManager)");
  c.coordinator->add_option("--bind", o.coord.bind, "HOST:PORT to listen on (port 0: any free one)")->capture_default_str();
  c.coordinator->add_option("--checkpoint-dir", o.coord.checkpoint_dir,
                            "Checkpoints of jobs that configure no storage (a folder every process shares)");
  c.coordinator->add_option("--ha", o.coord.ha, "etcd://HOST:PORT[,HOST:PORT]/PREFIX: leader election and job metadata in etcd");
  c.coordinator->add_option("--secret", o.coord.secret, "Shared secret every worker, task process and client must present (or WEIR_CLUSTER_SECRET)");
  c.coordinator->add_option("--heartbeat-interval", o.heartbeat_interval, "ms between heartbeats")->capture_default_str();
  c.coordinator->add_option("--heartbeat-timeout", o.heartbeat_timeout, "ms without a heartbeat before a worker counts as lost")
      ->capture_default_str();
  c.coordinator->add_option("--slot-timeout", o.slot_timeout, "ms a job waits for free slots before it fails")->capture_default_str();
  c.coordinator->add_option("--attach-timeout", o.attach_timeout,
                            "ms a job attempt's processes have to start and attach before the attempt fails")
      ->capture_default_str();
  c.coordinator->add_option("--rest", o.coord.rest_bind,
                            "Serve the REST API and web UI on HOST:PORT (port 0: any free one; off by default)");
  c.coordinator->add_option("--rest-token", o.coord.rest_token,
                            "Token the API's changing routes need (or WEIR_REST_TOKEN; random by default, printed in the UI's URL)");
  c.coordinator->add_option("--web-upload-dir", o.coord.upload_dir,
                            "Enable job submission through the API and UI; uploaded programs are stored here");
  c.coordinator->add_option("--log-dir", o.coord.log_dir, "Log files the API may serve (/jobmanager/logs)");
  c.coordinator->add_option("--web-root", o.coord.web_root, "The web UI's built files (default: the installed ones)");
  c.coordinator->footer("Prints its address (HOST:PORT) on stdout once it serves, and with --rest the web UI's URL\n"
                        "on stderr (\"Weir UI: http://...\"); runs until Ctrl-C or SIGTERM.");

  c.worker = app.add_subcommand("worker", "Run a worker (Flink's TaskManager): offers slots, runs the tasks placed on them");
  c.worker->add_option("--coordinator", o.worker.coordinator, "HOST:PORT[,HOST:PORT...] of the coordinator(s)")->required();
  c.worker->add_option("--slots", o.worker.slots, "Slots (each runs one subtask of every operator)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  c.worker->add_option("--bind", o.worker.bind, "Address its task processes listen on for data")->capture_default_str();
  c.worker->add_option("--work-dir", o.worker.work_dir, "Folder of job files and process logs (a temporary one by default)");
  c.worker->add_option("--secret", o.worker.secret, "The cluster's shared secret (or WEIR_CLUSTER_SECRET)");
  c.worker->add_option("--id", o.worker.worker_id, "A stable name for this worker (random by default)");

  c.submit = app.add_subcommand("submit", "Submit a job (a .py file or a program that links Weir) to a cluster");
  c.submit->add_option("--coordinator", o.address, "HOST:PORT[,...] (default: $WEIR_COORDINATOR or 127.0.0.1:6123)");
  c.submit->add_option("-p,--parallelism", o.parallelism, "Default parallelism of the job's operators")->check(CLI::PositiveNumber);
  c.submit->add_flag("-d,--detached", o.detached, "Return once the job is submitted");
  c.submit->add_flag("-q,--quiet", o.quiet, "No status line");
  c.submit->add_option("--status-interval", o.status_interval,
                       "Seconds between status lines when stderr is not a terminal (a terminal's refreshes in place)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  c.submit->add_option("job", o.job, "The job: a .py file or an executable")->required();
  c.submit->prefix_command();

  c.list = app.add_subcommand("list", "List a cluster's jobs");
  c.list->add_option("--coordinator", o.address, "HOST:PORT[,...]");
  c.list->add_flag("--json", o.json, "Print JSON");

  c.cancel = app.add_subcommand("cancel", "Cancel a cluster job");
  c.cancel->add_option("--coordinator", o.address, "HOST:PORT[,...]");
  c.cancel->add_option("job_id", o.job_id, "The job's id (weir list)")->required();

  c.stop = app.add_subcommand("stop", "Stop a cluster job with a savepoint");
  c.stop->add_option("--coordinator", o.address, "HOST:PORT[,...]");
  c.stop->add_option("job_id", o.job_id, "The job's id (weir list)")->required();
  c.stop->add_option("--savepoint", o.savepoint_dir, "Folder of the savepoint")->required();
  return c;
}

int trigger_savepoint(const std::string& coordinator, const std::string& job_id, const std::string& dir) {
  cluster::ClusterClient client(coordinator.empty() ? default_coordinator() : coordinator);
  std::printf("Savepoint completed: %s\n", client.savepoint(job_id, dir, false).c_str());
  return 0;
}

int run_with_workers(int workers, const std::string& job, const std::vector<std::string>& args,
                     const std::atomic<bool>& interrupted, const StatusOptions& status) {
  python_for_jobs();
  // The local cluster is the job's means, not its output: warnings and errors only (WEIR_LOG
  // overrides, in this process, the workers and the job's processes).
  ::setenv("WEIR_LOG", "warn", 0);
  apply_log_level();
  cluster::CoordinatorOptions co;
  co.bind = "127.0.0.1:0";
  // `weir run --ui ADDR --workers N`: the coordinator serves the workspace (the job's own
  // processes do not).
  if (const char* ui = std::getenv("WEIR_UI"); ui && *ui) {
    co.rest_bind = ui;
    if (const char* t = std::getenv("WEIR_UI_TOKEN")) co.rest_token = t;
    if (const char* d = std::getenv("WEIR_WEB_UPLOAD_DIR")) co.upload_dir = d;
    ::unsetenv("WEIR_UI");
  }
  cluster::Coordinator coordinator(co);
  coordinator.start();
  const std::string address = coordinator.address();
  if (!coordinator.rest_url().empty()) {
    std::fprintf(stderr, "Weir UI: %s\n", coordinator.rest_url().c_str());
    std::fflush(stderr);
  }
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  std::vector<pid_t> pids;
  for (int i = 0; i < workers; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::string slots = std::to_string(hw);
      std::string exe = self_exe();
      std::vector<std::string> a = {exe, "worker", "--coordinator", address, "--slots", slots, "--id", "local-" + std::to_string(i)};
      std::vector<char*> argv;
      for (auto& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  const char* p = std::getenv("WEIR_DEFAULT_PARALLELISM");
  const int parallelism = p && *p ? std::atoi(p) : workers;
  const int code = submit_job(address, job, args, parallelism, false, interrupted, status);
  for (pid_t pid : pids) ::kill(pid, SIGTERM);
  for (pid_t pid : pids) {
    int st = 0;
    for (int i = 0; i < 100 && ::waitpid(pid, &st, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
  }
  coordinator.shutdown();
  return code;
}

int run_cluster_command(const ClusterCommands& c, const std::atomic<bool>& interrupted) {
  auto& o = opts();
  const std::string address = o.address.empty() ? default_coordinator() : o.address;
  if (c.coordinator->parsed()) {
    weir::log_to_stderr();
    apply_log_level();
    o.coord.heartbeat_interval = std::chrono::milliseconds(o.heartbeat_interval);
    o.coord.heartbeat_timeout = std::chrono::milliseconds(o.heartbeat_timeout);
    o.coord.slot_timeout = std::chrono::milliseconds(o.slot_timeout);
    o.coord.attach_timeout = std::chrono::milliseconds(o.attach_timeout);
    if (o.coord.secret.empty()) {
      if (const char* s = std::getenv("WEIR_CLUSTER_SECRET")) o.coord.secret = s;
    }
    if (o.coord.rest_token.empty()) {
      if (const char* t = std::getenv("WEIR_REST_TOKEN")) o.coord.rest_token = t;
    }
    cluster::Coordinator coordinator(o.coord);
    coordinator.start();
    std::printf("%s\n", coordinator.address().c_str());
    std::fflush(stdout);
    if (!coordinator.rest_url().empty()) {
      std::fprintf(stderr, "Weir UI: %s\n", coordinator.rest_url().c_str());
      std::fflush(stderr);
    }
    coordinator.wait(&interrupted);
    coordinator.shutdown();
    return 0;
  }
  if (c.worker->parsed()) {
    weir::log_to_stderr();
    apply_log_level();
    python_for_jobs();
    if (o.worker.secret.empty()) {
      if (const char* s = std::getenv("WEIR_CLUSTER_SECRET")) o.worker.secret = s;
    }
    cluster::Worker worker(o.worker);
    worker.run(&interrupted);
    return 0;
  }
  if (c.submit->parsed()) {
    return submit_job(address, o.job, c.submit->remaining(), o.parallelism, o.detached, interrupted,
                      status_options(o.quiet, o.status_interval));
  }
  if (c.list->parsed()) {
    cluster::ClusterClient client(address);
    print_jobs(client.list(), o.json);
    return 0;
  }
  if (c.cancel->parsed()) {
    cluster::ClusterClient client(address);
    const auto info = client.cancel(o.job_id);
    std::printf("Job %s: %s\n", info.job_id().c_str(), info.status().c_str());
    return 0;
  }
  if (c.stop->parsed()) {
    cluster::ClusterClient client(address);
    std::printf("Savepoint completed: %s\n", client.savepoint(o.job_id, o.savepoint_dir, true).c_str());
    const auto info = client.wait(o.job_id, std::chrono::seconds(60));
    std::printf("Job %s: %s\n", info.job_id().c_str(), info.status().c_str());
    return 0;
  }
  return -1;
}

}  // namespace weir::cli
