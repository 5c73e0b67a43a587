#include "connectors/kafka/kafka_wire.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace weir::kafka_wire {
namespace {

constexpr int16_t kFindCoordinator = 10;
constexpr int16_t kEndTxn = 26;
constexpr int16_t kDescribeTransactions = 65;

/// Errors worth waiting out: the coordinator is loading or moving, or a transaction is ending.
bool transient(int16_t e) {
  return e == 14 /*COORDINATOR_LOAD_IN_PROGRESS*/ || e == 15 /*COORDINATOR_NOT_AVAILABLE*/ ||
         e == 16 /*NOT_COORDINATOR*/ || e == 51 /*CONCURRENT_TRANSACTIONS*/ || e == 7 /*REQUEST_TIMED_OUT*/;
}

class Writer {
 public:
  void i8(int8_t v) { b.push_back(static_cast<char>(v)); }
  void i16(int16_t v) { be(static_cast<uint16_t>(v), 2); }
  void i32(int32_t v) { be(static_cast<uint32_t>(v), 4); }
  void i64(int64_t v) { be(static_cast<uint64_t>(v), 8); }
  void str(const std::string& s) {
    i16(static_cast<int16_t>(s.size()));
    b += s;
  }
  void uvarint(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<char>(v));
  }
  void compact_str(const std::string& s) {
    uvarint(s.size() + 1);
    b += s;
  }
  void tags() { uvarint(0); }
  std::string b;

 private:
  void be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  int8_t i8() { return static_cast<int8_t>(take(1)); }
  int16_t i16() { return static_cast<int16_t>(take(2)); }
  int32_t i32() { return static_cast<int32_t>(take(4)); }
  int64_t i64() { return static_cast<int64_t>(take(8)); }
  std::string str() {
    const int16_t n = i16();
    if (n < 0) return {};
    return bytes(static_cast<std::size_t>(n));
  }
  uint64_t uvarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto c = static_cast<uint8_t>(take(1));
      v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    throw std::runtime_error("Kafka response: a varint is too long");
  }
  std::string compact_str() {
    const uint64_t n = uvarint();
    if (n == 0) return {};
    return bytes(static_cast<std::size_t>(n - 1));
  }
  void skip_tags() {
    const uint64_t n = uvarint();
    for (uint64_t i = 0; i < n; ++i) {
      uvarint();
      bytes(static_cast<std::size_t>(uvarint()));
    }
  }

 private:
  uint64_t take(int n) {
    if (pos_ + static_cast<std::size_t>(n) > s_.size()) throw std::runtime_error("Kafka response: truncated");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(s_[pos_++]);
    return v;
  }
  std::string bytes(std::size_t n) {
    if (pos_ + n > s_.size()) throw std::runtime_error("Kafka response: truncated");
    std::string out = s_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  const std::string& s_;
  std::size_t pos_ = 0;
};

std::vector<std::pair<std::string, int>> parse_servers(const std::string& list) {
  std::vector<std::pair<std::string, int>> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto end = std::min(list.find(',', start), list.size());
    std::string hp = list.substr(start, end - start);
    if (auto p = hp.find("://"); p != std::string::npos) hp = hp.substr(p + 3);
    const auto colon = hp.rfind(':');
    if (!hp.empty()) {
      if (colon == std::string::npos) throw std::runtime_error("bootstrap server '" + hp + "' has no port");
      out.emplace_back(hp.substr(0, colon), std::stoi(hp.substr(colon + 1)));
    }
    start = end + 1;
  }
  if (out.empty()) throw std::runtime_error("no bootstrap servers");
  return out;
}

}  // namespace

struct TransactionClient::Conn {
  int fd = -1;
  std::string where;
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
};

namespace {

int connect_to(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + last);
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("sending to the broker failed: ") + std::strerror(errno));
    off += static_cast<std::size_t>(n);
  }
}

std::string read_exact(int fd, std::size_t n) {
  std::string s(n, '\0');
  std::size_t off = 0;
  while (off < n) {
    const ssize_t r = ::recv(fd, s.data() + off, n - off, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      throw std::runtime_error(r == 0 ? "the broker closed the connection"
                                      : std::string("reading from the broker failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(r);
  }
  return s;
}

/// Sends one request and returns the response body after the correlation id (and, for
/// flexible responses, the header's tags).
std::string round_trip(int fd, int16_t api, int16_t version, bool flexible, int32_t correlation, const std::string& body) {
  Writer h;
  h.i16(api);
  h.i16(version);
  h.i32(correlation);
  h.str("weir");  // client id (a nullable string in every header version)
  if (flexible) h.tags();
  Writer frame;
  frame.i32(static_cast<int32_t>(h.b.size() + body.size()));
  write_all(fd, frame.b + h.b + body);
  const std::string len = read_exact(fd, 4);
  Reader lr(len);
  const int32_t n = lr.i32();
  if (n < 4 || n > (64 << 20)) throw std::runtime_error("Kafka response: bad length " + std::to_string(n));
  std::string resp = read_exact(fd, static_cast<std::size_t>(n));
  Reader r(resp);
  if (r.i32() != correlation) throw std::runtime_error("Kafka response: correlation id mismatch");
  std::size_t skip = 4;
  if (flexible) {
    // The response header's tagged fields: none are defined, so the count is 0.
    if (resp.size() < 5 || resp[4] != 0) throw std::runtime_error("Kafka response: unexpected header tags");
    skip = 5;
  }
  return resp.substr(skip);
}

}  // namespace

TransactionClient::TransactionClient(std::string bootstrap_servers, std::chrono::milliseconds timeout)
    : bootstrap_(parse_servers(bootstrap_servers)), timeout_(timeout) {}

TransactionClient::~TransactionClient() {
  for (auto& [k, c] : conns_) delete c;
}

TransactionClient::Conn& TransactionClient::coordinator(const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::string last;
  for (;;) {
    for (const auto& [host, port] : bootstrap_) {
      try {
        Conn boot;
        boot.fd = connect_to(host, port, timeout_);
        Writer w;
        w.str(id);
        w.i8(1);  // key type: transaction
        const std::string body = round_trip(boot.fd, kFindCoordinator, 1, false, ++correlation_, w.b);
        Reader r(body);
        r.i32();  // throttle
        const int16_t err = r.i16();
        const std::string msg = r.str();
        const int32_t node = r.i32();
        const std::string chost = r.str();
        const int32_t cport = r.i32();
        (void)node;
        if (err != 0) {
          last = error_name(err) + (msg.empty() ? "" : ": " + msg);
          if (transient(err)) continue;
          throw std::runtime_error("FindCoordinator for '" + id + "': " + last);
        }
        const std::string where = chost + ":" + std::to_string(cport);
        for (auto& [k, c] : conns_) {
          if (k == where) return *c;
        }
        auto* c = new Conn();
        c->where = where;
        try {
          c->fd = connect_to(chost, cport, timeout_);
        } catch (...) {
          delete c;
          throw;
        }
        conns_.emplace_back(where, c);
        return *c;
      } catch (const std::runtime_error& e) {
        last = e.what();
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("cannot find the transaction coordinator of '" + id + "': " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::vector<TransactionState> TransactionClient::describe(const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  int closed = 0;
  for (;;) {
    auto& c = coordinator(ids.front());
    Writer w;
    w.uvarint(ids.size() + 1);
    for (const auto& id : ids) w.compact_str(id);
    w.tags();
    std::string body;
    try {
      body = round_trip(c.fd, kDescribeTransactions, 0, true, ++correlation_, w.b);
    } catch (const std::runtime_error& e) {
      // A broker closes the connection on a request it does not know.
      if (std::string(e.what()).find("closed the connection") != std::string::npos && ++closed >= 3) {
        throw std::runtime_error("the broker at " + c.where +
                                 " closes the connection on DescribeTransactions: exactly_once needs Apache Kafka 3.0 or "
                                 "later (weir kafka-dev's mock broker does not support it; use at_least_once there)");
      }
      // A broken connection: forget it and ask again.
      for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        if (it->second == &c) {
          delete it->second;
          conns_.erase(it);
          break;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    Reader r(body);
    r.i32();  // throttle
    const uint64_t n = r.uvarint();
    std::vector<TransactionState> out;
    bool retry = false;
    for (uint64_t i = 0; i + 1 < n; ++i) {
      TransactionState s;
      s.error = r.i16();
      s.transactional_id = r.compact_str();
      s.state = r.compact_str();
      r.i32();  // timeout
      s.start_time = r.i64();
      s.producer_id = r.i64();
      s.producer_epoch = r.i16();
      const uint64_t topics = r.uvarint();
      for (uint64_t t = 0; t + 1 < topics; ++t) {
        r.compact_str();
        const uint64_t parts = r.uvarint();
        for (uint64_t p = 0; p + 1 < parts; ++p) {
          r.i32();
          ++s.num_partitions;
        }
        r.skip_tags();
      }
      r.skip_tags();
      if (s.error != 0 && s.error != kTransactionalIdNotFound) {
        if (!transient(s.error)) {
          throw std::runtime_error("DescribeTransactions for '" + s.transactional_id + "': " + error_name(s.error));
        }
        retry = true;
      }
      out.push_back(std::move(s));
    }
    if (!retry) return out;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("DescribeTransactions: the coordinator kept answering with a transient error");
    }
    if (ids.size() > 1) {
      // Ask each id of its own coordinator.
      std::vector<TransactionState> each;
      for (const auto& id : ids) {
        auto one = describe({id});
        each.push_back(std::move(one.front()));
      }
      return each;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void TransactionClient::end_transaction(const std::string& id, int64_t producer_id, int16_t producer_epoch, bool commit) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    auto& c = coordinator(id);
    Writer w;
    w.compact_str(id);
    w.i64(producer_id);
    w.i16(producer_epoch);
    w.i8(commit ? 1 : 0);
    w.tags();
    const std::string body = round_trip(c.fd, kEndTxn, 3, true, ++correlation_, w.b);
    Reader r(body);
    r.i32();  // throttle
    const int16_t err = r.i16();
    if (err == 0) return;
    if (!transient(err) || std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(std::string(commit ? "committing" : "aborting") + " transaction '" + id + "' failed: " +
                               error_name(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string error_name(int16_t code) {
  const char* name = "error";
  switch (code) {
    case 7: name = "REQUEST_TIMED_OUT"; break;
    case 14: name = "COORDINATOR_LOAD_IN_PROGRESS"; break;
    case 15: name = "COORDINATOR_NOT_AVAILABLE"; break;
    case 16: name = "NOT_COORDINATOR"; break;
    case 47: name = "INVALID_PRODUCER_EPOCH"; break;
    case 48: name = "INVALID_TXN_STATE"; break;
    case 49: name = "INVALID_PRODUCER_ID_MAPPING"; break;
    case 51: name = "CONCURRENT_TRANSACTIONS"; break;
    case 53: name = "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"; break;
    case 90: name = "PRODUCER_FENCED"; break;
    case 105: name = "TRANSACTIONAL_ID_NOT_FOUND"; break;
    default: break;
  }
  return std::string(name) + " (" + std::to_string(code) + ")";
}

}  // namespace weir::kafka_wire
