// The Kafka API exactly as the connectors issue states it (each form its words allow), run
// against the real broker of the test suite (its address instead of 127.0.0.1:9092).
#include <gtest/gtest.h>

#include <algorithm>

#include "connectors/kafka_test_util.h"
#include "weir/connectors/kafka.hpp"
#include "weir/weir.hpp"

namespace {

using weir::testsupport::kafka_bootstrap;

TEST(KafkaContract, TheIssuesSourceAndSinkAsWritten) {
  const std::string in_topic = weir::testsupport::unique_topic("in");
  const std::string out_topic = weir::testsupport::unique_topic("out");
  weir::testsupport::create_topic(in_topic, 2);
  weir::testsupport::kcat_produce(in_topic, {"a", "b", "c"});
  auto env = weir::StreamExecutionEnvironment::create();
  auto src = weir::KafkaSource<std::string>::builder()
      .set_bootstrap_servers(kafka_bootstrap())
      .set_topics({in_topic})                       // or .set_topic_pattern("in-.*")
      .set_group_id("doubler")
      .set_starting_offsets(weir::OffsetsInitializer::earliest())  // latest(), committed_offsets(), timestamp(ms), offsets({...})
      .set_value_only_deserializer(weir::SimpleStringSchema{})      // or a key+value deserializer
      .set_property("fetch.wait.max.ms", "10")                      // passed to librdkafka
      .set_bounded(weir::OffsetsInitializer::latest())              // optional: a finite job
      .build();
  auto in = env.from_source(src, weir::WatermarkStrategy<std::string>::for_monotonous_timestamps(), "kafka-in");

  auto sink = weir::KafkaSink<std::string>::builder()
      .set_bootstrap_servers(kafka_bootstrap())
      .set_record_serializer(weir::KafkaRecordSerializationSchema<std::string>::builder()
          .set_topic(out_topic).set_value_serialization_schema(weir::SimpleStringSchema{}).build())
      .set_delivery_guarantee(weir::DeliveryGuarantee::exactly_once)  // none, at_least_once
      .set_transactional_id_prefix("doubler")
      .build();
  in.sink_to(sink);
  env.execute();
  auto got = weir::testsupport::kcat_consume(out_topic, true);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(KafkaContract, TheOtherFormsTheIssueNames) {
  auto b = weir::KafkaSource<std::string>::builder();
  b.set_bootstrap_servers(kafka_bootstrap()).set_topic_pattern("in-.*").set_value_only_deserializer(weir::SimpleStringSchema{});
  b.set_starting_offsets(weir::OffsetsInitializer::latest());
  b.set_starting_offsets(weir::OffsetsInitializer::timestamp(1700000000000));
  b.set_starting_offsets(weir::OffsetsInitializer::offsets({{{"in-1", 0}, 42}}));
  b.set_group_id("g").set_starting_offsets(weir::OffsetsInitializer::committed_offsets());
  auto by_pattern = b.build();
  EXPECT_FALSE(by_pattern.is_bounded());
  // A key+value deserializer.
  auto kv = weir::KafkaSource<std::pair<std::string, std::string>>::builder()
                .set_bootstrap_servers(kafka_bootstrap())
                .set_topics({"in"})
                .set_deserializer([](const weir::KafkaConsumerRecord& r) {
                  return std::pair<std::string, std::string>(std::string(r.key.value_or("")), std::string(r.value.value_or("")));
                })
                .build();
  (void)kv;
  for (auto g : {weir::DeliveryGuarantee::none, weir::DeliveryGuarantee::at_least_once}) {
    auto s = weir::KafkaSink<std::string>::builder()
                 .set_bootstrap_servers(kafka_bootstrap())
                 .set_record_serializer(weir::KafkaRecordSerializationSchema<std::string>::builder()
                                            .set_topic("out").set_value_serialization_schema(weir::SimpleStringSchema{}).build())
                 .set_delivery_guarantee(g)
                 .build();
    EXPECT_EQ(s.get_delivery_guarantee(), g);
  }
}

}  // namespace
