#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "weir/connectors/socket.hpp"

namespace weir {
namespace {

/// Reads the one split of a `SocketTextSource`. A dedicated thread does the blocking connect
/// and reads and queues records (bounded); `read` on the task thread drains the queue, and
/// the thread wakes the task through the reader's wake-up when it adds records, ends or fails.
class SocketReader final : public SplitReader<std::string> {
 public:
  SocketReader(std::string host, int port, char delimiter) : host_(std::move(host)), port_(port), delim_(delimiter) {
    // The wake-up handle is valid from construction, so the thread may start here.
    reader_ = std::thread([this, wake = wakeup_handle()] { read_loop(wake); });
  }
  ~SocketReader() override { stop(); }

  Status read(std::size_t max_records, SourceOutput<std::string>& out) override {
    std::unique_lock lock(mu_);
    if (!error_.empty()) throw std::runtime_error(error_);
    std::size_t n = 0;
    while (n < max_records && !lines_.empty()) {
      std::string line = std::move(lines_.front());
      lines_.pop_front();
      lock.unlock();
      out.collect(std::move(line), kNoTimestamp);
      ++n;
      lock.lock();
    }
    if (n > 0) {
      room_.notify_one();
      return Status::kMoreAvailable;
    }
    return eof_ ? Status::kEndOfSplit : Status::kNothingAvailable;
  }

  std::optional<std::string> snapshot_position() const override {
    if (!warned_) {
      warned_ = true;
      spdlog::warn("the socket source reading {}:{} cannot be replayed: after a restore it reads on from a new "
                   "connection, and lines the failed run had read after the checkpoint are lost",
                   host_, port_);
    }
    return std::nullopt;
  }

 private:
  static constexpr std::size_t kMaxQueued = 16384;

  void fail(std::string message, const SourceWakeup& wake) {
    {
      std::lock_guard lock(mu_);
      error_ = std::move(message);
    }
    wake.wakeup();
  }

  void read_loop(const SourceWakeup& wake) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res);
    if (rc != 0) {
      fail("cannot resolve '" + host_ + "': " + ::gai_strerror(rc), wake);
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
      fail("cannot connect to " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(last_errno), wake);
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
        if (!stopping) fail("reading from " + host_ + ":" + std::to_string(port_) + " failed: " + std::strerror(errno), wake);
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
      if (!got.empty() && !enqueue(std::move(got), wake)) return;
    }
    std::deque<std::string> last;
    if (delim_ == '\n' && !partial.empty() && partial.back() == '\r') partial.pop_back();
    if (!partial.empty()) last.push_back(std::move(partial));
    if (!last.empty() && !enqueue(std::move(last), wake)) return;
    {
      std::lock_guard lock(mu_);
      eof_ = true;
    }
    wake.wakeup();
  }

  /// Waits for room (backpressure reaches the server through TCP), then queues the records.
  bool enqueue(std::deque<std::string> got, const SourceWakeup& wake) {
    {
      std::unique_lock lock(mu_);
      room_.wait(lock, [&] { return stopping_ || lines_.size() < kMaxQueued; });
      if (stopping_) return false;
      for (auto& l : got) lines_.push_back(std::move(l));
    }
    wake.wakeup();
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
  mutable bool warned_ = false;  // task thread only
  std::mutex mu_;
  std::condition_variable room_;
  std::deque<std::string> lines_;  // guarded by mu_
  bool eof_ = false;               // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::string error_;              // guarded by mu_
  int fd_ = -1;                    // guarded by mu_ while the thread runs
  std::thread reader_;
};

}  // namespace

SocketTextSource::SocketTextSource(std::string host, int port, char delimiter)
    : host_(std::move(host)), port_(port), delimiter_(delimiter) {
  if (port < 1 || port > 65535) throw GraphError("socket_text_stream: port " + std::to_string(port) + " is not in [1, 65535]");
  if (host_.empty()) throw GraphError("socket_text_stream: the host must not be empty");
}

std::unique_ptr<SplitReader<std::string>> SocketTextSource::create_reader(int, int) const {
  return std::make_unique<SocketReader>(host_, port_, delimiter_);
}

}  // namespace weir
