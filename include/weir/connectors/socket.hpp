#pragma once
/// The socket connector (library `weir::socket`): text read from a TCP server, as Flink's
/// `socketTextStream`, and records written to one, as Flink's `writeToSocket`.
///
///     #include <weir/connectors/socket.hpp>   // and link weir::socket
///     auto lines = weir::socket_text_stream(env, "localhost", 9999, '\n', /*max_retry=*/-1);
///     weir::write_to_socket(lines, "localhost", 9998);
///
/// Source: one split, read by one subtask. A reader thread owns the blocking connect and reads
/// and hands records to the task through a bounded queue, waking the task with the reader's
/// public wake-up (no worker thread waits on the network, and the task does not poll). With
/// `max_retry` 0 (the default) the stream ends when the server closes the connection and a
/// failed connect fails the job; otherwise the reader connects again after `retry_delay` when
/// the connect fails or the server closes, up to `max_retry` times over the reader's life (-1:
/// forever). Not replayable: after a restore it reads on from a new connection (logged at the
/// first checkpoint).
///
/// Sink: each subtask keeps one connection and writes every record serialised, then the
/// delimiter. A failed connect or write closes the connection and connects again (after
/// `retry_delay`, up to `max_retry` times in a row, default 0) and writes the record again; when
/// it cannot, the job fails naming the server and the error. The retries wait on the sink's task
/// thread (it cannot go on anyway), so there is no "forever" for the sink: a cancel waits for
/// them. No delivery guarantee: bytes the kernel had
/// accepted on a connection that broke may be lost (as Flink's `SocketClientSink`).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "weir/api/bad_records.hpp"
#include "weir/api/environment.hpp"
#include "weir/api/source.hpp"
#include "weir/serde/text.hpp"

namespace weir {

/// Records separated by `delimiter` (a trailing '\r' is dropped when it is '\n') from
/// `host:port`; the text after the last delimiter of a connection is a record too.
class SocketTextSource final : public Source<std::string> {
 public:
  /// Throws GraphError when the port is not in [1, 65535], the host is empty, `max_retry` is
  /// below -1 or the delay is negative.
  SocketTextSource(std::string host, int port, char delimiter = '\n', int64_t max_retry = 0,
                   std::chrono::milliseconds retry_delay = std::chrono::milliseconds(500));
  /// What a record longer than the limit does (default: fail the job).
  SocketTextSource& set_bad_record_policy(BadRecordPolicy p) {
    policy_ = std::move(p);
    return *this;
  }
  /// The longest record in bytes (default 1 MiB); the reader keeps at most this much of a
  /// longer one (its start, for the bad record) and skips the rest up to the next delimiter.
  SocketTextSource& set_max_record_bytes(std::size_t n);
  BadRecordPolicy bad_record_policy() const { return policy_; }

  int num_splits(int parallelism) const override { return 1; }
  std::unique_ptr<SplitReader<std::string>> create_reader(int split, int num_splits) const override;

 private:
  std::string host_;
  int port_;
  char delimiter_;
  int64_t max_retry_;
  std::chrono::milliseconds retry_delay_;
  BadRecordPolicy policy_;
  std::size_t max_bytes_ = 1 << 20;
};

/// The records of a `SocketTextSource`, from one subtask (parallelism 1), named "Socket Stream"
/// (Flink's `socketTextStream(hostname, port, delimiter, maxRetry)`).
inline DataStream<std::string> socket_text_stream(StreamExecutionEnvironment& env, std::string host, int port,
                                                  char delimiter = '\n', int64_t max_retry = 0,
                                                  std::chrono::milliseconds retry_delay = std::chrono::milliseconds(500)) {
  return env
      .from_source(SocketTextSource(std::move(host), port, delimiter, max_retry, retry_delay),
                   WatermarkStrategy<std::string>::no_watermarks(), "Socket Stream")
      .set_parallelism(1);
}

namespace socket_detail {
/// One TCP connection of a socket sink, with its retries (implemented in the library).
class SocketWriter {
 public:
  SocketWriter(std::string host, int port, int64_t max_retry, std::chrono::milliseconds retry_delay);
  ~SocketWriter();
  SocketWriter(const SocketWriter&) = delete;
  SocketWriter& operator=(const SocketWriter&) = delete;
  /// Connects (with retries); throws `std::runtime_error` naming the server when it cannot.
  void connect();
  /// Writes all of `bytes`, connecting again and writing them again after a failure; throws
  /// when the retries are used up.
  void write(const std::string& bytes);
  void close();
  int64_t reconnects() const { return reconnects_; }

 private:
  bool try_connect(std::string& error);
  std::string host_;
  int port_;
  int64_t max_retry_;
  std::chrono::milliseconds delay_;
  int fd_ = -1;
  int64_t reconnects_ = 0;
};
}  // namespace socket_detail

/// Writes records to `host:port` (see the file comment): `serializer(record, out)` appends a
/// record's bytes to `out`, then `delimiter` is written after it (default '\n'; '\0' writes
/// none). Use with `stream.add_sink(SocketSink<T>(...))` or `write_to_socket`. Metrics:
/// `records`, `bytes`, `reconnects`.
template <class T>
class SocketSink {
 public:
  using Serializer = std::function<void(const T&, std::string&)>;
  /// Serialises with `weir::to_text` (text types: strings as they are, numbers in decimal).
  SocketSink(std::string host, int port, int64_t max_retry = 0,
             std::chrono::milliseconds retry_delay = std::chrono::milliseconds(500))
      : SocketSink(std::move(host), port, [](const T& v, std::string& out) { append_text(out, v); }, max_retry, retry_delay) {}
  SocketSink(std::string host, int port, Serializer serializer, int64_t max_retry = 0,
             std::chrono::milliseconds retry_delay = std::chrono::milliseconds(500), char delimiter = '\n')
      : host_(std::move(host)),
        port_(port),
        serializer_(std::move(serializer)),
        max_retry_(max_retry),
        delay_(retry_delay),
        delimiter_(delimiter) {
    if (port < 1 || port > 65535) throw GraphError("SocketSink: port " + std::to_string(port) + " is not in [1, 65535]");
    if (host_.empty()) throw GraphError("SocketSink: the host must not be empty");
    if (max_retry < 0) throw GraphError("SocketSink: max_retry must be 0 or more");
    if (retry_delay.count() < 0) throw GraphError("SocketSink: the retry delay must not be negative");
    if (!serializer_) throw GraphError("SocketSink: the serializer must not be empty");
  }
  SocketSink(const SocketSink& o)
      : host_(o.host_), port_(o.port_), serializer_(o.serializer_), max_retry_(o.max_retry_), delay_(o.delay_), delimiter_(o.delimiter_) {}

  void open(RuntimeContext& ctx) {
    records_ = &ctx.get_metric_group().counter("records");
    bytes_ = &ctx.get_metric_group().counter("bytes");
    reconnects_ = &ctx.get_metric_group().counter("reconnects");
    writer_ = std::make_unique<socket_detail::SocketWriter>(host_, port_, max_retry_, delay_);
    writer_->connect();
  }
  void operator()(const T& value) {
    buf_.clear();
    serializer_(value, buf_);
    if (delimiter_ != '\0') buf_ += delimiter_;
    const int64_t before = writer_->reconnects();
    writer_->write(buf_);
    records_->inc();
    bytes_->inc(static_cast<int64_t>(buf_.size()));
    if (writer_->reconnects() != before) reconnects_->inc(writer_->reconnects() - before);
  }
  void close() {
    if (writer_) writer_->close();
    writer_.reset();
  }

 private:
  std::string host_;
  int port_;
  Serializer serializer_;
  int64_t max_retry_;
  std::chrono::milliseconds delay_;
  char delimiter_;
  std::unique_ptr<socket_detail::SocketWriter> writer_;
  std::string buf_;
  Counter* records_ = nullptr;
  Counter* bytes_ = nullptr;
  Counter* reconnects_ = nullptr;
};

/// Writes `stream`'s records to `host:port`, one line each (Flink's `writeToSocket`), as a sink
/// named "Socket Sink".
template <class T>
DataStreamSink write_to_socket(const DataStream<T>& stream, std::string host, int port, int64_t max_retry = 0,
                               std::chrono::milliseconds retry_delay = std::chrono::milliseconds(500)) {
  return stream.add_sink(SocketSink<T>(std::move(host), port, max_retry, retry_delay)).name("Socket Sink");
}
/// The same with a serializer: `serializer(record, out)` appends the record's bytes to `out`.
template <class T, class S>
  requires std::is_invocable_v<S&, const T&, std::string&>
DataStreamSink write_to_socket(const DataStream<T>& stream, std::string host, int port, S serializer, int64_t max_retry = 0,
                               std::chrono::milliseconds retry_delay = std::chrono::milliseconds(500), char delimiter = '\n') {
  return stream
      .add_sink(SocketSink<T>(std::move(host), port, typename SocketSink<T>::Serializer(std::move(serializer)), max_retry,
                              retry_delay, delimiter))
      .name("Socket Sink");
}

}  // namespace weir
