#pragma once
/// Helpers shared by the cluster's processes: a queue that writes messages to a gRPC stream on
/// its own thread (so no caller blocks on the network), clocks, and process-wide settings.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::cluster {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Messages to one stream, written in order by one thread. `send` never blocks; after a write
/// fails (the peer is gone) later messages are dropped and `on_broken` runs once.
template <class Msg>
class Outbox {
 public:
  Outbox(std::function<bool(const Msg&)> write, std::function<void()> on_broken = {})
      : write_(std::move(write)), on_broken_(std::move(on_broken)), thread_([this] { loop(); }) {}
  ~Outbox() { close(); }
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  void send(Msg m) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || broken_) return;
      queue_.push_back(std::move(m));
    }
    cv_.notify_one();
  }
  /// Writes what is queued, then stops. Idempotent.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }
  /// Waits until every queued message was written (or the stream broke), at most `timeout`.
  void drain(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    done_cv_.wait_for(lock, timeout, [&] { return (queue_.empty() && !writing_) || broken_; });
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closed and drained
      Msg m = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      const bool ok = write_(m);
      lock.lock();
      writing_ = false;
      if (!ok) {
        broken_ = true;
        queue_.clear();
        done_cv_.notify_all();
        lock.unlock();
        if (on_broken_) on_broken_();
        return;
      }
      if (queue_.empty()) done_cv_.notify_all();
    }
  }

  std::function<bool(const Msg&)> write_;
  std::function<void()> on_broken_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::deque<Msg> queue_;
  bool closed_ = false;
  bool broken_ = false;
  bool writing_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

/// The non-empty items of a `sep`-separated list ("a,b" → {"a", "b"}).
inline std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c != sep) {
      cur += c;
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

/// Compares secrets without an early exit.
inline bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace weir::cluster
