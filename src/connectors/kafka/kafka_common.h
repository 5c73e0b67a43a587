#pragma once
// librdkafka handles and configuration shared by the Kafka source and sink.
#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace weir::kafka_detail {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

/// Properties of the connector itself, not passed to librdkafka.
inline bool is_connector_property(const std::string& key) {
  return key.rfind("weir.", 0) == 0 || key == "partition.discovery.interval.ms" ||
         key == "commit.offsets.on.checkpoint";
}

/// A librdkafka configuration from `props` (connector properties left out). `what` names the
/// client in errors ("KafkaSource", "KafkaSink").
inline ConfHandle make_conf(const std::map<std::string, std::string>& props, const std::string& what) {
  ConfHandle conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : props) {
    if (is_connector_property(k)) continue;
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      throw std::invalid_argument(what + ": property '" + k + "' = '" + v + "': " + err);
    }
  }
  return conf;
}

/// librdkafka 2.2 and later have fetch.queue.backoff.ms (how long the fetcher waits before it
/// looks again at a partition whose local queue was full; before 2.2 up to 1 s, fixed).
inline bool has_fetch_queue_backoff() { return rd_kafka_version() >= 0x02020000; }

/// Logs librdkafka's messages through the engine's log.
void install_logger(rd_kafka_conf_t* conf);

}  // namespace weir::kafka_detail
