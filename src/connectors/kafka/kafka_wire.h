#pragma once
// The few Kafka protocol requests librdkafka has no API for, on a plain blocking socket:
// FindCoordinator (v1), DescribeTransactions (v0) and EndTxn (v3). The exactly-once sink uses
// them to finish a transaction that a previous run of the job pre-committed (the producer that
// began it is gone), and to abort transactions it left open. Kafka's protocol guide:
// https://kafka.apache.org/protocol.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::kafka_wire {

/// A transaction's state as the coordinator describes it.
struct TransactionState {
  std::string transactional_id;
  int16_t error = 0;          ///< 105 TRANSACTIONAL_ID_NOT_FOUND: never used (or expired)
  std::string state;          ///< "Empty", "Ongoing", "PrepareCommit", "CompleteCommit", ...
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int64_t start_time = -1;
  int32_t num_partitions = 0;
};

constexpr int16_t kTransactionalIdNotFound = 105;

/// One connection per coordinator, opened as needed. Throws std::runtime_error with the
/// broker's error name when a request fails for good (transient errors are retried until
/// `timeout`).
class TransactionClient {
 public:
  TransactionClient(std::string bootstrap_servers, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~TransactionClient();
  TransactionClient(const TransactionClient&) = delete;
  TransactionClient& operator=(const TransactionClient&) = delete;

  /// Describes the transactional ids (all must have the same coordinator: they are asked of
  /// the first one's; an id answered NOT_COORDINATOR is asked again alone).
  std::vector<TransactionState> describe(const std::vector<std::string>& ids);
  /// Ends the ongoing transaction of `id` with the producer id and epoch that hold it.
  void end_transaction(const std::string& id, int64_t producer_id, int16_t producer_epoch, bool commit);

 private:
  struct Conn;
  Conn& coordinator(const std::string& id);
  std::vector<std::pair<std::string, int>> bootstrap_;
  std::chrono::milliseconds timeout_;
  std::vector<std::pair<std::string, Conn*>> conns_;  ///< "host:port" -> connection
  int32_t correlation_ = 0;
};

/// The name of a Kafka error code ("CONCURRENT_TRANSACTIONS (51)").
std::string error_name(int16_t code);

}  // namespace weir::kafka_wire
