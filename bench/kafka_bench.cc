// Kafka source -> map -> Kafka sink against a real broker: records/s and records per CPU-second
// of this process (getrusage: user + system, every thread). The input topic is filled first
// (bench/kafka_bench.sh does it with Kafka's ProducerPerformance).
//
//   kafka_bench BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC at_least_once|exactly_once|discard [PARALLELISM [CHECKPOINT_MS]]
// Environment: KAFKA_BENCH_CONSUMER / KAFKA_BENCH_PRODUCER="k=v,..." add properties;
// KAFKA_BENCH_SPLIT=1 runs the map and the sink in a task of their own.
// (discard: the source and the map only, the records dropped by a sink that does nothing.)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "weir/connectors/kafka.hpp"
#include "weir/weir.hpp"

namespace {
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
/// "k=v,k=v" from the environment variable `name` (none when unset).
std::map<std::string, std::string> properties_from_env(const char* name) {
  std::map<std::string, std::string> out;
  const char* e = std::getenv(name);
  const std::string list = e ? e : "";
  std::size_t pos = 0;
  while (pos < list.size()) {
    const auto end = std::min(list.find(',', pos), list.size());
    const auto kv = list.substr(pos, end - pos);
    if (const auto eq = kv.find('='); eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}
}  // namespace

int run(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kafka_bench: %s\n", e.what());
    return 1;
  }
}

int run(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: kafka_bench BOOTSTRAP INPUT OUTPUT at_least_once|exactly_once [PARALLELISM]\n");
    return 2;
  }
  const std::string bootstrap = argv[1], input = argv[2], output = argv[3], mode = argv[4];
  const int p = argc > 5 ? std::stoi(argv[5]) : 1;
  const int64_t checkpoint_ms = argc > 6 ? std::stoll(argv[6]) : 1000;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p);
  if (checkpoint_ms > 0) env.enable_checkpointing(checkpoint_ms);
  // Extra consumer and producer properties: KAFKA_BENCH_CONSUMER / KAFKA_BENCH_PRODUCER="k=v,k=v".
  const auto consumer_extra = properties_from_env("KAFKA_BENCH_CONSUMER");
  auto src = weir::KafkaSource<std::string>::builder()
                 .set_bootstrap_servers(bootstrap)
                 .set_topics({input})
                 .set_value_only_deserializer(weir::SimpleStringSchema{})
                 .set_bounded(weir::OffsetsInitializer::latest())
                 .set_properties(consumer_extra)
                 .build();
  const auto extra = properties_from_env("KAFKA_BENCH_PRODUCER");
  auto sink = weir::KafkaSink<std::string>::builder()
                  .set_bootstrap_servers(bootstrap)
                  .set_record_serializer(weir::KafkaRecordSerializationSchema<std::string>::builder()
                                             .set_topic(output)
                                             .set_value_serialization_schema(weir::SimpleStringSchema{})
                                             .build())
                  .set_delivery_guarantee(mode == "exactly_once" ? weir::DeliveryGuarantee::exactly_once
                                                                 : weir::DeliveryGuarantee::at_least_once)
                  .set_transactional_id_prefix("bench-" + output)
                  .set_property("transaction.timeout.ms", "600000")
                  .set_property("linger.ms", "20")
                  .set_kafka_producer_config(extra)
                  .build();
  auto stream = mode == "generate_at_least_once"
                   ? env.from_sequence(0, 2999999).map([](int64_t i) { return std::to_string(i) + std::string(90, 'x'); })
                   : env.from_source(src, weir::WatermarkStrategy<std::string>::no_watermarks(), "kafka-in");
  auto mapped = stream.map([](const std::string& s) {
                      std::string r = s;
                      r[0] = 'W';
                      return r;
                    });
  if (std::getenv("KAFKA_BENCH_SPLIT")) mapped.disable_chaining();  // the map (and sink) in their own task
  if (mode == "discard") {
    mapped.add_sink([](const std::string&) {});
  } else {
    mapped.sink_to(sink);
  }
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto client = env.execute_async("kafka-bench");
  client.wait();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  int64_t records = 0;
  for (const auto& m : client.metrics()) {
    for (const auto& [k, v] : m.operator_metrics) {
      if (k.find(".partition.") != std::string::npos && k.size() > 8 && k.compare(k.size() - 8, 8, ".records") == 0) records += v;
    }
  }
  if (mode == "generate_at_least_once") records = 3000000;  // from_sequence(0, 2999999): no source counters
  std::printf("kafka_bench %s p=%d: %lld records in %.2f s: %.0f records/s, %.0f records per CPU-second (cpu %.2f s)\n",
              mode.c_str(), p, static_cast<long long>(records), wall, records / wall, records / cpu, cpu);
  return 0;
}
