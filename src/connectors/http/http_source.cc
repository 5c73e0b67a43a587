// The HTTP ingestion source: an httplib server whose handlers parse request bodies into records,
// queue them (bounded) for the source task and answer once the task has taken them.
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connectors/http/json_check.h"
#include "weir/connectors/http.hpp"

namespace weir {

// ---------------------------------------------------------------------------------------------
// HttpSourceHandle

int HttpSourceHandle::port() const {
  std::lock_guard lock(mu_);
  return port_;
}

int HttpSourceHandle::wait_for_port(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return port_ != 0; });
  return port_;
}

int HttpSourceHandle::bind_count() const {
  std::lock_guard lock(mu_);
  return binds_;
}

void HttpSourceHandle::finish() {
  std::lock_guard lock(mu_);
  finish_ = true;
  if (finish_target_) finish_target_();
}

bool HttpSourceHandle::finish_requested() const {
  std::lock_guard lock(mu_);
  return finish_;
}

void HttpSourceHandle::set_port(int port) {
  {
    std::lock_guard lock(mu_);
    port_ = port;
    if (port != 0) ++binds_;
  }
  cv_.notify_all();
}

void HttpSourceHandle::set_finish_target(std::function<void()> target) {
  std::lock_guard lock(mu_);
  finish_target_ = std::move(target);
}

namespace http_detail {

std::string RecordOrigin::to_string() const {
  std::string s = "HTTP request " + std::to_string(request) + " from " + (peer ? *peer : std::string("?")) + " to " +
                  (path ? *path : std::string("?"));
  if (line > 0) {
    s += ", line " + std::to_string(line);
  } else {
    s += ", body";
  }
  return s;
}

namespace {

using json = nlohmann::json;

/// Equal strings, in a time that depends on the length of `expected` only.
bool constant_time_equal(std::string_view got, std::string_view expected) {
  unsigned char diff = got.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < got.size() ? static_cast<unsigned char>(got[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The format a Content-Type asks for, or nullopt when it is not one this source reads.
std::optional<HttpBodyFormat> format_of(const std::string& content_type, HttpBodyFormat dflt) {
  std::string t = lower(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.erase(t.begin());
  if (t.empty()) return dflt;
  if (t == "application/json") return HttpBodyFormat::json_document;
  if (t == "application/x-ndjson" || t == "application/ndjson" || t == "application/jsonl" ||
      t == "application/x-jsonlines" || t == "application/jsonlines" || t == "application/json-lines" ||
      t == "text/plain") {
    return HttpBodyFormat::json_lines;
  }
  return std::nullopt;
}

/// Why a text `JsonCheck` refused is not JSON (nlohmann's parser says; it stops at a NUL byte).
std::string json_error(std::string_view text) {
  try {
    const json parsed = json::parse(text);
    (void)parsed;
  } catch (const json::exception& e) {
    return std::string("not valid JSON: ") + e.what();
  }
  if (text.find('\0') != std::string_view::npos) return "not valid JSON: a NUL byte outside a string";
  return "not valid JSON";
}

}  // namespace

struct IngestServer::Impl {
  /// A record of a request body, or a bad one (`error` not empty).
  struct Entry {
    std::size_t offset;
    std::size_t length;
    uint32_t line;
    std::string error;
  };
  /// The records of one request, queued for the task; its handler waits on `cv`.
  struct Batch {
    enum class State { queued, done, failed, aborted };
    uint64_t id = 0;
    std::string peer;
    std::string path;
    std::string body;
    std::vector<Entry> entries;
    std::size_t next = 0;       // task thread once started
    std::size_t accepted = 0;   // task thread once started
    std::size_t rejected = 0;   // task thread once started
    bool started = false;       // guarded by mu
    State state = State::queued;  // guarded by mu
    int fail_status = 500;      // guarded by mu
    std::string message;        // guarded by mu
    std::condition_variable cv;
  };

  HttpSourceOptions opt;
  std::shared_ptr<HttpSourceHandle> handle;
  SourceWakeup wake;
  std::string ingest_path;

  std::unique_ptr<httplib::Server> svr;
  std::thread listener;
  std::atomic<bool> listen_returned{false};
  int port = 0;
  bool started = false;      // task thread
  mutable bool warned = false;

  std::mutex mu;
  std::deque<std::shared_ptr<Batch>> queue;  // guarded by mu
  std::size_t queued_records = 0;            // guarded by mu
  std::size_t queued_bytes = 0;              // guarded by mu
  uint64_t admitted = 0;                     // guarded by mu
  int reserved = 0;                          // guarded by mu: admitted, not yet queued
  bool stopping = false;                     // guarded by mu
  bool finishing = false;                    // guarded by mu
  std::atomic<uint64_t> request_seq{0};

  MetricGroup* metrics = nullptr;
  Counter* m_requests = nullptr;
  Counter* m_accepted = nullptr;
  Counter* m_records = nullptr;
  Counter* m_records_rejected = nullptr;
  Counter* m_bytes = nullptr;
  Gauge* g_queued_records = nullptr;
  Gauge* g_queued_bytes = nullptr;

  Impl(HttpSourceOptions o, std::shared_ptr<HttpSourceHandle> h, SourceWakeup w)
      : opt(std::move(o)), handle(std::move(h)), wake(std::move(w)), ingest_path("/ingest/" + opt.stream) {}

  // -- server ---------------------------------------------------------------------------------

  void start(MetricGroup& m) {
    metrics = &m;
    m_requests = &m.counter("requests");
    m_accepted = &m.counter("requests_accepted");
    m_records = &m.counter("records");
    m_records_rejected = &m.counter("records_rejected");
    m_bytes = &m.counter("bytes");
    for (int s : {400, 401, 404, 405, 413, 415, 429, 500, 503}) m.counter("rejected_requests_" + std::to_string(s));
    g_queued_records = &m.gauge("queued_records");
    g_queued_bytes = &m.gauge("queued_bytes");

    svr = std::make_unique<httplib::Server>();
    const int threads = opt.threads;
    svr->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    // SO_REUSEADDR only (httplib's default adds SO_REUSEPORT, which would let a second source
    // share the port silently): a port in use is an error.
    // TCP_NODELAY, inherited by the accepted sockets: httplib writes a response's head and body
    // separately, and Nagle's algorithm would hold the body until the client's delayed ACK.
    svr->set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    });
    svr->set_payload_max_length(opt.max_body_bytes);
    // A connection holds a server thread while it lives: closing it after 100 requests lets
    // connections waiting for a thread take turns.
    svr->set_keep_alive_max_count(100);
    svr->set_keep_alive_timeout(opt.keep_alive_seconds);
    svr->set_read_timeout(5, 0);
    svr->set_write_timeout(5, 0);

    auto with_body = [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      handle_request(req, res, &reader);
    };
    auto without_body = [this](const httplib::Request& req, httplib::Response& res) { handle_request(req, res, nullptr); };
    svr->Post(".*", with_body);
    svr->Put(".*", with_body);
    svr->Patch(".*", with_body);
    svr->Delete(".*", with_body);
    svr->Get(".*", without_body);
    svr->Options(".*", without_body);

    errno = 0;
    if (opt.port == 0) {
      port = svr->bind_to_any_port(opt.host);
      if (port <= 0) port = 0;
    } else if (svr->bind_to_port(opt.host, opt.port)) {
      port = opt.port;
    }
    if (port == 0) {
      const int err = errno;
      throw std::runtime_error("HTTP source '" + opt.stream + "': cannot listen on " + opt.host + ":" +
                               std::to_string(opt.port) + (err ? std::string(": ") + std::strerror(err) : std::string()));
    }
    listener = std::thread([this] {
      svr->listen_after_bind();
      listen_returned.store(true);
    });
    m.gauge("port").set(port);
    // The handle's lock is taken before ours (finish() calls the target under it), never after:
    // route finish() here first, then see whether it was called before.
    handle->set_finish_target([this] {
      {
        std::lock_guard lock(mu);
        finishing = true;
      }
      wake.wakeup();
    });
    if (handle->finish_requested()) {
      std::lock_guard lock(mu);
      finishing = true;
    }
    handle->set_port(port);
    spdlog::info("HTTP source '{}' listens on http://{}:{}{}", opt.stream, opt.host, port, ingest_path);
    if (opt.on_bound) opt.on_bound(port);
  }

  void stop() {
    handle->set_finish_target(nullptr);
    std::vector<std::shared_ptr<Batch>> waiting;
    {
      std::lock_guard lock(mu);
      stopping = true;
      for (auto& b : queue) {
        b->state = Batch::State::aborted;
        b->message = b->next > 0 ? "the job stopped while taking this request's records (some of them may have entered it)"
                                 : "the job stopped before it took this request's records (none entered it)";
        waiting.push_back(b);
        queued_records -= b->entries.size();
        queued_bytes -= b->body.size();
      }
      queue.clear();
    }
    for (auto& b : waiting) b->cv.notify_all();
    if (svr && listener.joinable()) {
      // stop() only acts once listen has started; it starts right after the bind.
      while (!svr->is_running() && !listen_returned.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
      svr->stop();
    }
    if (listener.joinable()) listener.join();
    if (port != 0) {
      handle->set_port(0);
      spdlog::info("HTTP source '{}' stopped listening on {}:{}", opt.stream, opt.host, port);
    }
  }

  // -- request handling (server threads) ------------------------------------------------------

  void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    if (status == 429 || status == 503) res.set_header("Retry-After", std::to_string(opt.retry_after_seconds));
    res.set_content(body.dump() + "\n", "application/json");
    if (status == 200) {
      m_accepted->inc();
    } else {
      metrics->counter("rejected_requests_" + std::to_string(status)).inc();
    }
  }
  void reply_error(httplib::Response& res, int status, const std::string& message) {
    reply(res, status, json{{"error", message}});
  }

  /// Reads and drops the body (bounded memory), so the connection can carry the next request.
  static void drain(const httplib::Request& req, const httplib::ContentReader* reader) {
    if (!reader) return;
    auto discard = [](const char*, std::size_t) { return true; };
    if (req.is_multipart_form_data()) {
      (*reader)([](const httplib::MultipartFormData&) { return true; }, discard);
    } else {
      (*reader)(discard);
    }
  }

  bool authorized(const httplib::Request& req) const {
    if (opt.bearer_token.empty()) return true;
    const std::string& h = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (h.size() < kScheme.size() || lower(h.substr(0, kScheme.size())) != kScheme) return false;
    std::string_view token(h);
    token.remove_prefix(kScheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    return constant_time_equal(token, opt.bearer_token);
  }

  void handle_request(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader) {
    m_requests->inc();
    if (!authorized(req)) {
      drain(req, reader);
      res.set_header("WWW-Authenticate", "Bearer");
      return reply_error(res, 401, "a valid 'Authorization: Bearer <token>' header is required");
    }
    if (req.path != ingest_path) {
      drain(req, reader);
      return reply_error(res, 404, "no such endpoint: " + req.method + " " + req.path + " (this source takes POST " +
                                       ingest_path + ")");
    }
    if (req.method != "POST") {
      drain(req, reader);
      res.set_header("Allow", "POST");
      return reply_error(res, 405, "method " + req.method + " is not allowed on " + ingest_path + "; use POST");
    }
    const auto format = format_of(req.get_header_value("Content-Type"), opt.default_format);
    if (!format) {
      drain(req, reader);
      return reply_error(res, 415,
                         "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                             "': use application/x-ndjson (JSON lines) or application/json (one document)");
    }

    {
      // A full queue refuses at once, before the body is parsed (its bytes are read and dropped):
      // under overload a 429 costs little.
      std::unique_lock lock(mu);
      if (queued_records >= opt.max_queued_records || queued_bytes >= opt.max_queued_bytes) {
        lock.unlock();
        drain(req, reader);
        return reply_error(res, 429,
                           "the source's queue is full (" + std::to_string(opt.max_queued_records) +
                               " records); retry later");
      }
    }

    // The body, bounded (a larger Content-Length is skipped by httplib with status 413).
    std::string body;
    bool too_big = false;
    if (req.has_header("Content-Length")) {
      const auto len = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (len <= opt.max_body_bytes) body.reserve(static_cast<std::size_t>(len));
    }
    const bool ok = (*reader)([&](const char* data, std::size_t n) {
      if (too_big || body.size() + n > opt.max_body_bytes) {
        if (!too_big) {
          too_big = true;
          std::string().swap(body);
        }
        return true;  // read on and drop, so the connection stays usable
      }
      body.append(data, n);
      return true;
    });
    if (too_big || res.status == 413) {
      return reply_error(res, 413, "the body is above the limit of " + std::to_string(opt.max_body_bytes) + " bytes");
    }
    if (!ok) return reply_error(res, 400, "the request body could not be read");
    m_bytes->inc(static_cast<int64_t>(body.size()));

    auto batch = std::make_shared<Batch>();
    batch->id = request_seq.fetch_add(1) + 1;
    batch->peer = req.remote_addr + ":" + std::to_string(req.remote_port);
    batch->path = req.path;
    batch->body = std::move(body);
    split(*batch, *format);  // lines only: checking them as JSON waits for a place in the queue
    const std::size_t n = batch->entries.size();
    const std::size_t bytes = batch->body.size();

    {
      // Reserve the batch's place (or refuse), then check its records outside the lock.
      std::unique_lock lock(mu);
      if (stopping) {
        lock.unlock();
        return reply_error(res, 503, "the source is stopping");
      }
      if (finishing || (opt.bounded_requests > 0 && admitted >= opt.bounded_requests)) {
        lock.unlock();
        return reply_error(res, 503, "the source has finished and takes no more requests");
      }
      if (queued_records + queued_bytes > 0 &&
          (queued_records + n > opt.max_queued_records || queued_bytes + bytes > opt.max_queued_bytes)) {
        lock.unlock();
        return reply_error(res, 429,
                           "the source's queue is full (" + std::to_string(opt.max_queued_records) +
                               " records); retry later");
      }
      ++admitted;
      ++reserved;
      queued_records += n;
      queued_bytes += bytes;
      g_queued_records->set(static_cast<int64_t>(queued_records));
      g_queued_bytes->set(static_cast<int64_t>(queued_bytes));
    }
    validate(*batch);
    {
      std::unique_lock lock(mu);
      --reserved;
      if (stopping) {
        queued_records -= n;
        queued_bytes -= bytes;
        lock.unlock();
        return reply_error(res, 503, "the source is stopping");
      }
      queue.push_back(batch);
    }
    wake.wakeup();

    std::unique_lock lock(mu);
    const auto deadline = std::chrono::steady_clock::now() + opt.ack_timeout;
    if (!batch->cv.wait_until(lock, deadline, [&] { return batch->state != Batch::State::queued || batch->started; })) {
      // Not taken in time: withdraw it (none of its records entered the job).
      auto it = std::find(queue.begin(), queue.end(), batch);
      if (it != queue.end()) {
        queue.erase(it);
        --admitted;  // it does not count towards set_bounded
        queued_records -= n;
        queued_bytes -= bytes;
        g_queued_records->set(static_cast<int64_t>(queued_records));
        g_queued_bytes->set(static_cast<int64_t>(queued_bytes));
      }
      lock.unlock();
      return reply_error(res, 503, "the job did not take the records within the ack timeout (none entered it)");
    }
    batch->cv.wait(lock, [&] { return batch->state != Batch::State::queued; });
    switch (batch->state) {
      case Batch::State::done: {
        const json body_out{{"accepted", batch->accepted}, {"rejected", batch->rejected}};
        lock.unlock();
        return reply(res, 200, body_out);
      }
      case Batch::State::failed: {
        const int status = batch->fail_status;
        std::string message = batch->message;
        lock.unlock();
        return reply_error(res, status, message);
      }
      case Batch::State::aborted:
      case Batch::State::queued: {
        std::string message = batch->message;
        lock.unlock();
        return reply_error(res, 503, message);
      }
    }
  }

  /// Splits the body into records: JSON lines (blank ones dropped), or the whole body.
  static void split(Batch& b, HttpBodyFormat format) {
    const std::string& body = b.body;
    if (format == HttpBodyFormat::json_document) {
      if (!is_blank(body)) b.entries.push_back(Entry{0, body.size(), 0, {}});
      return;
    }
    std::size_t pos = 0;
    uint32_t line = 0;
    while (pos < body.size()) {
      ++line;
      const char* nl = static_cast<const char*>(std::memchr(body.data() + pos, '\n', body.size() - pos));
      const std::size_t end = nl ? static_cast<std::size_t>(nl - body.data()) : body.size();
      std::size_t len = end - pos;
      if (len > 0 && body[pos + len - 1] == '\r') --len;
      if (!is_blank(std::string_view(body.data() + pos, len))) b.entries.push_back(Entry{pos, len, line, {}});
      pos = end + 1;
    }
  }

  /// Marks the records above the size limit or not JSON as bad.
  void validate(Batch& b) const {
    for (auto& e : b.entries) {
      const std::string_view text(b.body.data() + e.offset, e.length);
      if (e.length > opt.max_record_bytes) {
        e.error = "the record is " + std::to_string(e.length) + " bytes, above the source's limit of " +
                  std::to_string(opt.max_record_bytes) + " bytes (set_max_record_bytes)";
      } else if (!JsonCheck::is_json(text)) {
        e.error = json_error(text);
      }
    }
  }

  // -- the task's side ------------------------------------------------------------------------

  Status read(std::size_t max_records, RecordSink& sink, MetricGroup& m) {
    if (!started) {
      started = true;
      start(m);
    }
    std::size_t emitted = 0;
    while (emitted < max_records) {
      std::shared_ptr<Batch> b;
      {
        std::lock_guard lock(mu);
        if (queue.empty()) break;
        b = queue.front();
        b->started = true;
      }
      const std::size_t before_accepted = b->accepted;
      const std::size_t before_rejected = b->rejected;
      bool in_bad_record = false;
      try {
        while (emitted < max_records && b->next < b->entries.size()) {
          Entry& e = b->entries[b->next++];
          ++emitted;
          RecordOrigin origin{b->id, &b->peer, &b->path, e.line};
          if (!e.error.empty()) {
            in_bad_record = true;
            sink.bad_record(BadRecord{std::string(b->body.data() + e.offset, e.length), origin.to_string(),
                                      std::move(e.error)});
            in_bad_record = false;
            ++b->rejected;
          } else {
            sink.bad_record_threw = false;
            if (sink.record(std::string(b->body.data() + e.offset, e.length), origin)) {
              ++b->accepted;
            } else {
              ++b->rejected;
            }
          }
        }
      } catch (const std::exception& ex) {
        m_records->inc(static_cast<int64_t>(b->accepted - before_accepted));
        finish_batch(b, Batch::State::failed, in_bad_record || sink.bad_record_threw ? 400 : 500,
                     (in_bad_record || sink.bad_record_threw ? std::string() : std::string("the job failed: ")) + ex.what());
        throw;
      } catch (...) {
        m_records->inc(static_cast<int64_t>(b->accepted - before_accepted));
        finish_batch(b, Batch::State::failed, 500, "the job failed while taking this request's records");
        throw;
      }
      m_records->inc(static_cast<int64_t>(b->accepted - before_accepted));
      m_records_rejected->inc(static_cast<int64_t>(b->rejected - before_rejected));
      if (b->next < b->entries.size()) break;  // max_records reached within the batch
      finish_batch(b, Batch::State::done, 200, {});
    }
    std::lock_guard lock(mu);
    if (emitted > 0) return Status::kMore;
    if (queue.empty() && reserved == 0 &&
        (finishing || (opt.bounded_requests > 0 && admitted >= opt.bounded_requests))) {
      return Status::kEnd;
    }
    return Status::kNothing;
  }

  void finish_batch(const std::shared_ptr<Batch>& b, Batch::State state, int status, std::string message) {
    {
      std::lock_guard lock(mu);
      if (!queue.empty() && queue.front() == b) {
        queue.pop_front();
        queued_records -= b->entries.size();
        queued_bytes -= b->body.size();
        g_queued_records->set(static_cast<int64_t>(queued_records));
        g_queued_bytes->set(static_cast<int64_t>(queued_bytes));
      }
      b->state = state;
      b->fail_status = status;
      b->message = std::move(message);
    }
    b->cv.notify_all();
  }
};

IngestServer::IngestServer(HttpSourceOptions options, std::shared_ptr<HttpSourceHandle> handle, SourceWakeup wakeup)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handle), std::move(wakeup))) {}

IngestServer::~IngestServer() { impl_->stop(); }

IngestServer::Status IngestServer::read(std::size_t max_records, RecordSink& sink, MetricGroup& metrics) {
  return impl_->read(max_records, sink, metrics);
}

void IngestServer::warn_not_replayable() const {
  if (impl_->warned) return;
  impl_->warned = true;
  spdlog::warn("the HTTP source '{}' cannot be replayed: after a restore it listens again, and records it "
               "acknowledged (200) after this checkpoint are not read again",
               impl_->opt.stream);
}

}  // namespace http_detail
}  // namespace weir
