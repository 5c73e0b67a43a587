#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "weir/connectors/socket.hpp"

namespace weir {
namespace socket_detail {

/// A connected TCP socket to `host:port`, or -1 with `error` set.
int connect_to(const std::string& host, int port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    error = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
    return -1;
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
  if (fd < 0) error = "cannot connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(last_errno);
  return fd;
}

}  // namespace socket_detail

namespace {

/// Reads the one split of a `SocketTextSource`. A dedicated thread does the blocking connects
/// and reads and queues records (bounded); `read` on the task thread drains the queue, and
/// the thread wakes the task through the reader's wake-up when it adds records, ends or fails.
/// After the server closes or a connect fails, the thread connects again after the retry delay
/// while retries are left.
class SocketReader final : public SplitReader<std::string> {
 public:
  SocketReader(std::string host, int port, char delimiter, int64_t max_retry, std::chrono::milliseconds delay,
               std::size_t max_bytes)
      : host_(std::move(host)), port_(port), delim_(delimiter), max_retry_(max_retry), delay_(delay), max_bytes_(max_bytes) {
    // The wake-up handle is valid from construction, so the thread may start here.
    reader_ = std::thread([this, wake = wakeup_handle()] { run(wake); });
  }
  ~SocketReader() override { stop(); }

  Status read(std::size_t max_records, SourceOutput<std::string>& out) override {
    if (!records_) {
      records_ = &out.metric_group().counter("records");
      bytes_ = &out.metric_group().counter("bytes");
      reconnects_ = &out.metric_group().counter("reconnects");
    }
    publish_metrics();
    std::unique_lock lock(mu_);
    std::size_t n = 0;
    while (n < max_records && !lines_.empty()) {
      Item item = std::move(lines_.front());
      lines_.pop_front();
      lock.unlock();
      if (item.oversized) {
        out.bad_record(BadRecord{std::move(item.text), origin(item),
                                 "the record has " + std::to_string(item.size) + " bytes, above the limit of " +
                                     std::to_string(max_bytes_) + " bytes (set_max_record_bytes); its first " +
                                     std::to_string(max_bytes_) + " bytes are kept"});
      } else {
        out.collect(std::move(item.text), kNoTimestamp);
        records_->inc();
      }
      ++n;
      lock.lock();
    }
    if (n > 0) {
      room_.notify_one();
      return Status::kMoreAvailable;
    }
    // Records queued before a failure are emitted first.
    if (!error_.empty()) throw std::runtime_error(error_);
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

  struct Item {
    std::string text;
    bool oversized = false;
    uint64_t size = 0;
    int64_t connection = 0;
    uint64_t line = 0;
  };

  std::string origin(const Item& i) const {
    return "socket " + host_ + ":" + std::to_string(port_) + " connection " + std::to_string(i.connection) + " record " +
           std::to_string(i.line);
  }

  void publish_metrics() {
    const int64_t b = bytes_read_.load(std::memory_order_relaxed);
    bytes_->inc(b - bytes_published_);
    bytes_published_ = b;
    const int64_t r = reconnected_.load(std::memory_order_relaxed);
    reconnects_->inc(r - reconnects_published_);
    reconnects_published_ = r;
  }

  void fail(std::string message, const SourceWakeup& wake) {
    {
      std::lock_guard lock(mu_);
      error_ = std::move(message);
    }
    wake.wakeup();
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  /// Waits the retry delay (false when the reader stops meanwhile).
  bool pause() {
    std::unique_lock lock(mu_);
    return !room_.wait_for(lock, delay_, [&] { return stopping_; });
  }

  /// True while another connect may be tried (and counts it).
  bool may_retry() {
    if (max_retry_ >= 0 && attempts_ >= max_retry_) return false;
    ++attempts_;
    return true;
  }

  void run(const SourceWakeup& wake) {
    for (int64_t connection = 1;; ++connection) {
      std::string error;
      const int fd = socket_detail::connect_to(host_, port_, error);
      if (fd < 0) {
        if (stopping()) return;
        if (!may_retry()) {
          if (max_retry_ != 0) error += " (after " + std::to_string(max_retry_) + " retries)";
          fail(error, wake);
          return;
        }
        spdlog::info("socket source: {}; trying again in {} ms", error, delay_.count());
        reconnected_.fetch_add(1, std::memory_order_relaxed);
        wake.wakeup();  // the task publishes the metric
        if (!pause()) return;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        if (stopping_) {
          ::close(fd);
          return;
        }
        fd_ = fd;
      }
      const bool closed = read_connection(fd, connection, wake);  // false: stopping or failed
      {
        std::lock_guard lock(mu_);
        fd_ = -1;
      }
      ::close(fd);
      if (!closed) return;
      if (stopping()) return;
      if (!may_retry()) break;
      spdlog::info("socket source: {}:{} closed the connection; connecting again in {} ms", host_, port_, delay_.count());
      reconnected_.fetch_add(1, std::memory_order_relaxed);
      wake.wakeup();
      if (!pause()) return;
    }
    {
      std::lock_guard lock(mu_);
      eof_ = true;
    }
    wake.wakeup();
  }

  /// Reads one connection until the server closes it (true) or the reader stops or fails.
  bool read_connection(int fd, int64_t connection, const SourceWakeup& wake) {
    Item partial;
    partial.connection = connection;
    partial.line = 1;
    uint64_t line = 1;
    char buf[64 * 1024];
    auto finish = [&](std::deque<Item>& got) {
      if (!partial.oversized && delim_ == '\n' && !partial.text.empty() && partial.text.back() == '\r') {
        partial.text.pop_back();
        --partial.size;
      } else if (partial.oversized && delim_ == '\n' && partial.size == max_bytes_ + 1 && last_ == '\r') {
        partial.oversized = false;  // exactly at the limit plus the '\r' of a CRLF
        partial.size = max_bytes_;
      }
      got.push_back(std::move(partial));
      partial = Item{};
      partial.connection = connection;
      partial.line = ++line;
    };
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (!stopping()) {
          if (max_retry_ != 0) return true;  // a reset connection: connect again like at a close
          fail("reading from " + host_ + ":" + std::to_string(port_) + " failed: " + std::strerror(errno), wake);
        }
        return false;
      }
      if (n == 0) break;
      bytes_read_.fetch_add(n, std::memory_order_relaxed);
      std::size_t start = 0;
      std::deque<Item> got;
      auto append = [&](const char* p, std::size_t len) {
        if (len == 0) return;
        const std::size_t keep = partial.size >= max_bytes_ ? 0 : std::min(len, max_bytes_ - static_cast<std::size_t>(partial.size));
        partial.text.append(p, keep);
        partial.size += len;
        partial.oversized = partial.size > max_bytes_;
        last_ = p[len - 1];
      };
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        if (buf[i] == delim_) {
          append(buf + start, i - start);
          finish(got);
          start = i + 1;
        }
      }
      append(buf + start, static_cast<std::size_t>(n) - start);
      if (!got.empty() && !enqueue(std::move(got), wake)) return false;
    }
    std::deque<Item> last;
    if (partial.size > 0) {
      finish(last);
      if (!last.back().oversized && last.back().text.empty()) last.clear();  // only a '\r'
    }
    if (!last.empty() && !enqueue(std::move(last), wake)) return false;
    return true;
  }

  /// Waits for room (backpressure reaches the server through TCP), then queues the records.
  bool enqueue(std::deque<Item> got, const SourceWakeup& wake) {
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
  }

  std::string host_;
  int port_;
  char delim_;
  int64_t max_retry_;
  std::chrono::milliseconds delay_;
  std::size_t max_bytes_;
  int64_t attempts_ = 0;  // reader thread only
  char last_ = 0;         // reader thread only: the last byte appended to a record
  mutable bool warned_ = false;  // task thread only
  Counter* records_ = nullptr;   // task thread only
  Counter* bytes_ = nullptr;
  Counter* reconnects_ = nullptr;
  int64_t bytes_published_ = 0, reconnects_published_ = 0;
  std::atomic<int64_t> bytes_read_{0};
  std::atomic<int64_t> reconnected_{0};
  std::mutex mu_;
  std::condition_variable room_;  // room in the queue, or stopping
  std::deque<Item> lines_;        // guarded by mu_
  bool eof_ = false;              // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  std::string error_;             // guarded by mu_
  int fd_ = -1;                   // guarded by mu_
  std::thread reader_;
};

}  // namespace

SocketTextSource::SocketTextSource(std::string host, int port, char delimiter, int64_t max_retry,
                                   std::chrono::milliseconds retry_delay)
    : host_(std::move(host)), port_(port), delimiter_(delimiter), max_retry_(max_retry), retry_delay_(retry_delay) {
  if (port < 1 || port > 65535) throw GraphError("socket_text_stream: port " + std::to_string(port) + " is not in [1, 65535]");
  if (host_.empty()) throw GraphError("socket_text_stream: the host must not be empty");
  if (max_retry < -1) throw GraphError("socket_text_stream: max_retry must be -1 (forever), 0 (end at close) or more");
  if (retry_delay.count() < 0) throw GraphError("socket_text_stream: the retry delay must not be negative");
}

SocketTextSource& SocketTextSource::set_max_record_bytes(std::size_t n) {
  if (n == 0) throw GraphError("socket_text_stream: the record size limit must be above 0");
  max_bytes_ = n;
  return *this;
}

std::unique_ptr<SplitReader<std::string>> SocketTextSource::create_reader(int, int) const {
  return std::make_unique<SocketReader>(host_, port_, delimiter_, max_retry_, retry_delay_, max_bytes_);
}

}  // namespace weir
