#include "network/data_plane.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <atomic>
#include <algorithm>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "runtime/task.h"
#include "weir/runtime/internal/logical_graph.hpp"
#include "weir/serde/serde.hpp"

namespace weir::network {

using runtime::Event;
using runtime::InFlightEvent;
using runtime::NetworkError;
using asio::ip::tcp;

namespace {

// ---- wire format (src/network/README.md) ------------------------------------------------------
constexpr char kMagic[8] = {'W', 'E', 'I', 'R', 'D', 'A', 'T', 'A'};
constexpr uint16_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 5;               // u32 payload length, u8 type
constexpr uint32_t kMaxPayload = 1u << 30;            // 1 GiB
constexpr uint32_t kMaxHelloPayload = 64 * 1024;      // before the peer is known
constexpr std::size_t kReadBuffer = 256 * 1024;       // what one read may bring
constexpr std::size_t kMinRead = 16 * 1024;           // the least room a read is given
constexpr uint32_t kConnectionStream = 0xFFFFFFFFu;   // ERROR about the whole connection

enum FrameType : uint8_t { kHello = 1, kOpen = 2, kCredit = 3, kData = 4, kError = 5 };
enum DataKind : uint8_t { kBatch = 0, kWatermark = 1, kStatus = 2, kEndOfInput = 3, kBarrier = 4 };

constexpr std::size_t kDataHead = kHeaderBytes + 4 + 1;  // header, stream, kind

void put_header(std::string& out, FrameType type) {
  out.append(4, '\0');
  out.push_back(static_cast<char>(type));
}
/// Patches the length of the frame starting at `at` to the bytes after its header.
void seal(std::string& out, std::size_t at = 0) {
  const uint32_t len = static_cast<uint32_t>(out.size() - at - kHeaderBytes);
  for (int i = 0; i < 4; ++i) out[at + static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
}

bool needs_credit(uint8_t kind) { return kind == kBatch || kind == kWatermark || kind == kStatus; }

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Length is not secret; the contents are compared without an early exit.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string endpoint_text(const tcp::socket& s) {
  asio::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

/// One frame of a producer's channel, encoded on the producer's thread: the whole frame as it
/// goes on the wire.
struct OutFrame {
  uint8_t kind = 0;
  int64_t value = 0;  // watermark, status, barrier id
  std::string wire;
  std::size_t cost() const { return wire.size() - kHeaderBytes; }
};

/// One frame received for a consumer's channel; decoded on the consumer's thread.
struct InFrame {
  uint8_t kind = 0;
  int64_t value = 0;
  int64_t timestamp = 0;
  uint8_t flags = 0;
  std::string payload;  // batch bytes start at offset 5 (after stream and kind)
  std::size_t cost() const { return payload.size(); }
  runtime::InFlightEvent inflight() const {
    runtime::InFlightEvent f;
    f.kind = static_cast<uint8_t>(kind == kBatch ? 0 : kind == kWatermark ? 1 : 2);
    f.value = value;
    if (kind == kBatch) f.bytes.assign(payload, 5);
    return f;
  }
};

}  // namespace

std::string ChannelId::to_string() const {
  return "channel " + std::to_string(channel) + " of job " + job_id + " (attempt " + std::to_string(attempt) + ")";
}

struct Conn;

/// Shared between the producer's channel handle (task thread) and the connection (I/O thread).
struct OutState {
  ChannelId id;
  std::string peer;
  std::size_t capacity = 0;
  std::mutex mu;
  std::deque<OutFrame> unsent;               // guarded by mu
  std::atomic<std::size_t> unsent_bytes{0};  // written under mu
  int64_t credit = 0;                        // guarded by mu: bytes the consumer granted, unused
  bool producer_waiting = false;             // guarded by mu
  bool pump_posted = false;                  // guarded by mu
  bool detached = false;                     // guarded by mu: the handle is gone
  bool finished = false;                     // guarded by mu: end of input went out
  std::atomic<bool> failed{false};
  std::string error;                         // guarded by mu
  std::function<void()> on_room;             // guarded by mu
  runtime::ChannelStats* stats = nullptr;    // guarded by mu
  // I/O thread only:
  std::weak_ptr<Conn> conn;
  uint32_t stream = 0;

  void fail(const std::string& message) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mu);
      if (failed.load() || finished) return;
      error = message;
      failed.store(true);
      wake = on_room;
    }
    spdlog::warn("data plane: {}", message);
    if (wake) wake();
  }
};

/// Shared between the consumer's channel handle (task thread) and the connection (I/O thread).
struct InState {
  ChannelId id;
  std::mutex mu;
  // Set by open_input (guarded by mu):
  bool registered = false;
  bool detached = false;
  runtime::InputChannel* channel = nullptr;
  runtime::InputGate* gate = nullptr;
  std::shared_ptr<const detail::TypeOps> type;
  std::size_t capacity = 0;
  runtime::ChannelStats* stats = nullptr;
  // Queue (guarded by mu):
  std::deque<InFrame> queue;
  std::size_t queued_bytes = 0;
  std::size_t freed = 0;  // popped data bytes not yet granted back
  bool in_ready_list = false;
  bool failed = false;
  std::string error;
  std::string peer;  // the producer's address, once its OPEN arrived
  std::map<int64_t, std::vector<runtime::InFlightEvent>> stash;  // barrier id → overtaken
  std::vector<runtime::InFlightEvent> overtaken_ready;
  // I/O thread only:
  bool opened = false;
  std::weak_ptr<Conn> conn;
  uint32_t stream = 0;
  int64_t outstanding = 0;  // credit granted and not yet used by the producer
  bool initial_granted = false;

  /// Lists the channel with its gate; called with mu held.
  void list_locked() {
    if (!in_ready_list && gate != nullptr && channel != nullptr) {
      in_ready_list = true;
      gate->mark_ready(channel);
    }
  }
  void fail(const std::string& message) {
    {
      std::lock_guard lock(mu);
      if (failed) return;
      failed = true;
      error = message;
      // Wake the consumer so that it runs and sees the error.
      list_locked();
    }
    spdlog::warn("data plane: {}", message);
  }
};

struct DataPlane::Core : std::enable_shared_from_this<DataPlane::Core> {
  asio::io_context io;  // first: destroyed last
  tcp::acceptor acceptor{io};
  std::string secret;
  std::string host;
  uint16_t port = 0;
  std::thread thread;
  std::mutex mu;
  bool closed = false;                                   // guarded by mu
  std::map<ChannelId, std::shared_ptr<InState>> inputs;  // guarded by mu
  std::vector<std::weak_ptr<OutState>> outputs;           // guarded by mu
  std::atomic<int> accepted{0};
  // I/O thread only:
  std::map<std::string, std::shared_ptr<Conn>> dialled;  // by peer "host:port"
  std::set<std::shared_ptr<Conn>> conns;                 // every live connection
  asio::steady_timer drain_timer{io};
  std::shared_ptr<std::promise<void>> drain_done;        // set while close() drains

  void accept();
  void pump(const std::shared_ptr<OutState>& st);
  std::shared_ptr<Conn> dial(const std::string& peer);
  void grant(const std::shared_ptr<InState>& st, std::size_t bytes);
  void check_drain();
};

/// One TCP connection. Everything here runs on the I/O thread.
struct Conn : std::enable_shared_from_this<Conn> {
  Conn(DataPlane::Core* core, tcp::socket s, bool outgoing, std::string peer)
      : core(core), sock(std::move(s)), outgoing(outgoing), peer(std::move(peer)) {}

  DataPlane::Core* core;  // outlives the I/O thread, the only place a Conn is used
  tcp::socket sock;
  bool outgoing;
  std::string peer;
  bool connected = false;
  bool hello_done = false;  // incoming: the peer's hello was accepted
  bool dead = false;
  bool half_closed = false;  // close() sent our FIN; waiting for the peer's
  char header[kHeaderBytes];
  std::string payload;
  std::vector<char> rbuf = std::vector<char>(kReadBuffer);  // received bytes [0, rlen)
  std::size_t rlen = 0;
  std::deque<std::string> outq;
  std::string last_frame;  // the ERROR frame a failing connection sends before closing
  std::vector<std::string> writing;
  uint32_t next_stream = 0;
  std::map<uint32_t, std::shared_ptr<OutState>> out_streams;
  std::map<uint32_t, std::shared_ptr<InState>> in_streams;

  std::string describe() const { return (outgoing ? "data connection to " : "data connection from ") + peer; }

  void send(std::string frame) {
    if (dead) return;
    outq.push_back(std::move(frame));
    flush();
  }

  void flush() {
    if (dead || !connected || !writing.empty() || outq.empty()) return;
    std::vector<asio::const_buffer> bufs;
    while (!outq.empty() && writing.size() < 64) {
      writing.push_back(std::move(outq.front()));
      outq.pop_front();
    }
    bufs.reserve(writing.size());
    for (const auto& w : writing) bufs.emplace_back(asio::buffer(w));
    asio::async_write(sock, bufs, [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
      self->writing.clear();
      if (self->dead) {
        if (!self->last_frame.empty()) self->write_last();
        return;
      }
      if (ec) {
        self->fail(self->describe() + " lost: " + ec.message());
        return;
      }
      self->after_write();
    });
  }

  void after_write() {
    // Producers that waited for socket room continue: the next frames of their channels.
    flush();
  }

  /// Fails every channel on this connection and closes it (or leaves closing to the caller).
  void fail(const std::string& message, bool close_socket = true) {
    if (dead) return;
    dead = true;
    if (close_socket) {
      asio::error_code ignored;
      sock.close(ignored);
    }
    for (auto& [s, st] : out_streams) st->fail(message + " (" + st->id.to_string() + ")");
    for (auto& [s, st] : in_streams) st->fail(message + " (" + st->id.to_string() + ")");
    out_streams.clear();
    in_streams.clear();
    if (outgoing) {
      auto it = core->dialled.find(peer);
      if (it != core->dialled.end() && it->second.get() == this) core->dialled.erase(it);
    }
    core->conns.erase(shared_from_this());
  }

  /// Reads into one buffer and handles every complete frame in it: one `recv` brings many
  /// frames (or the rest of a large one), instead of two calls per frame.
  void start_reading() {
    if (rbuf.size() - rlen < kMinRead) rbuf.resize(std::max(rbuf.size() * 2, rlen + kMinRead));
    sock.async_read_some(asio::buffer(rbuf.data() + rlen, rbuf.size() - rlen),
                         [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                           if (ec) {
                             if (self->half_closed && ec == asio::error::eof) {
                               self->fail(self->describe() + " closed");  // our close(), acknowledged
                               return;
                             }
                             self->fail(self->describe() +
                                        (ec == asio::error::eof ? " closed by the peer" : " lost: " + ec.message()));
                             return;
                           }
                           self->rlen += n;
                           self->handle_buffered();
                         });
  }

  void handle_buffered() {
    std::size_t pos = 0;
    while (rlen - pos >= kHeaderBytes) {
      uint32_t len = 0;
      for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<unsigned char>(rbuf[pos + static_cast<std::size_t>(i)])) << (8 * i);
      const uint32_t limit = (!outgoing && !hello_done) ? kMaxHelloPayload : kMaxPayload;
      if (len > limit) {
        protocol_error("frame of " + std::to_string(len) + " bytes exceeds the limit of " + std::to_string(limit));
        return;
      }
      if (rlen - pos < kHeaderBytes + len) {
        // A frame not complete yet: make room for all of it (its length was checked above).
        if (kHeaderBytes + len > rbuf.size()) {
          std::memmove(rbuf.data(), rbuf.data() + pos, rlen - pos);
          rlen -= pos;
          pos = 0;
          rbuf.resize(kHeaderBytes + len);
        }
        break;
      }
      std::memcpy(header, rbuf.data() + pos, kHeaderBytes);
      payload.assign(rbuf.data() + pos + kHeaderBytes, len);
      pos += kHeaderBytes + len;
      try {
        handle(static_cast<uint8_t>(header[4]));
      } catch (const std::exception& e) {
        protocol_error(std::string("malformed frame: ") + e.what());
        return;
      }
      if (dead) return;
    }
    if (pos > 0) {
      std::memmove(rbuf.data(), rbuf.data() + pos, rlen - pos);
      rlen -= pos;
    }
    // A buffer grown for one large frame shrinks back once it is handled.
    if (rlen == 0 && rbuf.size() > kReadBuffer) {
      rbuf.resize(kReadBuffer);
      rbuf.shrink_to_fit();
    }
    start_reading();
  }

  void protocol_error(const std::string& what) { close_with_error(describe() + ": " + what); }

  /// Fails the connection's channels, tells the peer why in an ERROR frame (after a write in
  /// progress), and closes once the peer has read it.
  void close_with_error(const std::string& msg) {
    spdlog::error("data plane: {}", msg);
    if (dead) return;
    fail(msg, false);
    outq.clear();
    put_header(last_frame, kError);
    ByteWriter w(last_frame);
    w.write_fixed(kConnectionStream);
    w.write_varint(msg.size());
    w.write_bytes(msg.data(), msg.size());
    seal(last_frame);
    if (!connected) {
      asio::error_code ignored;
      sock.close(ignored);
      return;
    }
    if (writing.empty()) write_last();
  }

  void write_last() {
    asio::async_write(sock, asio::buffer(last_frame),
                      [self = shared_from_this()](const asio::error_code&, std::size_t) { self->linger_and_close(); });
  }

  void handle(uint8_t type) {
    ByteReader r{std::string_view(payload)};
    if (!outgoing && !hello_done) {
      if (type != kHello) throw SerdeError("expected a hello frame first, got type " + std::to_string(type));
      char magic[8];
      r.read_bytes(magic, sizeof magic);
      if (std::memcmp(magic, kMagic, sizeof magic) != 0) throw SerdeError("not a Weir data connection (bad magic)");
      const auto version = r.read_fixed<uint16_t>();
      if (version != kVersion) {
        throw SerdeError("wire version " + std::to_string(version) + " is not supported (this plane speaks " +
                         std::to_string(kVersion) + ")");
      }
      const auto n = r.read_length(1);
      std::string secret(r.read_view(n));
      if (!constant_time_equal(secret, core->secret)) {
        close_with_error("data connection from " + peer + " rejected: wrong secret");
        return;
      }
      hello_done = true;
      return;
    }
    switch (type) {
      case kOpen: {
        if (outgoing) throw SerdeError("OPEN frame on an outgoing connection");
        const auto stream = r.read_fixed<uint32_t>();
        ChannelId id;
        const auto n = r.read_length(1);
        id.job_id = std::string(r.read_view(n));
        id.attempt = r.read_fixed<int32_t>();
        id.channel = r.read_fixed<int32_t>();
        if (in_streams.count(stream) != 0) throw SerdeError("stream " + std::to_string(stream) + " opened twice");
        std::shared_ptr<InState> st;
        {
          std::lock_guard lock(core->mu);
          auto& slot = core->inputs[id];
          if (!slot) {
            slot = std::make_shared<InState>();
            slot->id = id;
          }
          st = slot;
        }
        if (st->opened) {
          // Two producers for one channel: fail that channel, keep the connection.
          std::string msg = describe() + ": " + id.to_string() + " opened a second time";
          st->fail(msg);
          send_error(stream, msg);
          return;
        }
        st->opened = true;
        st->conn = weak_from_this();
        st->stream = stream;
        bool registered;
        std::size_t capacity;
        {
          std::lock_guard lock(st->mu);
          st->peer = peer;
          registered = st->registered;
          capacity = st->capacity;
        }
        in_streams[stream] = st;
        if (registered && !st->initial_granted) {
          st->initial_granted = true;
          core->grant(st, capacity);
        }
        return;
      }
      case kCredit: {
        if (!outgoing) throw SerdeError("CREDIT frame on an incoming connection");
        const auto stream = r.read_fixed<uint32_t>();
        const auto bytes = r.read_fixed<uint64_t>();
        if (bytes > kMaxPayload) throw SerdeError("credit of " + std::to_string(bytes) + " bytes");
        auto it = out_streams.find(stream);
        if (it == out_streams.end()) return;  // the channel finished meanwhile
        {
          std::lock_guard lock(it->second->mu);
          it->second->credit += static_cast<int64_t>(bytes);
        }
        core->pump(it->second);
        return;
      }
      case kData: {
        if (outgoing) throw SerdeError("DATA frame on an outgoing connection");
        const auto stream = r.read_fixed<uint32_t>();
        auto it = in_streams.find(stream);
        if (it == in_streams.end()) throw SerdeError("data for unknown stream " + std::to_string(stream));
        auto st = it->second;
        InFrame f;
        f.kind = r.read_u8();
        bool priority = false;
        switch (f.kind) {
          case kBatch:
            break;
          case kWatermark:
          case kStatus:
            f.value = r.read_fixed<int64_t>();
            break;
          case kEndOfInput:
            break;
          case kBarrier:
            f.value = r.read_fixed<int64_t>();
            f.timestamp = r.read_fixed<int64_t>();
            f.flags = r.read_u8();
            priority = r.read_u8() != 0;
            break;
          default:
            throw SerdeError("unknown event kind " + std::to_string(f.kind));
        }
        if (f.kind != kBatch && !r.at_end()) throw SerdeError("trailing bytes in a control frame");
        if (needs_credit(f.kind)) {
          // A frame may overshoot the remaining credit once; a peer that sends without credit
          // would make us queue without bound.
          if (st->outstanding <= 0) throw SerdeError("the peer sent " + st->id.to_string() + " data beyond its credit");
          st->outstanding -= static_cast<int64_t>(payload.size());
        }
        f.payload = std::move(payload);
        payload = std::string();
        const bool eoi = f.kind == kEndOfInput;
        deliver(st, std::move(f), priority);
        if (eoi) in_streams.erase(stream);
        return;
      }
      case kError: {
        const auto stream = r.read_fixed<uint32_t>();
        const auto n = r.read_length(1);
        std::string msg(r.read_view(n));
        const std::string text = describe() + " failed: the peer reports: " + msg;
        if (stream == kConnectionStream) {
          fail(text);
          return;
        }
        if (auto it = out_streams.find(stream); it != out_streams.end()) {
          it->second->fail(text);
          out_streams.erase(it);
        }
        if (auto it = in_streams.find(stream); it != in_streams.end()) {
          it->second->fail(text);
          in_streams.erase(it);
        }
        return;
      }
      default:
        throw SerdeError("unknown frame type " + std::to_string(type));
    }
  }

  /// After a rejection: stop sending, and read (and drop) what the peer still sends until it
  /// closes, so that it reads our error before a reset could discard it. At most 1 MiB.
  void linger_and_close() {
    asio::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_send, ignored);
    drain(std::make_shared<std::vector<char>>(64 * 1024), std::size_t{1} << 20);
  }

  void drain(std::shared_ptr<std::vector<char>> buf, std::size_t left) {
    sock.async_read_some(asio::buffer(*buf), [self = shared_from_this(), buf, left](const asio::error_code& ec, std::size_t n) {
      if (ec || n >= left) {
        asio::error_code ignored;
        self->sock.close(ignored);
        self->core->conns.erase(self);
        return;
      }
      self->drain(buf, left - n);
    });
  }

  void send_error(uint32_t stream, const std::string& msg) {
    std::string frame;
    put_header(frame, kError);
    ByteWriter w(frame);
    w.write_fixed(stream);
    w.write_varint(msg.size());
    w.write_bytes(msg.data(), msg.size());
    seal(frame);
    send(std::move(frame));
  }

  static void deliver(const std::shared_ptr<InState>& st, InFrame f, bool priority) {
    std::lock_guard lock(st->mu);
    if (st->detached || st->failed) return;
    const std::size_t n = f.cost();
    st->queued_bytes += n;
    if (st->stats != nullptr) st->stats->add(n);
    if (priority) {
      // The barrier overtakes what is queued here too; those events precede it logically.
      auto& stash = st->stash[f.value];
      for (const auto& q : st->queue) {
        if (needs_credit(q.kind)) stash.push_back(q.inflight());
      }
      st->queue.push_front(std::move(f));
      st->list_locked();
      if (st->gate != nullptr && st->channel != nullptr) st->gate->mark_priority(st->channel);
      return;
    }
    st->queue.push_back(std::move(f));
    st->list_locked();
  }
};

void DataPlane::Core::accept() {
  // A raw pointer: the handler runs only while the plane's thread does, and a pending handler
  // owning the core would keep it alive after close() stopped that thread.
  acceptor.async_accept([self = this](const asio::error_code& ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("data plane: accept failed: {}", ec.message());
    } else {
      asio::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      auto peer = endpoint_text(s);
      auto c = std::make_shared<Conn>(self, std::move(s), false, std::move(peer));
      c->connected = true;
      self->accepted.fetch_add(1);
      self->conns.insert(c);
      c->start_reading();
    }
    if (self->acceptor.is_open()) self->accept();
  });
}

std::shared_ptr<Conn> DataPlane::Core::dial(const std::string& peer) {
  if (auto it = dialled.find(peer); it != dialled.end()) return it->second;
  auto c = std::make_shared<Conn>(this, tcp::socket(io), true, peer);
  dialled[peer] = c;
  conns.insert(c);
  // The hello goes first in the queue; it is written once connected.
  std::string hello;
  put_header(hello, kHello);
  ByteWriter w(hello);
  w.write_bytes(kMagic, sizeof kMagic);
  w.write_fixed(kVersion);
  w.write_varint(secret.size());
  w.write_bytes(secret.data(), secret.size());
  seal(hello);
  c->outq.push_back(std::move(hello));
  const auto colon = peer.rfind(':');
  if (colon == std::string::npos) {
    asio::post(io, [c] { c->fail(c->describe() + " failed: the address is not host:port"); });
    return c;
  }
  std::string host = peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string service = peer.substr(colon + 1);
  auto resolver = std::make_shared<tcp::resolver>(io);
  resolver->async_resolve(host, service, [c, resolver](const asio::error_code& ec, tcp::resolver::results_type results) {
    if (c->dead) return;
    if (ec) {
      c->fail(c->describe() + " failed: cannot resolve: " + ec.message());
      return;
    }
    asio::async_connect(c->sock, results, [c](const asio::error_code& ec2, const tcp::endpoint&) {
      if (c->dead) return;
      if (ec2) {
        c->fail(c->describe() + " failed: cannot connect: " + ec2.message());
        return;
      }
      asio::error_code ignored;
      c->sock.set_option(tcp::no_delay(true), ignored);
      c->connected = true;
      c->start_reading();  // credits and errors come back on it
      c->flush();
    });
  });
  return c;
}

// close(), on the I/O thread: once every frame that can still go out was written, half-close
// each connection this plane dialled and wait for the peer to close it (closing a socket with
// unread credits in it would reset the connection, and a reset can discard data the peer has not
// read yet).
void DataPlane::Core::check_drain() {
  if (!drain_done) return;
  bool pending = false;
  {
    std::lock_guard lock(mu);
    for (auto& w : outputs) {
      auto st = w.lock();
      if (!st) continue;
      std::lock_guard slock(st->mu);
      if (!st->failed.load() && !st->unsent.empty()) pending = true;
    }
  }
  for (auto& [peer, c] : dialled) {
    if (!c->dead && (!c->connected || !c->outq.empty() || !c->writing.empty())) pending = true;
  }
  if (!pending) {
    for (auto& [peer, c] : dialled) {
      if (c->half_closed) continue;
      c->half_closed = true;
      asio::error_code ignored;
      c->sock.shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (dialled.empty()) {
      drain_done->set_value();
      drain_done.reset();
      return;
    }
  }
  drain_timer.expires_after(std::chrono::milliseconds(1));
  drain_timer.async_wait([this](const asio::error_code& ec) {
    if (!ec) check_drain();
  });
}

void DataPlane::Core::grant(const std::shared_ptr<InState>& st, std::size_t bytes) {
  auto c = st->conn.lock();
  if (!c || c->dead || bytes == 0) return;
  st->outstanding += static_cast<int64_t>(bytes);
  std::string frame;
  put_header(frame, kCredit);
  ByteWriter w(frame);
  w.write_fixed(st->stream);
  w.write_fixed(static_cast<uint64_t>(bytes));
  seal(frame);
  c->send(std::move(frame));
}

void DataPlane::Core::pump(const std::shared_ptr<OutState>& st) {
  auto c = st->conn.lock();
  std::function<void()> wake;
  bool finished = false;
  {
    std::lock_guard lock(st->mu);
    st->pump_posted = false;
    if (!c || c->dead || st->failed.load()) return;
    while (!st->unsent.empty()) {
      auto& f = st->unsent.front();
      if (needs_credit(f.kind)) {
        if (st->credit <= 0) break;
        st->credit -= static_cast<int64_t>(f.cost());
      }
      const std::size_t n = f.cost();
      if (f.kind == kEndOfInput) finished = true;
      for (int i = 0; i < 4; ++i) f.wire[kHeaderBytes + static_cast<std::size_t>(i)] = static_cast<char>((st->stream >> (8 * i)) & 0xff);
      c->outq.push_back(std::move(f.wire));
      st->unsent.pop_front();
      st->unsent_bytes.store(st->unsent_bytes.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
      if (st->stats != nullptr) st->stats->sub(n);
    }
    if (st->producer_waiting && st->unsent_bytes.load(std::memory_order_relaxed) <= st->capacity / 2) {
      st->producer_waiting = false;
      wake = st->on_room;
    }
    if (finished) st->finished = true;
  }
  if (finished) c->out_streams.erase(st->stream);
  c->flush();
  if (wake) wake();
}

namespace {

class RemoteOutput final : public runtime::OutputChannel {
 public:
  RemoteOutput(std::shared_ptr<DataPlane::Core> core, std::shared_ptr<OutState> st)
      : core_(std::move(core)), st_(std::move(st)) {}
  ~RemoteOutput() override {
    // What is queued still goes out (end of input included); only the accounting stops here.
    std::lock_guard lock(st_->mu);
    st_->detached = true;
    st_->on_room = nullptr;
    if (st_->stats != nullptr) st_->stats->sub(st_->unsent_bytes.load(std::memory_order_relaxed));
    st_->stats = nullptr;
  }

  void push(Event event) override {
    OutFrame f;
    encode(event, f, false);
    enqueue(std::move(f), false);
  }

  bool full() const override {
    return !st_->failed.load(std::memory_order_relaxed) &&
           st_->unsent_bytes.load(std::memory_order_relaxed) >= st_->capacity;
  }

  bool producer_available() override {
    if (st_->unsent_bytes.load(std::memory_order_relaxed) < st_->capacity) return true;
    std::lock_guard lock(st_->mu);
    if (st_->failed.load() || st_->unsent_bytes.load(std::memory_order_relaxed) < st_->capacity) return true;
    st_->producer_waiting = true;
    return false;
  }

  void push_priority(Event barrier, std::vector<InFlightEvent>& overtaken) override {
    OutFrame f;
    encode(barrier, f, true);
    {
      std::lock_guard lock(st_->mu);
      for (const auto& q : st_->unsent) {
        if (!needs_credit(q.kind)) continue;  // barriers and end of input are not records
        InFlightEvent e;
        e.kind = static_cast<uint8_t>(q.kind == kBatch ? 0 : q.kind == kWatermark ? 1 : 2);
        e.value = q.value;
        if (q.kind == kBatch) e.bytes.assign(q.wire, kDataHead);
        overtaken.push_back(std::move(e));
      }
    }
    enqueue(std::move(f), true);
  }

  std::size_t queued_bytes() override { return st_->unsent_bytes.load(std::memory_order_relaxed); }

 private:
  void check() {
    if (st_->failed.load()) {
      std::lock_guard lock(st_->mu);
      throw NetworkError(st_->error);
    }
  }

  void encode(const Event& e, OutFrame& f, bool priority) {
    check();
    std::string& w = f.wire;
    put_header(w, kData);
    ByteWriter bw(w);
    bw.write_fixed(stream_placeholder_);
    switch (e.kind) {
      case Event::Kind::kBatch:
        f.kind = kBatch;
        bw.write_u8(kBatch);
        e.batch->encode(w);
        break;
      case Event::Kind::kWatermark:
        f.kind = kWatermark;
        f.value = e.value;
        bw.write_u8(kWatermark);
        bw.write_fixed(e.value);
        break;
      case Event::Kind::kWatermarkStatus:
        f.kind = kStatus;
        f.value = e.value;
        bw.write_u8(kStatus);
        bw.write_fixed(e.value);
        break;
      case Event::Kind::kEndOfInput:
        f.kind = kEndOfInput;
        bw.write_u8(kEndOfInput);
        break;
      case Event::Kind::kBarrier:
        f.kind = kBarrier;
        f.value = e.value;
        bw.write_u8(kBarrier);
        bw.write_fixed(e.value);
        bw.write_fixed(e.timestamp);
        bw.write_u8(e.flags);
        bw.write_u8(priority ? 1 : 0);
        break;
    }
    if (w.size() - kHeaderBytes > kMaxPayload) {
      throw NetworkError("cannot send " + st_->id.to_string() + " to " + st_->peer + ": a batch of " +
                         std::to_string(w.size()) + " bytes exceeds the frame limit of 1 GiB");
    }
    seal(w);
  }

  void enqueue(OutFrame f, bool front) {
    bool post = false;
    {
      std::lock_guard lock(st_->mu);
      if (st_->failed.load()) throw NetworkError(st_->error);
      const std::size_t n = f.cost();
      st_->unsent_bytes.store(st_->unsent_bytes.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      if (st_->stats != nullptr) st_->stats->add(n);
      const bool sendable = !needs_credit(f.kind) || st_->credit > 0;
      if (front) {
        st_->unsent.push_front(std::move(f));
      } else {
        st_->unsent.push_back(std::move(f));
      }
      // Only the front can go; a frame behind others waits for them anyway.
      if (sendable && !st_->pump_posted) {
        st_->pump_posted = true;
        post = true;
      }
    }
    if (post) {
      // The handler runs only while the plane's thread does, so the core outlives it.
      asio::post(core_->io, [core = core_.get(), st = st_] { core->pump(st); });
    }
  }

  static constexpr uint32_t stream_placeholder_ = 0;
  std::shared_ptr<DataPlane::Core> core_;
  std::shared_ptr<OutState> st_;
};

class RemoteInput final : public runtime::InputChannel {
 public:
  RemoteInput(int gate_index, std::shared_ptr<DataPlane::Core> core, std::shared_ptr<InState> st)
      : InputChannel(gate_index), core_(std::move(core)), st_(std::move(st)) {}

  ~RemoteInput() override {
    {
      std::lock_guard lock(st_->mu);
      st_->detached = true;
      st_->gate = nullptr;
      st_->channel = nullptr;
      if (st_->stats != nullptr) st_->stats->sub(st_->queued_bytes);
      st_->stats = nullptr;
      st_->queue.clear();
      st_->queued_bytes = 0;
    }
    std::lock_guard lock(core_->mu);
    auto it = core_->inputs.find(st_->id);
    if (it != core_->inputs.end() && it->second == st_) core_->inputs.erase(it);
  }

  int pop(Event& out) override {
    InFrame f;
    bool more;
    std::size_t grant = 0;
    {
      std::lock_guard lock(st_->mu);
      if (st_->failed) throw NetworkError(st_->error);
      if (st_->queue.empty()) {
        st_->in_ready_list = false;
        return -1;
      }
      f = std::move(st_->queue.front());
      st_->queue.pop_front();
      take_locked(f, grant);
      more = !st_->queue.empty();
      if (!more) st_->in_ready_list = false;
    }
    if (grant > 0) post_grant(grant);
    to_event(f, out);
    return more ? 1 : 0;
  }

  bool pop_priority(Event& out) override {
    InFrame f;
    std::size_t grant = 0;
    {
      std::lock_guard lock(st_->mu);
      if (st_->failed) throw NetworkError(st_->error);
      if (st_->queue.empty() || st_->queue.front().kind != kBarrier) return false;
      f = std::move(st_->queue.front());
      st_->queue.pop_front();
      take_locked(f, grant);
    }
    if (grant > 0) post_grant(grant);
    to_event(f, out);
    return true;
  }

  void take_overtaken(std::vector<InFlightEvent>& out) override {
    std::lock_guard lock(st_->mu);
    for (auto& e : st_->overtaken_ready) out.push_back(std::move(e));
    st_->overtaken_ready.clear();
  }

 private:
  /// Accounting for a frame just taken from the queue; called with mu held.
  void take_locked(const InFrame& f, std::size_t& grant) {
    const std::size_t n = f.cost();
    st_->queued_bytes -= n;
    if (st_->stats != nullptr) st_->stats->sub(n);
    if (needs_credit(f.kind)) st_->freed += n;
    // Credit goes back in quarters of the capacity. Not each time the queue empties: a consumer
    // that keeps up would then answer every frame with a credit frame. A producer that waits
    // for credit has used all of it, so once its frames are taken the freed bytes reach a quarter.
    if (st_->freed >= st_->capacity / 4) {
      grant = st_->freed;
      st_->freed = 0;
    }
    if (f.kind == kBarrier) {
      st_->overtaken_ready.clear();
      auto it = st_->stash.find(f.value);
      if (it != st_->stash.end()) {
        st_->overtaken_ready = std::move(it->second);
        st_->stash.erase(it);
      }
    }
  }

  void post_grant(std::size_t bytes) {
    asio::post(core_->io, [core = core_.get(), st = st_, bytes] { core->grant(st, bytes); });
  }

  void to_event(InFrame& f, Event& out) {
    out = Event{};
    switch (f.kind) {
      case kBatch:
        out.kind = Event::Kind::kBatch;
        try {
          out.batch = st_->type->decode_batch(std::string_view(f.payload).substr(5));
        } catch (const std::exception& e) {
          std::string peer;
          {
            std::lock_guard lock(st_->mu);
            peer = st_->peer;
          }
          const std::string msg = "data from " + peer + " for " + st_->id.to_string() + " does not decode: " + e.what();
          st_->fail(msg);
          throw NetworkError(msg);
        }
        break;
      case kWatermark:
        out = Event::watermark(f.value);
        break;
      case kStatus:
        out = Event::watermark_status(f.value != 0);
        break;
      case kEndOfInput:
        out = Event::end_of_input();
        break;
      case kBarrier:
        out = Event::barrier(f.value, f.timestamp, f.flags);
        break;
    }
  }

  std::shared_ptr<DataPlane::Core> core_;
  std::shared_ptr<InState> st_;
};

}  // namespace

DataPlane::DataPlane(DataPlaneOptions options) : core_(std::make_shared<Core>()), close_timeout_(options.close_timeout) {
  core_->secret = std::move(options.secret);
  core_->host = options.bind_host;
  try {
    const auto addr = asio::ip::make_address(options.bind_host);
    tcp::endpoint ep(addr, options.port);
    core_->acceptor.open(ep.protocol());
    core_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    core_->acceptor.bind(ep);
    core_->acceptor.listen();
    core_->port = core_->acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    throw NetworkError("data plane cannot listen on " + options.bind_host + ":" + std::to_string(options.port) + ": " +
                       e.what());
  }
  core_->accept();
  core_->thread = std::thread([core = core_.get()] {
    auto guard = asio::make_work_guard(core->io);
    for (;;) {
      try {
        core->io.run();
        return;
      } catch (const std::exception& e) {
        // A handler must not throw; should one, log it and keep the plane running.
        spdlog::error("data plane: I/O handler failed: {}", e.what());
      }
    }
  });
}

DataPlane::~DataPlane() { close(); }

uint16_t DataPlane::port() const { return core_->port; }

int DataPlane::accepted_connections() const { return core_->accepted.load(); }

std::string DataPlane::address() const { return core_->host + ":" + std::to_string(core_->port); }

void DataPlane::close() {
  {
    std::lock_guard lock(core_->mu);
    if (core_->closed) return;
    core_->closed = true;
  }
  if (close_timeout_.count() > 0) {
    auto done = std::make_shared<std::promise<void>>();
    auto ready = done->get_future();
    asio::post(core_->io, [core = core_.get(), done] {
      core->drain_done = done;
      core->check_drain();
    });
    if (ready.wait_for(close_timeout_) != std::future_status::ready) {
      spdlog::warn("data plane at {}: frames still queued or unacknowledged after {} ms; closing anyway", address(),
                   close_timeout_.count());
    }
  }
  asio::post(core_->io, [core = core_.get()] {
    asio::error_code ignored;
    core->acceptor.close(ignored);
    auto conns = core->conns;
    for (const auto& c : conns) c->fail("data plane at " + core->host + ":" + std::to_string(core->port) + " closed");
    core->io.stop();
  });
  if (core_->thread.joinable()) core_->thread.join();
  // Channels still open hold the core; they fail on their next use. Consumer channels that
  // never got a connection are failed here too.
  std::vector<std::shared_ptr<InState>> inputs;
  std::vector<std::shared_ptr<OutState>> outputs;
  {
    std::lock_guard lock(core_->mu);
    for (auto& [id, st] : core_->inputs) inputs.push_back(st);
    for (auto& w : core_->outputs) {
      if (auto st = w.lock()) outputs.push_back(st);
    }
  }
  for (auto& st : inputs) st->fail("data plane at " + address() + " closed (" + st->id.to_string() + ")");
  for (auto& st : outputs) st->fail("data plane at " + address() + " closed (" + st->id.to_string() + ")");
  core_->dialled.clear();
  core_->conns.clear();
}

std::unique_ptr<runtime::OutputChannel> DataPlane::open_output(ChannelId id, std::string peer, std::size_t capacity_bytes,
                                                               runtime::Task* producer, runtime::ChannelStats* stats) {
  std::function<void()> wake;
  if (producer != nullptr) wake = [producer] { producer->notify(); };
  return open_output(std::move(id), std::move(peer), capacity_bytes, std::move(wake), stats);
}

std::unique_ptr<runtime::OutputChannel> DataPlane::open_output(ChannelId id, std::string peer, std::size_t capacity_bytes,
                                                               std::function<void()> on_room, runtime::ChannelStats* stats) {
  auto st = std::make_shared<OutState>();
  st->id = std::move(id);
  st->peer = std::move(peer);
  st->capacity = capacity_bytes;
  st->on_room = std::move(on_room);
  st->stats = stats;
  {
    std::lock_guard lock(core_->mu);
    if (core_->closed) throw NetworkError("data plane at " + address() + " is closed");
    std::erase_if(core_->outputs, [](const std::weak_ptr<OutState>& w) { return w.expired(); });
    core_->outputs.push_back(st);
  }
  asio::post(core_->io, [core = core_.get(), st] {
    auto c = core->dial(st->peer);
    if (c->dead) {
      st->fail(c->describe() + " failed (" + st->id.to_string() + ")");
      return;
    }
    st->conn = c;
    st->stream = c->next_stream++;
    c->out_streams[st->stream] = st;
    std::string open;
    put_header(open, kOpen);
    ByteWriter w(open);
    w.write_fixed(st->stream);
    w.write_varint(st->id.job_id.size());
    w.write_bytes(st->id.job_id.data(), st->id.job_id.size());
    w.write_fixed(st->id.attempt);
    w.write_fixed(st->id.channel);
    seal(open);
    c->send(std::move(open));
    core->pump(st);  // barriers and end of input need no credit
  });
  return std::make_unique<RemoteOutput>(core_, st);
}

std::unique_ptr<runtime::InputChannel> DataPlane::open_input(ChannelId id, int gate_index, runtime::InputGate* gate,
                                                             std::shared_ptr<const detail::TypeOps> type,
                                                             std::size_t capacity_bytes, runtime::ChannelStats* stats) {
  std::shared_ptr<InState> st;
  {
    std::lock_guard lock(core_->mu);
    if (core_->closed) throw NetworkError("data plane at " + address() + " is closed");
    auto& slot = core_->inputs[id];
    if (!slot) {
      slot = std::make_shared<InState>();
      slot->id = id;
    }
    st = slot;
  }
  {
    std::lock_guard lock(st->mu);
    if (st->registered) throw std::logic_error("data plane: " + id.to_string() + " is already open for input");
    st->registered = true;
  }
  auto channel = std::make_unique<RemoteInput>(gate_index, core_, st);
  {
    std::lock_guard lock(st->mu);
    st->channel = channel.get();
    st->gate = gate;
    st->type = std::move(type);
    st->capacity = capacity_bytes;
    st->stats = stats;
    if (stats != nullptr) stats->add(st->queued_bytes);
    // Control frames that came before the open, or a failure: the consumer must look.
    if (!st->queue.empty() || st->failed) st->list_locked();
  }
  asio::post(core_->io, [core = core_.get(), st] {
    if (st->opened && !st->initial_granted) {
      st->initial_granted = true;
      std::size_t capacity;
      {
        std::lock_guard lock(st->mu);
        capacity = st->capacity;
      }
      core->grant(st, capacity);
    }
  });
  return channel;
}

}  // namespace weir::network
