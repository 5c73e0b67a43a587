#pragma once
/// A real single-member etcd for tests: started on free 127.0.0.1 ports with its data in a given
/// folder, stopped (SIGTERM, then SIGKILL) by its destructor, so a failing test stops it too;
/// killed by the kernel when the thread that started it dies (a crashed test).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace weir::cluster::testing {

/// A port no one listens on now (bound to 0 then closed; the kernel does not hand it out again
/// at once).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("binding a free port failed: " + err);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string etcd_binary() {
  if (const char* b = std::getenv("WEIR_ETCD_BINARY")) return b;
  return "/usr/bin/etcd";
}

class EtcdProcess {
 public:
  /// Starts etcd with its data in `data_dir` (made if missing; kept, so a restart with the same
  /// folder finds the same data), and waits until it answers. Ports: free ones, or those given.
  explicit EtcdProcess(std::string data_dir, int client_port = 0, int peer_port = 0)
      : data_dir_(std::move(data_dir)),
        client_port_(client_port != 0 ? client_port : free_port()),
        peer_port_(peer_port != 0 ? peer_port : free_port()) {
    start();
  }
  ~EtcdProcess() { stop(); }
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  int client_port() const { return client_port_; }
  int peer_port() const { return peer_port_; }
  const std::string& data_dir() const { return data_dir_; }
  bool running() const { return pid_ > 0; }

  /// Starts it again (same ports, same data) after stop() or kill().
  void start() {
    if (pid_ > 0) return;
    std::filesystem::create_directories(data_dir_);
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    // Short raft timings: a single member elects itself fast, and the lease minimum
    // (1.5 election timeouts, rounded up to whole seconds) is 1 s.
    std::vector<std::string> args = {etcd_binary(),
                                     "--name=weir-test",
                                     "--data-dir=" + data_dir_ + "/data",
                                     "--listen-client-urls=" + client,
                                     "--advertise-client-urls=" + client,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=weir-test=" + peer,
                                     "--heartbeat-interval=50",
                                     "--election-timeout=500",
                                     "--log-level=warn",
                                     "--logger=zap"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = data_dir_ + "/etcd.log";
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
      const std::string err = std::strerror(errno);
      if (log_fd >= 0) ::close(log_fd);
      if (null_fd >= 0) ::close(null_fd);
      throw std::runtime_error("cannot open " + log + " or /dev/null: " + err);
    }
    const pid_t parent = ::getpid();
    // fork + exec rather than posix_spawn: the child asks to be killed when the test process
    // dies, so a crashing test leaves no etcd behind. Only async-signal-safe calls in the child.
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(log_fd);
    ::close(null_fd);
    if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(fork_errno));
    pid_ = pid;
    wait_healthy();
  }

  /// SIGTERM, then SIGKILL after 5 s; waits for the process.
  void stop() { terminate(SIGTERM); }
  /// SIGKILL at once (a crash).
  void kill() { terminate(SIGKILL); }

  std::string log() const {
    std::ifstream f(data_dir_ + "/etcd.log");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

 private:
  void wait_healthy() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("etcd exited while starting; its log:\n" + log());
      }
      httplib::Client cli("127.0.0.1", client_port_);
      cli.set_connection_timeout(std::chrono::milliseconds(200));
      cli.set_read_timeout(std::chrono::milliseconds(500));
      auto res = cli.Get("/health");
      if (res && res->status == 200 && res->body.find("\"true\"") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    throw std::runtime_error("etcd did not become healthy within 20 s; its log:\n" + log());
  }

  void terminate(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) break;
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  std::string data_dir_;
  int client_port_;
  int peer_port_;
  pid_t pid_ = -1;
};

}  // namespace weir::cluster::testing
