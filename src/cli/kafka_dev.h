// `weir kafka-dev`: an in-memory Kafka broker for demos (librdkafka's mock cluster).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weir::cli {

/// A topic to create at start: `NAME:PARTITIONS` (or `NAME`, one partition).
struct KafkaDevTopic {
  std::string name;
  int partitions = 1;
};

/// Parses `NAME[:PARTITIONS]`; throws std::invalid_argument with a readable message.
KafkaDevTopic parse_kafka_dev_topic(const std::string& spec);

struct KafkaDevOptions {
  int port = 9092;  ///< 0: any free port
  std::vector<KafkaDevTopic> topics;
};

/// Runs the broker until SIGINT or SIGTERM. Prints "127.0.0.1:PORT" (one line) on stdout once
/// clients can connect. Returns the process exit code: 0 after a signal, 1 when it cannot start.
int run_kafka_dev(const KafkaDevOptions& options);

}  // namespace weir::cli
