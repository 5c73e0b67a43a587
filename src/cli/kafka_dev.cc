// `weir kafka-dev`: librdkafka's mock cluster (one broker, in memory) behind a listener on the
// port the user chose.
//
// librdkafka 2.0.2's mock binds each broker to 127.0.0.1 on a port the kernel picks and has no
// setting for it (rd_kafka_mock_broker_new in src/rdkafka_mock.c). A plain TCP forwarder on the
// chosen port is not enough: clients bootstrap through it, then reconnect to the broker address
// that Metadata and FindCoordinator responses advertise, which would be the mock's own port. So
// the forwarder here reads the Kafka framing: it remembers the correlation id of each Metadata and
// FindCoordinator request, and in those responses replaces the mock's port with its own. Every
// other byte passes through unchanged. The mock supports Metadata and FindCoordinator up to
// version 2 only (rd_kafka_mock_api_handlers), so those are the layouts parsed here; a response
// of another version passes unchanged, with a warning.
#include "kafka_dev.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <list>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace weir::cli {

KafkaDevTopic parse_kafka_dev_topic(const std::string& spec) {
  KafkaDevTopic t;
  const auto colon = spec.rfind(':');
  t.name = colon == std::string::npos ? spec : spec.substr(0, colon);
  if (t.name.empty()) throw std::invalid_argument("topic '" + spec + "': the name is empty (give NAME:PARTITIONS)");
  if (t.name.size() > 249) throw std::invalid_argument("topic '" + t.name + "': a name has at most 249 characters");
  if (t.name == "." || t.name == "..") throw std::invalid_argument("topic '" + t.name + "': not a legal topic name");
  for (const char c : t.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) {
      throw std::invalid_argument("topic '" + t.name + "': names use only letters, digits, '.', '_' and '-'");
    }
  }
  if (colon != std::string::npos) {
    const std::string count = spec.substr(colon + 1);
    std::size_t used = 0;
    long n = 0;
    try {
      n = std::stol(count, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (count.empty() || used != count.size() || n < 1 || n > 10000) {
      throw std::invalid_argument("topic '" + spec + "': PARTITIONS must be a number from 1 to 10000");
    }
    t.partitions = static_cast<int>(n);
  }
  return t;
}

namespace {

constexpr int16_t kApiMetadata = 3;
constexpr int16_t kApiFindCoordinator = 10;
/// Kafka's default socket.request.max.bytes: a larger frame size is a protocol error.
constexpr int64_t kMaxFrameBytes = 104857600;
/// A side is not read while this much of what it sent waits for the other side.
constexpr std::size_t kMaxBufferedBytes = 4u << 20;
constexpr std::size_t kReadChunk = 64u << 10;

int32_t get_i32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return static_cast<int32_t>(ntohl(v));
}
int16_t get_i16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return static_cast<int16_t>(ntohs(v));
}
void put_i32(char* p, int32_t value) {
  const uint32_t v = htonl(static_cast<uint32_t>(value));
  std::memcpy(p, &v, 4);
}

/// Reads a response body, bounds-checked; any overrun sets ok = false.
struct Cursor {
  std::string& buf;
  std::size_t pos;
  bool ok = true;

  bool has(std::size_t n) {
    if (!ok || buf.size() - pos < n) ok = false;
    return ok;
  }
  int16_t i16() {
    if (!has(2)) return 0;
    pos += 2;
    return get_i16(&buf[pos - 2]);
  }
  int32_t i32() {
    if (!has(4)) return 0;
    pos += 4;
    return get_i32(&buf[pos - 4]);
  }
  /// A STRING or NULLABLE_STRING (int16 length, -1 for null).
  void skip_string(bool nullable) {
    const int16_t len = i16();
    if (len == -1 && nullable) return;
    if (len < 0) {
      ok = false;
      return;
    }
    if (has(static_cast<std::size_t>(len))) pos += static_cast<std::size_t>(len);
  }
  /// Replaces the port (INT32) at the cursor when it is `from`.
  void port(int32_t from, int32_t to) {
    if (!has(4)) return;
    if (get_i32(&buf[pos]) == from) put_i32(&buf[pos], to);
    pos += 4;
  }
};

/// Replaces the broker port `from` by `to` in a whole response frame (size, correlation id, body)
/// of Metadata or FindCoordinator, versions 0 to 2. False when the layout is not one of those.
bool rewrite_broker_port(std::string& frame, int16_t api, int16_t version, int32_t from, int32_t to) {
  if (version < 0 || version > 2) return false;
  Cursor c{frame, 8};
  if (api == kApiMetadata) {
    // Brokers: [node_id INT32, host STRING, port INT32, rack NULLABLE_STRING (v1+)]
    const int32_t brokers = c.i32();
    if (brokers < 0) return false;
    for (int32_t i = 0; i < brokers && c.ok; ++i) {
      (void)c.i32();
      c.skip_string(false);
      c.port(from, to);
      if (version >= 1) c.skip_string(true);
    }
    return c.ok;
  }
  if (api == kApiFindCoordinator) {
    // v0: error_code INT16, node_id, host, port; v1+: throttle_time_ms INT32, error_code,
    // error_message NULLABLE_STRING, node_id, host, port.
    if (version >= 1) (void)c.i32();
    (void)c.i16();
    if (version >= 1) c.skip_string(true);
    (void)c.i32();
    c.skip_string(false);
    c.port(from, to);
    return c.ok;
  }
  return false;
}

/// One direction of a proxied connection: the bytes to write to the far side, and where the
/// reader is in the Kafka framing of what it read.
struct Direction {
  std::string out;
  std::size_t out_off = 0;
  std::string frame;      ///< the current frame's start (header), or the whole frame when held
  int64_t pass = 0;       ///< bytes of the current frame still to copy unchanged
  std::size_t hold = 0;   ///< > 0: the whole frame (this many bytes) is held for a rewrite
  int16_t hold_api = 0;
  int16_t hold_version = 0;
  bool eof = false;       ///< the side this direction reads from closed (or failed)

  std::size_t pending() const { return out.size() - out_off; }
};

struct Conn {
  int client = -1;
  int upstream = -1;
  Direction requests;   ///< client → mock
  Direction responses;  ///< mock → client
  /// Correlation id → (api key, version) of Metadata and FindCoordinator requests in flight.
  std::unordered_map<int32_t, std::pair<int16_t, int16_t>> in_flight;
  bool dead = false;

  ~Conn() {
    if (client >= 0) ::close(client);
    if (upstream >= 0) ::close(upstream);
  }
};

class Proxy {
 public:
  Proxy(int listener, int own_port, int mock_port) : listener_(listener), own_port_(own_port), mock_port_(mock_port) {}

  /// Serves connections until `stop_fd` is readable (or poll fails: then throws).
  void run(int stop_fd) {
    std::vector<pollfd> fds;
    std::vector<Conn*> owners;  // fds[i] belongs to owners[i] (nullptr for stop_fd and the listener)
    for (;;) {
      fds.clear();
      owners.clear();
      fds.push_back({stop_fd, POLLIN, 0});
      owners.push_back(nullptr);
      fds.push_back({listener_, static_cast<short>(accepting_ ? POLLIN : 0), 0});
      owners.push_back(nullptr);
      for (auto& c : conns_) {
        short cev = 0, uev = 0;
        if (!c.requests.eof && c.requests.pending() < kMaxBufferedBytes) cev |= POLLIN;
        if (c.responses.pending() > 0) cev |= POLLOUT;
        if (!c.responses.eof && c.responses.pending() < kMaxBufferedBytes) uev |= POLLIN;
        if (c.requests.pending() > 0) uev |= POLLOUT;
        fds.push_back({c.client, cev, 0});
        owners.push_back(&c);
        fds.push_back({c.upstream, uev, 0});
        owners.push_back(&c);
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
      }
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) accept_all();
      for (std::size_t i = 2; i < fds.size(); i += 2) {
        Conn& c = *owners[i];
        serve_side(c, fds[i], /*is_client=*/true);
        serve_side(c, fds[i + 1], /*is_client=*/false);
        flush(c.client, c.responses, c);
        flush(c.upstream, c.requests, c);
        // A side that closed ends the connection once what it sent has reached the other side.
        if ((c.requests.eof && c.requests.pending() == 0) || (c.responses.eof && c.responses.pending() == 0)) {
          c.dead = true;
        }
      }
      const auto before = conns_.size();
      conns_.remove_if([](const Conn& c) { return c.dead; });
      if (conns_.size() < before) accepting_ = true;
    }
  }

 private:
  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
        std::fprintf(stderr, "weir kafka-dev: cannot accept a connection: %s (%zu open)\n", std::strerror(errno),
                     conns_.size());
        // Out of descriptors: wait for a connection to close rather than spin on the listener.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) accepting_ = false;
        return;
      }
      const int up = connect_mock();
      if (up < 0) {
        std::fprintf(stderr, "weir kafka-dev: cannot connect to the mock broker at 127.0.0.1:%d: %s\n", mock_port_,
                     std::strerror(errno));
        ::close(fd);
        continue;
      }
      no_delay(fd);
      conns_.emplace_back();
      conns_.back().client = fd;
      conns_.back().upstream = up;
    }
  }

  int connect_mock() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(mock_port_));
    // Loopback: the blocking connect completes at once.
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
      const int e = errno;
      ::close(fd);
      errno = e;
      return -1;
    }
    no_delay(fd);
    return fd;
  }

  static void no_delay(int fd) {
    const int on = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // latency only
  }

  void serve_side(Conn& c, const pollfd& p, bool is_client) {
    if (c.dead || p.revents == 0) return;
    Direction& in = is_client ? c.requests : c.responses;
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !in.eof) {
      char buf[kReadChunk];
      const ssize_t n = ::read(p.fd, buf, sizeof buf);
      if (n > 0) {
        const bool ok = is_client ? feed_requests(c, buf, static_cast<std::size_t>(n))
                                  : feed_responses(c, buf, static_cast<std::size_t>(n));
        if (!ok) {
          std::fprintf(stderr, "weir kafka-dev: closing a connection: the %s sent a frame that is not Kafka's\n",
                       is_client ? "client" : "mock broker");
          c.dead = true;
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        in.eof = true;  // closed or reset: normal for a client going away
      }
    }
  }

  static void flush(int fd, Direction& d, Conn& c) {
    while (!c.dead && d.pending() > 0) {
      const ssize_t n = ::send(fd, d.out.data() + d.out_off, d.pending(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.dead = true;  // the peer is gone
        return;
      }
      d.out_off += static_cast<std::size_t>(n);
    }
    if (d.pending() == 0) {
      d.out.clear();
      d.out_off = 0;
    } else if (d.out_off > (1u << 20)) {
      d.out.erase(0, d.out_off);
      d.out_off = 0;
    }
  }

  /// Copies up to `pass` bytes of the current frame unchanged; true when bytes were consumed.
  static bool pass_through(Direction& d, const char*& data, std::size_t& n) {
    if (d.pass <= 0) return false;
    const std::size_t take = std::min<std::size_t>(n, static_cast<std::size_t>(d.pass));
    d.out.append(data, take);
    d.pass -= static_cast<int64_t>(take);
    data += take;
    n -= take;
    return true;
  }

  /// Appends to the frame start until it has `want` bytes; true when it has.
  static bool gather(Direction& d, std::size_t want, const char*& data, std::size_t& n) {
    const std::size_t take = std::min(n, want - d.frame.size());
    d.frame.append(data, take);
    data += take;
    n -= take;
    return d.frame.size() == want;
  }

  /// Client → mock. Request header: size INT32, api_key INT16, api_version INT16, correlation_id INT32.
  static bool feed_requests(Conn& c, const char* data, std::size_t n) {
    Direction& d = c.requests;
    while (n > 0) {
      if (pass_through(d, data, n)) continue;
      if (!gather(d, 12, data, n)) break;
      const int32_t size = get_i32(&d.frame[0]);
      if (size < 8 || size > kMaxFrameBytes) return false;
      const int16_t api = get_i16(&d.frame[4]);
      if (api == kApiMetadata || api == kApiFindCoordinator) {
        c.in_flight[get_i32(&d.frame[8])] = {api, get_i16(&d.frame[6])};
      }
      d.out += d.frame;
      d.frame.clear();
      d.pass = size - 8;
    }
    return true;
  }

  /// Mock → client. Response header: size INT32, correlation_id INT32.
  bool feed_responses(Conn& c, const char* data, std::size_t n) {
    Direction& d = c.responses;
    while (n > 0) {
      if (pass_through(d, data, n)) continue;
      if (d.hold == 0) {
        if (!gather(d, 8, data, n)) break;
        const int32_t size = get_i32(&d.frame[0]);
        if (size < 4 || size > kMaxFrameBytes) return false;
        const auto it = c.in_flight.find(get_i32(&d.frame[4]));
        if (it == c.in_flight.end()) {
          d.out += d.frame;
          d.frame.clear();
          d.pass = size - 4;
          continue;
        }
        d.hold = 4 + static_cast<std::size_t>(size);
        d.hold_api = it->second.first;
        d.hold_version = it->second.second;
        c.in_flight.erase(it);
      }
      if (!gather(d, d.hold, data, n)) break;
      release_held(d);
    }
    // A held frame with an empty body is complete as soon as its header is.
    if (d.hold != 0 && d.frame.size() == d.hold) release_held(d);
    return true;
  }

  void release_held(Direction& d) {
    if (!rewrite_broker_port(d.frame, d.hold_api, d.hold_version, mock_port_, own_port_) && !warned_) {
      warned_ = true;
      std::fprintf(stderr,
                   "weir kafka-dev: warning: a %s response (version %d) was not understood; it may advertise "
                   "the mock's own port %d\n",
                   d.hold_api == kApiMetadata ? "Metadata" : "FindCoordinator", d.hold_version, mock_port_);
    }
    d.out += d.frame;
    d.frame.clear();
    d.hold = 0;
  }

  int listener_;
  int own_port_;
  int mock_port_;
  bool accepting_ = true;
  bool warned_ = false;
  std::list<Conn> conns_;
};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// A listening socket on 127.0.0.1:port (0: any free port); returns the fd and the bound port.
std::pair<int, int> listen_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("cannot create a socket: ") + std::strerror(errno));
  Fd guard(fd);
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    throw std::runtime_error(std::string("cannot set SO_REUSEADDR: ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    std::string msg = fmt::format("cannot listen on 127.0.0.1:{}: {}", port, std::strerror(e));
    if (e == EADDRINUSE) msg += " (is another Kafka running? choose another --port, or --port 0 for any free port)";
    throw std::runtime_error(msg);
  }
  if (::listen(fd, 128) != 0) {
    throw std::runtime_error(fmt::format("cannot listen on 127.0.0.1:{}: {}", port, std::strerror(errno)));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(std::string("getsockname failed: ") + std::strerror(errno));
  }
  guard.fd = -1;
  return {fd, ntohs(addr.sin_port)};
}

/// The mock cluster and the client handle that owns it, destroyed in that order.
struct Mock {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Mock() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

/// librdkafka's log lines, less the warning that the handle holding the mock has no
/// bootstrap.servers (it never connects anywhere; it only owns the mock cluster).
void log_line(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (std::strcmp(fac, "CONFWARN") == 0 && std::strstr(buf, "bootstrap.servers") != nullptr) return;
  std::fprintf(stderr, "weir kafka-dev: librdkafka %d %s: %s\n", level, fac, buf);
}

/// The port of a one-broker bootstrap list "127.0.0.1:PORT".
int bootstrap_port(const std::string& bootstraps) {
  const auto colon = bootstraps.rfind(':');
  if (colon == std::string::npos || bootstraps.find(',') != std::string::npos) {
    throw std::runtime_error("unexpected mock bootstrap list '" + bootstraps + "'");
  }
  const int port = std::atoi(bootstraps.c_str() + colon + 1);
  if (port <= 0 || port > 65535) throw std::runtime_error("unexpected mock bootstrap list '" + bootstraps + "'");
  return port;
}

}  // namespace

int run_kafka_dev(const KafkaDevOptions& options) {
  try {
    std::set<std::string> names;
    for (const auto& t : options.topics) {
      if (!names.insert(t.name).second) throw std::invalid_argument("topic '" + t.name + "' is given twice");
    }

    // SIGINT and SIGTERM arrive through a signalfd: block them before librdkafka starts its
    // threads (they inherit the mask), so none of them takes the signal.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (int e = ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); e != 0) {
      throw std::runtime_error(std::string("cannot block SIGINT/SIGTERM: ") + std::strerror(e));
    }
    std::signal(SIGPIPE, SIG_IGN);  // a reader of stdout that went away must not kill the broker
    const Fd stop(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (stop.fd < 0) throw std::runtime_error(std::string("signalfd failed: ") + std::strerror(errno));

    // The listener first: a port in use fails before anything else starts.
    const auto [listener_fd, port] = listen_loopback(options.port);
    const Fd listener(listener_fd);

    Mock mock;
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "weir-kafka-dev", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("librdkafka configuration: ") + errstr);
    }
    rd_kafka_conf_set_log_cb(conf, log_line);
    mock.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);  // owns conf on success
    if (mock.rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("cannot create a librdkafka handle: ") + errstr);
    }
    mock.cluster = rd_kafka_mock_cluster_new(mock.rk, 1);
    if (mock.cluster == nullptr) throw std::runtime_error("cannot start librdkafka's mock cluster (see the log above)");
    const int mock_port = bootstrap_port(rd_kafka_mock_cluster_bootstraps(mock.cluster));

    for (const auto& t : options.topics) {
      const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mock.cluster, t.name.c_str(), t.partitions, 1);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error("cannot create topic '" + t.name + "': " + rd_kafka_err2str(err));
      }
    }

    const std::string address = fmt::format("127.0.0.1:{}", port);
    std::fprintf(stdout, "%s\n", address.c_str());
    std::fflush(stdout);
    std::string topics;
    for (const auto& t : options.topics) {
      topics += fmt::format("{}{} ({} partition{})", topics.empty() ? "" : ", ", t.name, t.partitions,
                            t.partitions == 1 ? "" : "s");
    }
    std::fprintf(stderr,
                 "weir kafka-dev: in-memory Kafka broker (librdkafka %s mock cluster) on %s\n"
                 "  topics: %s; other topics are created on first use with 4 partitions\n"
                 "  for demos only: nothing is kept on disk, about 5 MiB are kept per partition, transactions\n"
                 "  are not isolated. Ctrl-C (or SIGTERM) stops it.\n",
                 rd_kafka_version_str(), address.c_str(), topics.empty() ? "(none)" : topics.c_str());

    Proxy proxy(listener.fd, port, mock_port);
    proxy.run(stop.fd);
    signalfd_siginfo info{};
    const ssize_t got = ::read(stop.fd, &info, sizeof info);
    std::fprintf(stderr, "weir kafka-dev: %s, stopping\n",
                 got == static_cast<ssize_t>(sizeof info) ? strsignal(static_cast<int>(info.ssi_signo)) : "signal");
    return 0;  // the proxy's connections, the listener, the mock and the handle close on the way out
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir kafka-dev: %s\n", e.what());
    return 1;
  }
}

}  // namespace weir::cli
