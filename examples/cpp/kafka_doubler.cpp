// Kafka in, map, Kafka out, exactly once: reads integers as text lines from a topic and writes
// each doubled to another; a line that is not an integer goes, unchanged, to "<output>.dlq"
// with the error in a header. Stops cleanly on SIGINT/SIGTERM after a final savepoint; on start
// it resumes from the newest checkpoint or savepoint in --checkpoint-dir, if there is one.
//
//   kafka_doubler --bootstrap HOST:PORT --input TOPIC --output TOPIC [--checkpoint-dir DIR]
#include <csignal>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <weir/connectors/kafka.hpp>
#include <weir/weir.hpp>

namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_stop = 0;

int64_t parse_integer(const weir::KafkaConsumerRecord& r) {
  const std::string s(r.value.value_or(""));
  std::size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size()) throw std::invalid_argument("not an integer: '" + s + "'");
  return v;
}

/// The newest folder under `dir` (or one level deeper: a job's checkpoints) with a `_metadata`.
std::string newest_snapshot(const std::string& dir) {
  std::string best;
  fs::file_time_type best_time{};
  std::error_code ec;
  if (dir.empty() || !fs::exists(dir, ec)) return best;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it.depth() > 2) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().filename() == "_metadata") {
      const auto t = fs::last_write_time(it->path(), ec);
      if (!ec && (best.empty() || t > best_time)) {
        best_time = t;
        best = it->path().parent_path().string();
      }
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, input, output, checkpoint_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--bootstrap") bootstrap = argv[i + 1];
    else if (a == "--input") input = argv[i + 1];
    else if (a == "--output") output = argv[i + 1];
    else if (a == "--checkpoint-dir") checkpoint_dir = argv[i + 1];
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  if (bootstrap.empty() || input.empty() || output.empty()) {
    std::cerr << "usage: kafka_doubler --bootstrap HOST:PORT --input TOPIC --output TOPIC [--checkpoint-dir DIR]\n";
    return 2;
  }
  if (checkpoint_dir.empty()) checkpoint_dir = (fs::temp_directory_path() / ("kafka-doubler-" + output)).string();
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });

  try {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(2);
    env.enable_checkpointing(200);
    env.set_checkpoint_storage(checkpoint_dir);
    if (const auto from = newest_snapshot(checkpoint_dir); !from.empty()) {
      std::cerr << "kafka_doubler: resuming from " << from << "\n";
      env.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(from));
    }

    weir::OutputTag<weir::BadRecord> not_integers("not-integers");
    auto source = weir::KafkaSource<int64_t>::builder()
                      .set_bootstrap_servers(bootstrap)
                      .set_topics({input})
                      .set_group_id("kafka-doubler")
                      .set_starting_offsets(weir::OffsetsInitializer::earliest())
                      .set_deserializer(parse_integer)
                      .set_property("fetch.wait.max.ms", "10")
                      .set_bad_record_policy(weir::BadRecordPolicy::dead_letter(not_integers))
                      .build();
    auto numbers = env.from_source(source, weir::WatermarkStrategy<int64_t>::for_monotonous_timestamps(), "kafka-in").uid("kafka-in");

    auto exactly_once = [&](auto builder, const std::string& prefix) {
      return builder.set_bootstrap_servers(bootstrap)
          .set_delivery_guarantee(weir::DeliveryGuarantee::exactly_once)
          .set_transactional_id_prefix(prefix)
          .set_property("transaction.timeout.ms", "600000")  // below the broker's default maximum (15 min)
          .build();
    };
    numbers.map([](int64_t v) { return std::to_string(2 * v); })
        .uid("double")
        .sink_to(exactly_once(weir::KafkaSink<std::string>::builder().set_record_serializer(
                                  weir::KafkaRecordSerializationSchema<std::string>::builder()
                                      .set_topic(output)
                                      .set_value_serialization_schema(weir::SimpleStringSchema{})
                                      .build()),
                              "kafka-doubler-" + output))
        .uid("kafka-out");
    const std::string dlq = output + ".dlq";
    numbers.get_side_output(not_integers)
        .sink_to(exactly_once(weir::KafkaSink<weir::BadRecord>::builder().set_record_serializer(
                                  weir::KafkaRecordSerializationSchema<weir::BadRecord>::of([dlq](const weir::BadRecord& b) {
                                    weir::KafkaProducerRecord r;
                                    r.topic = dlq;
                                    r.value = b.bytes;
                                    r.headers = {{"error", b.error}, {"origin", b.origin}};
                                    return r;
                                  })),
                              "kafka-doubler-" + dlq))
        .uid("kafka-dlq");

    auto client = env.execute_async("kafka-doubler");
    auto result = client.get_job_execution_result();
    while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (g_stop) {
        const auto dir = checkpoint_dir + "/savepoint-" +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
        std::cerr << "kafka_doubler: stopping with a savepoint in " << client.stop_with_savepoint(dir).get() << "\n";
        break;
      }
    }
    client.wait();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "kafka_doubler: " << e.what() << "\n";
    return 1;
  }
}
