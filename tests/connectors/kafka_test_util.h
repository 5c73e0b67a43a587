#pragma once
// Helpers for tests against the real Kafka broker that ctest starts (scripts/kafka.sh, fixture
// "kafka"; its address in WEIR_KAFKA_BOOTSTRAP): topics through librdkafka's admin API, and
// kcat in another process to produce and to read (read_committed) what Weir wrote.
#include <librdkafka/rdkafka.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace weir::testsupport {

inline std::string kafka_bootstrap() {
  const char* b = std::getenv("WEIR_KAFKA_BOOTSTRAP");
  if (!b || !*b) throw std::runtime_error("WEIR_KAFKA_BOOTSTRAP is not set: run the Kafka tests through ctest (fixture kafka)");
  return b;
}

/// A topic name no other test uses.
inline std::string unique_topic(const std::string& base) {
  static std::atomic<int> n{0};
  std::random_device rd;
  return base + "-" + std::to_string(rd() % 1000000) + "-" + std::to_string(n++);
}

/// Runs a shell command; returns its standard output. Throws when it exits with an error.
inline std::string run(const std::string& cmd) {
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int st = ::pclose(f);
  if (st != 0) throw std::runtime_error("command failed (" + std::to_string(st) + "): " + cmd);
  return out;
}

/// Runs one admin request on the broker: `issue(rk, queue)` sends it, the result event is
/// awaited (30 s) and checked with `error_of(event)` (empty: success). Throws with `what`.
template <class Issue, class ErrorOf>
void admin_request(const std::string& what, Issue issue, ErrorOf error_of) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", kafka_bootstrap().c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(what + ": " + err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  issue(rk, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  std::string error = "timed out";
  if (ev) {
    error = rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : error_of(ev);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  if (!error.empty()) throw std::runtime_error(what + ": " + error);
}

inline void create_topic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  admin_request(
      "creating topic " + topic, [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q); },
      [](rd_kafka_event_t* ev) -> std::string {
        size_t cnt = 0;
        const rd_kafka_topic_result_t** tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        return cnt == 1 && rd_kafka_topic_result_error(tr[0]) ? rd_kafka_topic_result_error_string(tr[0]) : "";
      });
  rd_kafka_NewTopic_destroy(nt);
}

inline void add_partitions(const std::string& topic, int total) {
  char err[512];
  rd_kafka_NewPartitions_t* np = rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(total), err, sizeof err);
  admin_request(
      "adding partitions to " + topic,
      [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_CreatePartitions(rk, &np, 1, nullptr, q); },
      [](rd_kafka_event_t*) { return std::string(); });
  rd_kafka_NewPartitions_destroy(np);
}

/// Produces `lines` with kcat (keys "k<i>" spread them over the partitions, or `partition`).
inline void kcat_produce(const std::string& topic, const std::vector<std::string>& lines, int partition = -1,
                         const std::string& dir = "/tmp") {
  const std::string file = dir + "/kcat-in-" + topic + ".txt";
  {
    std::ofstream out(file);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (partition < 0) out << "k" << i << "\t";
      out << lines[i] << "\n";
    }
  }
  std::string cmd = "kcat -P -b " + kafka_bootstrap() + " -t " + topic + " -X linger.ms=5";
  cmd += partition >= 0 ? " -p " + std::to_string(partition) : " -K '\t'";
  run(cmd + " -l " + file);
  std::remove(file.c_str());
}

/// Every value in `topic` from the beginning to its current end, with kcat (read_committed).
inline std::vector<std::string> kcat_consume(const std::string& topic, bool read_committed = true,
                                             const std::string& format = "%s\\n") {
  const std::string out = run("kcat -C -b " + kafka_bootstrap() + " -t " + topic + " -o beginning -e -q -f '" + format +
                              "' -X isolation.level=" + (read_committed ? "read_committed" : "read_uncommitted"));
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const auto nl = out.find('\n', pos);
    if (nl == std::string::npos) {
      lines.push_back(out.substr(pos));
      break;
    }
    lines.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

}  // namespace weir::testsupport
