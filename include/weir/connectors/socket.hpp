#pragma once
/// The socket connector (library `weir::socket`): text read from a TCP server, as Flink's
/// `socketTextStream`.
///
///     #include <weir/connectors/socket.hpp>   // and link weir::socket
///     auto lines = weir::socket_text_stream(env, "localhost", 9999);
///
/// One split, read by one subtask. A reader thread owns the blocking connect and reads and hands
/// records to the task through a bounded queue, waking the task with the reader's public
/// wake-up (no worker thread waits on the network, and the task does not poll). The stream ends
/// when the server closes the connection. Not replayable: after a restore it reads on from a new
/// connection (logged at the first checkpoint).
#include <memory>
#include <string>

#include "weir/api/environment.hpp"
#include "weir/api/source.hpp"

namespace weir {

/// Records separated by `delimiter` (a trailing '\r' is dropped when it is '\n') from
/// `host:port`; the text after the last delimiter is the last record.
class SocketTextSource final : public Source<std::string> {
 public:
  /// Throws GraphError when the port is not in [1, 65535] or the host is empty.
  SocketTextSource(std::string host, int port, char delimiter = '\n');
  int num_splits(int parallelism) const override { return 1; }
  std::unique_ptr<SplitReader<std::string>> create_reader(int split, int num_splits) const override;

 private:
  std::string host_;
  int port_;
  char delimiter_;
};

/// The records of a `SocketTextSource`, from one subtask (parallelism 1), named "Socket Stream".
inline DataStream<std::string> socket_text_stream(StreamExecutionEnvironment& env, std::string host, int port,
                                                  char delimiter = '\n') {
  return env
      .from_source(SocketTextSource(std::move(host), port, delimiter), WatermarkStrategy<std::string>::no_watermarks(),
                   "Socket Stream")
      .set_parallelism(1);
}

}  // namespace weir
