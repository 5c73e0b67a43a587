#include "cluster/worker.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "cluster/cluster.grpc.pb.h"
#include "cluster/session.h"

namespace weir::cluster {

namespace {

struct Child {
  std::string job_id;
  int attempt = 0;
  int process = 0;
  std::string log;
};

std::string tail_of(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t from = size > n ? size - n : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string s(size - from, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

struct Worker::Impl {
  explicit Impl(WorkerOptions o) : opt(std::move(o)) {
    if (opt.worker_id.empty()) {
      std::mt19937_64 rng{std::random_device{}()};
      opt.worker_id = fmt::format("w{:08x}", static_cast<uint32_t>(rng()));
    }
    if (opt.work_dir.empty()) {
      opt.work_dir = (std::filesystem::temp_directory_path() / ("weir-worker-" + opt.worker_id)).string();
      own_dir = true;
    }
    std::filesystem::create_directories(opt.work_dir);
    if (opt.python.empty()) {
      const char* p = std::getenv("WEIR_PYTHON");
      opt.python = p && *p ? p : "python3";
    }
    coordinators = split_list(opt.coordinator, ',');
    if (coordinators.empty()) throw std::invalid_argument("--coordinator: no address given (HOST:PORT[,HOST:PORT...])");
  }

  WorkerOptions opt;
  bool own_dir = false;
  std::vector<std::string> coordinators;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::map<pid_t, Child> children;  // guarded by mu
  grpc::ClientContext* ctx = nullptr;  // the current session's (guarded by mu)
  Outbox<rpc::WorkerMessage>* out = nullptr;  // guarded by mu
  int64_t last_heard = 0;                     // guarded by mu

  void kill_children(const std::string& job = {}, int up_to_attempt = -1) {
    std::lock_guard lock(mu);
    for (auto& [pid, c] : children) {
      if (job.empty() || (c.job_id == job && c.attempt <= up_to_attempt)) ::kill(pid, SIGKILL);
    }
  }

  void deploy(const rpc::Deploy& d) {
    const auto dir = std::filesystem::path(opt.work_dir) / d.job_id() / ("attempt-" + std::to_string(d.attempt()));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    try {
      if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
      for (const auto& f : d.files()) {
        if (f.name().empty() || f.name().find('/') != std::string::npos || f.name() == "." || f.name() == "..") {
          throw std::runtime_error("job file name '" + f.name() + "' is not a plain file name");
        }
        const auto path = dir / f.name();
        std::ofstream o(path, std::ios::binary | std::ios::trunc);
        o.write(f.content().data(), static_cast<std::streamsize>(f.content().size()));
        o.close();
        if (!o) throw std::runtime_error("cannot write " + path.string());
        if (f.executable()) ::chmod(path.c_str(), 0755);
      }
      const auto dep = dir / ("deployment-" + std::to_string(d.process()) + ".pb");
      {
        std::ofstream o(dep, std::ios::binary | std::ios::trunc);
        o << d.deployment();
        if (!o) throw std::runtime_error("cannot write " + dep.string());
      }
      std::vector<std::string> argv;
      const std::string entry = (dir / d.entry()).string();
      if (d.entry().size() > 3 && d.entry().compare(d.entry().size() - 3, 3, ".py") == 0) {
        argv = {opt.python, "-m", "weir", entry};
      } else {
        argv = {entry};
      }
      for (const auto& a : d.args()) argv.push_back(a);
      const auto log = (dir / ("process-" + std::to_string(d.process()) + ".log")).string();
      std::vector<std::string> env = {"WEIR_TASK_DEPLOYMENT=" + dep.string()};
      for (const auto& e : d.env()) env.push_back(e);
      const pid_t parent = ::getpid();
      const pid_t pid = ::fork();
      if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
      if (pid == 0) {
        // The child: dies with the worker, logs to its file, runs the job's program.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
          ::dup2(fd, 1);
          ::dup2(fd, 2);
          ::close(fd);
        }
        if (::chdir(dir.c_str()) != 0) ::_exit(126);
        ::unsetenv("WEIR_COORDINATOR");
        for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
      }
      std::lock_guard lock(mu);
      children[pid] = Child{d.job_id(), d.attempt(), d.process(), log};
      spdlog::info("worker {}: job {} attempt {} process {} started (pid {})", opt.worker_id, d.job_id(), d.attempt(), d.process(), pid);
    } catch (const std::exception& e) {
      spdlog::error("worker {}: cannot start job {} attempt {}: {}", opt.worker_id, d.job_id(), d.attempt(), e.what());
      rpc::WorkerMessage m;
      auto* x = m.mutable_exited();
      x->set_job_id(d.job_id());
      x->set_attempt(d.attempt());
      x->set_process(d.process());
      x->set_exit_code(127);
      x->set_output_tail(e.what());
      send(std::move(m));
    }
  }

  void send(rpc::WorkerMessage m) {
    std::lock_guard lock(mu);
    if (out) out->send(std::move(m));
  }

  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      Child c;
      {
        std::lock_guard lock(mu);
        auto it = children.find(pid);
        if (it == children.end()) continue;
        c = it->second;
        children.erase(it);
      }
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      spdlog::info("worker {}: job {} attempt {} process {} ended ({} {})", opt.worker_id, c.job_id, c.attempt, c.process,
                   code < 0 ? "signal" : "exit code", std::abs(code));
      rpc::WorkerMessage m;
      auto* x = m.mutable_exited();
      x->set_job_id(c.job_id);
      x->set_attempt(c.attempt);
      x->set_process(c.process);
      x->set_exit_code(code);
      if (code != 0) x->set_output_tail(tail_of(c.log, 2000));
      send(std::move(m));
    }
  }

  /// One session with a coordinator; returns when it ends.
  void session(const std::string& address) {
    grpc::ClientContext context;
    auto stub = rpc::Coordinator::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    auto stream = stub->WorkerSession(&context);
    Outbox<rpc::WorkerMessage> outbox([&](const rpc::WorkerMessage& m) { return stream->Write(m); },
                                      [&context] { context.TryCancel(); });
    {
      std::lock_guard lock(mu);
      ctx = &context;
      out = &outbox;
      last_heard = steady_ms();
    }
    rpc::WorkerMessage reg;
    reg.mutable_register_()->set_worker_id(opt.worker_id);
    reg.mutable_register_()->set_host(opt.bind);
    reg.mutable_register_()->set_slots(opt.slots);
    reg.mutable_register_()->set_secret(opt.secret);
    outbox.send(reg);
    // Until the coordinator says otherwise: a coordinator that does not answer a registration
    // within 3 s is unreachable (a cut-off host answers nothing), try the next one.
    std::atomic<int64_t> interval{1000};
    std::atomic<int64_t> timeout{3000};
    std::atomic<bool> done{false};
    bool registered = false;
    std::thread beat([&] {
      int64_t last_sent = 0;
      while (!done && !stopping) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(interval, 100)));
        reap();
        const int64_t now = steady_ms();
        int64_t heard;
        {
          std::lock_guard lock(mu);
          heard = last_heard;
        }
        if (now - heard > timeout) {
          spdlog::warn("worker {}: no heartbeat from the coordinator {} for {} ms", opt.worker_id, address, now - heard);
          context.TryCancel();
          return;
        }
        if (now - last_sent >= interval) {
          last_sent = now;
          rpc::WorkerMessage hb;
          hb.mutable_heartbeat()->set_sent_ms(now_ms());
          outbox.send(hb);
        }
      }
      if (stopping) context.TryCancel();
    });
    rpc::ToWorker m;
    while (stream->Read(&m)) {
      {
        std::lock_guard lock(mu);
        last_heard = steady_ms();
      }
      if (m.has_registered()) {
        registered = true;
        interval = std::max<int64_t>(50, m.registered().heartbeat_interval_ms());
        timeout = std::max<int64_t>(interval * 2, m.registered().heartbeat_timeout_ms());
        spdlog::info("worker {} registered with the coordinator {} ({} slots)", opt.worker_id, address, opt.slots);
      } else if (m.has_deploy()) {
        deploy(m.deploy());
      } else if (m.has_kill()) {
        kill_children(m.kill().job_id(), m.kill().attempt());
      } else if (m.has_rejected()) {
        spdlog::warn("worker {}: the coordinator {} refused it: {}", opt.worker_id, address, m.rejected());
        break;
      }
    }
    done = true;
    context.TryCancel();
    beat.join();
    {
      std::lock_guard lock(mu);
      ctx = nullptr;
      out = nullptr;
    }
    outbox.close();
    if (registered) {
      // The coordinator restarts its jobs elsewhere (or, a new leader, from their checkpoints):
      // what runs here belongs to attempts that are over.
      if (stopping) {
        spdlog::info("worker {} stops", opt.worker_id);
      } else {
        spdlog::warn("worker {}: lost the coordinator {}; stops its task processes", opt.worker_id, address);
      }
      kill_children();
    }
  }
};

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Worker::~Worker() {
  stop();
  impl_->kill_children();
  for (int i = 0; i < 50; ++i) {
    impl_->reap();
    std::lock_guard lock(impl_->mu);
    if (impl_->children.empty()) break;
  }
}

void Worker::run(const std::atomic<bool>* stop_flag) {
  auto& i = *impl_;
  std::thread watcher;
  if (stop_flag) {
    watcher = std::thread([&] {
      while (!i.stopping && !stop_flag->load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      stop();
    });
  }
  std::size_t k = 0;
  while (!i.stopping) {
    i.session(i.coordinators[k % i.coordinators.size()]);
    ++k;
    for (int n = 0; n < 5 && !i.stopping; ++n) {
      i.reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (watcher.joinable()) watcher.join();
}

void Worker::stop() {
  auto& i = *impl_;
  i.stopping = true;
  std::lock_guard lock(i.mu);
  if (i.ctx) i.ctx->TryCancel();
}

}  // namespace weir::cluster
