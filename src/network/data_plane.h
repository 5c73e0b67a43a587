#pragma once
/// The data plane between processes: channels whose producer and consumer ends live in two
/// processes, over TCP, with credit-based flow control. See src/network/README.md for the wire
/// format, the credit protocol, threading and failure behaviour.
///
/// One `DataPlane` per process listens for connections from the planes that send to it and
/// dials the planes it sends to; one connection per (sending process, receiving process) pair
/// carries the frames of all channels between them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "runtime/channel.h"

namespace weir::detail {
class TypeOps;
}

namespace weir::runtime {

class Task;

/// A channel between processes failed: the connection was lost or refused, the peer sent a
/// malformed frame, or a batch did not decode. The message names the peer and the channel.
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace weir::runtime

namespace weir::network {

/// Names a channel across processes: the job, its attempt (a restart opens new channels) and
/// the channel's index in the physical plan.
struct ChannelId {
  std::string job_id;
  int32_t attempt = 0;
  int32_t channel = 0;
  std::string to_string() const;
  friend bool operator<(const ChannelId& a, const ChannelId& b) {
    if (a.job_id != b.job_id) return a.job_id < b.job_id;
    if (a.attempt != b.attempt) return a.attempt < b.attempt;
    return a.channel < b.channel;
  }
  friend bool operator==(const ChannelId&, const ChannelId&) = default;
};

struct DataPlaneOptions {
  std::string bind_host = "127.0.0.1";
  uint16_t port = 0;   ///< 0: an ephemeral port (read it back with `DataPlane::port()`)
  std::string secret;  ///< when set, both planes must have the same one
  /// How long `close()` waits for queued frames (end of input included) to go out and for the
  /// receiving planes to acknowledge the end of each connection; 0: close at once.
  std::chrono::milliseconds close_timeout{5000};
};

class DataPlane {
 public:
  /// Listens at once; throws runtime::NetworkError when the address cannot be bound.
  explicit DataPlane(DataPlaneOptions options);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  uint16_t port() const;
  /// "host:port" this plane listens on.
  std::string address() const;
  /// Connections accepted so far (tests: one per sending plane).
  int accepted_connections() const;

  /// The producer's end of channel `id`, whose consumer's plane listens at `peer` ("host:port").
  /// Events are encoded on the calling thread; `producer` is notified when the unsent bytes fell
  /// below half the capacity after `producer_available()` returned false, and when the channel
  /// fails. Connecting happens on the I/O thread: a failure shows at the next push.
  std::unique_ptr<runtime::OutputChannel> open_output(ChannelId id, std::string peer, std::size_t capacity_bytes,
                                                      runtime::Task* producer, runtime::ChannelStats* stats);
  /// As above with a plain callback in place of the producer task (tests, benchmarks).
  std::unique_ptr<runtime::OutputChannel> open_output(ChannelId id, std::string peer, std::size_t capacity_bytes,
                                                      std::function<void()> on_room, runtime::ChannelStats* stats);

  /// The consumer's end of channel `id`: batches are decoded on the consumer's thread as
  /// records of `type`. Its producer's frames flow once this was called (the initial credit is
  /// `capacity_bytes`), whichever of the two ends opened first. Throws std::logic_error when
  /// `id` is already open here.
  std::unique_ptr<runtime::InputChannel> open_input(ChannelId id, int gate_index, runtime::InputGate* gate,
                                                    std::shared_ptr<const detail::TypeOps> type,
                                                    std::size_t capacity_bytes, runtime::ChannelStats* stats);

  /// Lets what producers queued go out (frames that have credit, and barriers and end of input
  /// behind them; at most `close_timeout`), closes the connections this plane dialled cleanly,
  /// then stops the I/O thread and closes every connection; open channels fail with
  /// NetworkError at their next use. Idempotent; the destructor calls it.
  void close();

  struct Core;

 private:
  std::shared_ptr<Core> core_;
  std::chrono::milliseconds close_timeout_;
};

}  // namespace weir::network
