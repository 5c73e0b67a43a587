#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "weir/api/environment.hpp"

namespace weir::detail {
namespace {

/// Reads delimited text from a TCP server. A dedicated reader thread does the blocking
/// connect and reads and hands lines to the task through a bounded queue (the worker pool
/// never waits on the network); the task's `emit_next` drains that queue. The stream ends when
/// the server closes the connection. Not replayable: what was read is gone.
class SocketSource final : public runtime::SourceOperator {
 public:
  SocketSource(std::string host, int port, char delimiter) : host_(std::move(host)), port_(port), delim_(delimiter) {}
  bool warned_ = false;
  ~SocketSource() override { stop(); }

  void open() override {
    out_ = typed_output<std::string>();
    reader_ = std::thread([this] { read_loop(); });
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    if (!warned_) {
      warned_ = true;
      spdlog::warn("source '{}' reads a socket, which cannot be replayed: after a restore from checkpoint {} or later, "
                   "it reads on from a new connection, and lines the failed run had read after the checkpoint are lost",
                   name(), ctx.get_checkpoint_id());
    }
  }

  Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    std::unique_lock lock(mu_);
    if (!error_.empty()) throw OperatorFailure(name(), error_);
    std::size_t n = 0;
    while (n < max_records && !lines_.empty()) {
      std::string line = std::move(lines_.front());
      lines_.pop_front();
      lock.unlock();
      out_->emit(std::move(line), kNoTimestamp);
      ++n;
      lock.lock();
    }
    emitted += n;
    if (n > 0) {
      room_.notify_one();
      return Status::kMoreAvailable;
    }
    return eof_ ? Status::kEndOfInput : Status::kNothingAvailable;
  }

  void close() override { stop(); }

 private:
  static constexpr std::size_t kMaxQueued = 16384;

  void fail(std::string message) {
    {
      std::lock_guard lock(mu_);
      error_ = std::move(message);
    }
    wakeup();
  }

  void read_loop() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res);
    if (rc != 0) {
      fail("cannot resolve '" + host_ + "': " + ::gai_strerror(rc));
      return;
    }
    int fd = -1;
    int last_errno = 0;
    for (addrinfo* a = res; a; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        last_errno = errno;
        continue;
      }
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
      last_errno = errno;
      ::close(fd);
      fd = -1;
    }
    ::freeaddrinfo(res);
    if (fd < 0) {
      fail("cannot connect to " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(last_errno));
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      fd_ = fd;
    }
    std::string partial;
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        bool stopping;
        {
          std::lock_guard lock(mu_);
          stopping = stopping_;
        }
        if (!stopping) fail("reading from " + host_ + ":" + std::to_string(port_) + " failed: " + std::strerror(errno));
        return;
      }
      if (n == 0) break;
      std::size_t start = 0;
      std::deque<std::string> got;
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        if (buf[i] == delim_) {
          partial.append(buf + start, i - start);
          if (delim_ == '\n' && !partial.empty() && partial.back() == '\r') partial.pop_back();
          got.push_back(std::move(partial));
          partial.clear();
          start = i + 1;
        }
      }
      partial.append(buf + start, static_cast<std::size_t>(n) - start);
      if (!got.empty() && !enqueue(std::move(got))) return;
    }
    std::deque<std::string> last;
    if (!partial.empty()) last.push_back(std::move(partial));
    if (!last.empty() && !enqueue(std::move(last))) return;
    {
      std::lock_guard lock(mu_);
      eof_ = true;
    }
    wakeup();
  }

  /// Waits for room (backpressure reaches the server through TCP), then queues the lines.
  bool enqueue(std::deque<std::string> got) {
    {
      std::unique_lock lock(mu_);
      room_.wait(lock, [&] { return stopping_ || lines_.size() < kMaxQueued; });
      if (stopping_) return false;
      for (auto& l : got) lines_.push_back(std::move(l));
    }
    wakeup();
    return true;
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // unblocks recv
    }
    room_.notify_all();
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  std::string host_;
  int port_;
  char delim_;
  runtime::Output<std::string>* out_ = nullptr;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable room_;
  std::deque<std::string> lines_;  // guarded by mu_
  bool eof_ = false;               // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::string error_;              // guarded by mu_
  int fd_ = -1;                    // guarded by mu_ while the reader runs
};

}  // namespace

std::unique_ptr<runtime::StreamOperator> make_socket_source(std::string host, int port, char delimiter) {
  return std::make_unique<SocketSource>(std::move(host), port, delimiter);
}

}  // namespace weir::detail
