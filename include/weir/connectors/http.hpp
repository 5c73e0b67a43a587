#pragma once
/// The HTTP ingestion source (library `weir::http`): records POSTed as JSON to
/// `http://<host>:<port>/ingest/<stream>`. See docs/connectors/http.md.
///
///     #include <weir/connectors/http.hpp>   // and link weir::http
///     weir::HttpSource src("clicks");        // 127.0.0.1, an ephemeral port
///     auto handle = src.handle();            // handle->wait_for_port() once the job runs
///     auto clicks = weir::http_source_stream(env, src);   // DataStream<std::string>
///
/// Bodies are JSON lines (`Content-Type: application/x-ndjson`, also the default without a
/// Content-Type) or one JSON document (`application/json`). A request is answered 200 once every
/// record of its body has been handed to the job (emitted by the source task), 429 with
/// `Retry-After` when the source's queue is full, 413 above the body limit, 401 without the
/// configured bearer token. One split: the source runs one server, read by one subtask.
/// Not replayable: after a restore the source listens again, and what clients sent before is
/// not read again (see the docs for what a failure can lose).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "weir/api/bad_records.hpp"
#include "weir/api/environment.hpp"
#include "weir/api/source.hpp"
#include "weir/common/metrics.hpp"

namespace weir {

/// How a request body is split into records.
enum class HttpBodyFormat {
  json_lines,     ///< one JSON value per line; empty lines are ignored
  json_document,  ///< the whole body is one JSON value (one record)
};

/// Shared by every copy of an `HttpSource` (and the job's readers): the bound port, and a way
/// to end the source. Thread-safe.
class HttpSourceHandle {
 public:
  /// The port the server listens on now; 0 before it is bound and after it stopped.
  int port() const;
  /// Waits until the server listens (or `timeout` passed) and returns its port, or 0.
  int wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  /// How many times a server of this source was bound (one per job run, restarts included).
  int bind_count() const;
  /// Ends the source: requests from now on are answered 503, the records of requests already
  /// queued are emitted (and those requests answered 200), then the split ends and with it the
  /// source's subtask (the job finishes once the rest of it has). Also ends a job run that
  /// starts later.
  void finish();
  bool finish_requested() const;

  // For the source's reader.
  void set_port(int port);
  /// Routes `finish()` to the running reader (nullptr: none runs). The call runs under the
  /// handle's lock, so a reader that clears it here is never called after.
  void set_finish_target(std::function<void()> target);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int port_ = 0;
  int binds_ = 0;
  bool finish_ = false;
  std::function<void()> finish_target_;
};

/// The options of an `HttpSource` (the builder methods set them; defaults here).
struct HttpSourceOptions {
  std::string stream;                       ///< requests go to POST /ingest/<stream>
  std::string host = "127.0.0.1";           ///< the address to bind
  int port = 0;                             ///< 0: an ephemeral port (read it from the handle)
  std::string bearer_token;                 ///< empty: no authentication
  std::size_t max_body_bytes = 16u << 20;   ///< above: 413
  std::size_t max_record_bytes = 1u << 20;  ///< above: a bad record
  std::size_t max_queued_records = 1024;    ///< the queue between the server and the task
  std::size_t max_queued_bytes = 16u << 20;
  int threads = 16;                         ///< requests handled at once (one per thread)
  int retry_after_seconds = 1;              ///< the Retry-After of a 429 or 503
  std::chrono::milliseconds ack_timeout{30'000};  ///< a request not taken by then: 503
  int keep_alive_seconds = 2;               ///< an idle keep-alive connection is closed after
  HttpBodyFormat default_format = HttpBodyFormat::json_lines;  ///< without a Content-Type
  uint64_t bounded_requests = 0;            ///< > 0: the source ends after that many requests
  BadRecordPolicy bad_record_policy = BadRecordPolicy::fail();
  std::function<void(int)> on_bound;        ///< called with the port each time a server binds
};

namespace http_detail {

/// Where a record came from: "HTTP request 17 from 127.0.0.1:5555 to /ingest/clicks, line 2".
struct RecordOrigin {
  uint64_t request = 0;
  const std::string* peer = nullptr;
  const std::string* path = nullptr;
  uint32_t line = 0;  ///< 1-based; 0: the whole body (one JSON document)
  std::string to_string() const;
};

/// Receives what the server took from request bodies, on the task's thread.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  /// A record (its JSON text). Returns false if the sink found it bad (and reported it).
  virtual bool record(std::string&& json, const RecordOrigin& origin) = 0;
  /// A record the server found bad (not JSON, above the size limit). May throw (policy fail).
  virtual void bad_record(BadRecord record) = 0;
  /// Set by `record` when it reported a bad record and that threw (policy fail).
  bool bad_record_threw = false;
};

/// The server of one job run of an `HttpSource` and the queue between it and the task. The
/// server starts at the first `read` (it then has the operator's metrics) and stops, answering
/// every waiting request, when this is destroyed.
class IngestServer {
 public:
  enum class Status { kMore, kNothing, kEnd };
  IngestServer(HttpSourceOptions options, std::shared_ptr<HttpSourceHandle> handle, SourceWakeup wakeup);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;
  /// Hands at most `max_records` queued records to `sink` (task thread only).
  Status read(std::size_t max_records, RecordSink& sink, MetricGroup& metrics);
  /// Logs, once, that a checkpoint does not make the source replayable.
  void warn_not_replayable() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

template <class T>
class Reader final : public SplitReader<T> {
 public:
  using Status = typename SplitReader<T>::Status;
  Reader(HttpSourceOptions options, std::shared_ptr<HttpSourceHandle> handle,
         std::function<T(std::string_view)> deserializer)
      : server_(std::move(options), std::move(handle), this->wakeup_handle()), deserializer_(std::move(deserializer)) {}

  Status read(std::size_t max_records, SourceOutput<T>& out) override {
    Sink sink{out, deserializer_};
    switch (server_.read(max_records, sink, out.metric_group())) {
      case IngestServer::Status::kMore: return Status::kMoreAvailable;
      case IngestServer::Status::kNothing: return Status::kNothingAvailable;
      case IngestServer::Status::kEnd: break;
    }
    return Status::kEndOfSplit;
  }
  /// Not replayable: no position; after a restore the split starts over (listens again).
  std::optional<std::string> snapshot_position() const override {
    server_.warn_not_replayable();
    return std::nullopt;
  }

 private:
  struct Sink final : RecordSink {
    SourceOutput<T>& out;
    const std::function<T(std::string_view)>& deserializer;
    Sink(SourceOutput<T>& o, const std::function<T(std::string_view)>& d) : out(o), deserializer(d) {}
    bool record(std::string&& json, const RecordOrigin& origin) override {
      if constexpr (std::is_same_v<T, std::string>) {
        if (!deserializer) {
          out.collect(std::move(json), kNoTimestamp);
          return true;
        }
      }
      std::optional<T> value;
      try {
        value.emplace(deserializer(json));
      } catch (const std::exception& e) {
        bad_record_threw = true;  // stays true only if bad_record throws
        out.bad_record(BadRecord{std::move(json), origin.to_string(), e.what()});
        bad_record_threw = false;
        return false;
      }
      out.collect(std::move(*value), kNoTimestamp);
      return true;
    }
    void bad_record(BadRecord record) override { out.bad_record(std::move(record)); }
  };

  IngestServer server_;
  std::function<T(std::string_view)> deserializer_;
};

}  // namespace http_detail

/// A `Source<T>` of the records POSTed to /ingest/<stream>: the JSON text of each record
/// (`T = std::string`, the default), or what a deserializer `T(std::string_view)` makes of it
/// (it runs on the task's thread; an exception it throws makes the record a bad record).
template <class T = std::string>
class BasicHttpSource final : public Source<T> {
 public:
  /// Throws GraphError when the stream name is empty or has '/' (strings only: a typed source
  /// needs `with_deserializer`).
  explicit BasicHttpSource(std::string stream) : handle_(std::make_shared<HttpSourceHandle>()) {
    static_assert(std::is_same_v<T, std::string>, "HttpSource<T>: build it with HttpSource(stream).with_deserializer<T>(f)");
    set_stream(std::move(stream));
  }
  BasicHttpSource(HttpSourceOptions options, std::shared_ptr<HttpSourceHandle> handle,
                  std::function<T(std::string_view)> deserializer)
      : options_(std::move(options)), handle_(std::move(handle)), deserializer_(std::move(deserializer)) {
    if (!std::is_same_v<T, std::string> && !deserializer_) throw GraphError("HttpSource: a typed source needs a deserializer");
    if (!handle_) handle_ = std::make_shared<HttpSourceHandle>();
  }

  /// The address to bind (default 127.0.0.1; "0.0.0.0" for every interface).
  BasicHttpSource& set_host(std::string host) {
    if (host.empty()) throw GraphError("HttpSource: the host must not be empty");
    options_.host = std::move(host);
    return *this;
  }
  /// The port (default 0: an ephemeral one, read back from `handle()->wait_for_port()`).
  BasicHttpSource& set_port(int port) {
    if (port < 0 || port > 65535) throw GraphError("HttpSource: port " + std::to_string(port) + " is not in [0, 65535]");
    options_.port = port;
    return *this;
  }
  /// Requests must carry `Authorization: Bearer <token>` (compared in constant time); else 401.
  BasicHttpSource& set_bearer_token(std::string token) {
    options_.bearer_token = std::move(token);
    return *this;
  }
  /// Bodies above `n` bytes are answered 413 (default 16 MiB).
  BasicHttpSource& set_max_body_bytes(std::size_t n) {
    if (n == 0) throw GraphError("HttpSource: the body limit must be positive");
    options_.max_body_bytes = n;
    return *this;
  }
  /// A record (line or document) above `n` bytes is a bad record (default 1 MiB).
  BasicHttpSource& set_max_record_bytes(std::size_t n) {
    if (n == 0) throw GraphError("HttpSource: the record limit must be positive");
    options_.max_record_bytes = n;
    return *this;
  }
  /// The queue between the server and the source task holds at most `records` records and
  /// `bytes` bytes of bodies (defaults 1024 and 16 MiB); a request that does not fit is answered
  /// 429 (one that does not fit an empty queue is still taken, alone).
  BasicHttpSource& set_queue_capacity(std::size_t records, std::size_t bytes = 16u << 20) {
    if (records == 0 || bytes == 0) throw GraphError("HttpSource: the queue capacity must be positive");
    options_.max_queued_records = records;
    options_.max_queued_bytes = bytes;
    return *this;
  }
  /// Requests handled at once, one per server thread (default 16); more connections wait.
  BasicHttpSource& set_threads(int n) {
    if (n < 1) throw GraphError("HttpSource: at least one thread");
    options_.threads = n;
    return *this;
  }
  /// The `Retry-After` (seconds) of 429 and 503 answers (default 1).
  BasicHttpSource& set_retry_after_seconds(int s) {
    if (s < 0) throw GraphError("HttpSource: Retry-After must not be negative");
    options_.retry_after_seconds = s;
    return *this;
  }
  /// A request whose records the task has not started to take by then is withdrawn from the
  /// queue and answered 503 (default 30 s; none of its records entered the job).
  BasicHttpSource& set_ack_timeout(std::chrono::milliseconds t) {
    if (t.count() <= 0) throw GraphError("HttpSource: the ack timeout must be positive");
    options_.ack_timeout = t;
    return *this;
  }
  /// An idle keep-alive connection is closed after `s` seconds (default 2; it also bounds how
  /// long stopping the server waits for an idle client).
  BasicHttpSource& set_keep_alive_seconds(int s) {
    if (s < 0) throw GraphError("HttpSource: the keep-alive time must not be negative");
    options_.keep_alive_seconds = s;
    return *this;
  }
  /// The format of a body without Content-Type (default JSON lines).
  BasicHttpSource& set_default_format(HttpBodyFormat f) {
    options_.default_format = f;
    return *this;
  }
  /// The source ends after `n` requests were taken (0: never, the default); later requests get 503.
  BasicHttpSource& set_bounded(uint64_t n) {
    options_.bounded_requests = n;
    return *this;
  }
  /// What to do with a line that is not JSON, above the record limit, or that the deserializer
  /// refuses (default fail).
  BasicHttpSource& set_bad_record_policy(BadRecordPolicy p) {
    options_.bad_record_policy = std::move(p);
    return *this;
  }
  /// Called (on the task's thread) with the port each time a server binds.
  BasicHttpSource& on_bound(std::function<void(int)> f) {
    options_.on_bound = std::move(f);
    return *this;
  }

  /// The same source, its records made by `f` (`U(std::string_view)`).
  template <class U, class F>
  BasicHttpSource<U> with_deserializer(F f) const {
    return BasicHttpSource<U>(options_, handle_, std::function<U(std::string_view)>(std::move(f)));
  }

  BadRecordPolicy bad_record_policy() const { return options_.bad_record_policy; }
  const HttpSourceOptions& options() const { return options_; }
  /// Shared by every copy of this source and the readers of its jobs.
  std::shared_ptr<HttpSourceHandle> handle() const { return handle_; }

  int num_splits(int) const override { return 1; }
  std::unique_ptr<SplitReader<T>> create_reader(int, int) const override {
    return std::make_unique<http_detail::Reader<T>>(options_, handle_, deserializer_);
  }

 private:
  void set_stream(std::string stream) {
    if (stream.empty() || stream.find('/') != std::string::npos) {
      throw GraphError("HttpSource: the stream name '" + stream + "' must be non-empty and without '/'");
    }
    options_.stream = std::move(stream);
  }

  HttpSourceOptions options_;
  std::shared_ptr<HttpSourceHandle> handle_;
  std::function<T(std::string_view)> deserializer_;
};

/// The source of JSON texts (`std::string`).
using HttpSource = BasicHttpSource<std::string>;

/// The records of `source`, read by one subtask (parallelism 1), without watermarks.
template <class T>
DataStream<T> http_source_stream(StreamExecutionEnvironment& env, const BasicHttpSource<T>& source,
                                 std::string name = "HTTP Source") {
  return env.from_source(source, WatermarkStrategy<T>::no_watermarks(), std::move(name)).set_parallelism(1);
}

}  // namespace weir
