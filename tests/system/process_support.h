#pragma once
// Real processes for the cluster tests: start a program with extra environment and its output
// in a file, read lines from that file, signal it, wait for it with a timeout. Every process
// started is killed when its handle goes (a failing test leaves nothing running).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace weir::systest {

class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> env, std::string log) : log_(std::move(log)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      for (auto& e : env) ::putenv(e.data());
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      std::fprintf(stderr, "cannot run %s: %s\n", a[0], std::strerror(errno));
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }
  /// The exit code (128 + signal when killed), or nothing when it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (exited_) return code_;
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return code_;
      }
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  /// The first whole line of its output that `accept` takes (empty after `timeout`).
  template <class F>
  std::string first_line(std::chrono::milliseconds timeout, F accept) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      std::istringstream in(output());
      std::string line;
      while (std::getline(in, line)) {
        if (!in.eof() && accept(line)) return line;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return {};
  }
  /// Waits until the output contains `text`.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
  bool exited_ = false;
  int code_ = -1;
};

/// Runs a command to its end; returns (exit code, output).
inline std::pair<int, std::string> run_command(std::vector<std::string> argv, std::vector<std::string> env, const std::string& log,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  Process p(std::move(argv), std::move(env), log);
  auto code = p.wait(timeout);
  return {code.value_or(-1), p.output()};
}

}  // namespace weir::systest
