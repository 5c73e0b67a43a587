#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "weir/connectors/socket.hpp"

namespace weir::socket_detail {

int connect_to(const std::string& host, int port, std::string& error);  // socket_source.cc

SocketWriter::SocketWriter(std::string host, int port, int64_t max_retry, std::chrono::milliseconds retry_delay)
    : host_(std::move(host)), port_(port), max_retry_(max_retry), delay_(retry_delay) {}

SocketWriter::~SocketWriter() { close(); }

bool SocketWriter::try_connect(std::string& error) {
  fd_ = connect_to(host_, port_, error);
  return fd_ >= 0;
}

void SocketWriter::connect() {
  std::string error;
  for (int64_t retries = 0;; ++retries) {
    if (try_connect(error)) return;
    if (max_retry_ >= 0 && retries >= max_retry_) {
      throw std::runtime_error("socket sink: " + error + (max_retry_ > 0 ? " (after " + std::to_string(max_retry_) + " retries)" : ""));
    }
    spdlog::info("socket sink: {}; trying again in {} ms", error, delay_.count());
    std::this_thread::sleep_for(delay_);  // on the sink's task: it has nothing else to do until connected
  }
}

void SocketWriter::write(const std::string& bytes) {
  std::string error;
  for (int64_t retries = 0;; ++retries) {
    if (fd_ < 0 && !try_connect(error)) {
      // error set by try_connect
    } else {
      std::size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        done += static_cast<std::size_t>(n);
      }
      if (done == bytes.size()) return;
      error = "writing to " + host_ + ":" + std::to_string(port_) + " failed: " + std::strerror(errno);
      close();
    }
    if (max_retry_ >= 0 && retries >= max_retry_) {
      throw std::runtime_error("socket sink: " + error +
                               (max_retry_ > 0 ? " (after " + std::to_string(max_retry_) + " retries)" : ""));
    }
    spdlog::warn("socket sink: {}; connecting again in {} ms", error, delay_.count());
    ++reconnects_;
    std::this_thread::sleep_for(delay_);
  }
}

void SocketWriter::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace weir::socket_detail
