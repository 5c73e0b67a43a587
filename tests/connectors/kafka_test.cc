// The Kafka connector against a real Apache Kafka broker (started by ctest with
// scripts/kafka.sh): records produced by kcat are read by Weir, records Weir writes are read
// back by kcat (read_committed for transactions), at parallelism 1, 2 and 4, across failures,
// and with each bad-record policy.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_test_util.h"
#include "support/test_support.h"
#include "weir/connectors/kafka.hpp"
#include "weir/testing/faults.hpp"
#include "weir/weir.hpp"

namespace {

using namespace weir;
using namespace weir::testsupport;

std::vector<std::string> numbers(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(std::to_string(i));
  return v;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

KafkaSource<std::string> string_source(const std::string& topic, const std::string& group = "") {
  auto b = KafkaSource<std::string>::builder();
  b.set_bootstrap_servers(kafka_bootstrap())
      .set_topics({topic})
      .set_starting_offsets(OffsetsInitializer::earliest())
      .set_value_only_deserializer(SimpleStringSchema{})
      .set_property("fetch.wait.max.ms", "10")
      .set_bounded(OffsetsInitializer::latest());
  if (!group.empty()) b.set_group_id(group);
  return b.build();
}

KafkaSink<std::string> string_sink(const std::string& topic, DeliveryGuarantee g, const std::string& prefix = "") {
  auto b = KafkaSink<std::string>::builder();
  b.set_bootstrap_servers(kafka_bootstrap())
      .set_record_serializer(KafkaRecordSerializationSchema<std::string>::builder()
                                 .set_topic(topic)
                                 .set_value_serialization_schema(SimpleStringSchema{})
                                 .build())
      .set_delivery_guarantee(g);
  if (!prefix.empty()) b.set_transactional_id_prefix(prefix);
  return b.build();
}

TEST(Kafka, TheSourceReadsEveryRecordKcatProducedAtParallelism1To4) {
  const auto topic = unique_topic("src");
  create_topic(topic, 3);
  const auto lines = numbers(0, 3000);
  kcat_produce(topic, lines);
  for (int p : {1, 2, 4}) {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    auto got = env.from_source(string_source(topic), WatermarkStrategy<std::string>::for_monotonous_timestamps(), "kafka-in")
                   .execute_and_collect();
    EXPECT_EQ(sorted(got), sorted(lines)) << "parallelism " << p;
  }
}

// librdkafka stops fetching a partition whose local queue is over queued.max.messages.kbytes
// and, before 2.2, looks again only up to a second later: the reader restarts the fetch once it
// has drained the queue. With a 1 KB queue and fetches of one batch, every batch fills the
// queue: every record arrives once and in order, and the fetch was restarted after the batches.
TEST(Kafka, AReaderThatDrainsAFullPrefetchQueueRestartsTheFetch) {
  const auto topic = unique_topic("refill");
  create_topic(topic, 1);
  std::vector<std::string> lines;
  for (int b = 0; b < 10; ++b) {  // one kcat run per batch: at least 10 batches
    auto batch = numbers(b * 2000, (b + 1) * 2000);
    kcat_produce(topic, batch, 0);
    lines.insert(lines.end(), batch.begin(), batch.end());
  }
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto src = KafkaSource<std::string>::builder()
                 .set_bootstrap_servers(kafka_bootstrap())
                 .set_topics({topic})
                 .set_starting_offsets(OffsetsInitializer::earliest())
                 .set_value_only_deserializer(SimpleStringSchema{})
                 .set_bounded(OffsetsInitializer::latest())
                 .set_property("queued.max.messages.kbytes", "1")
                 .set_property("fetch.message.max.bytes", "1024")
                 .build();
  auto handle = env.from_source(src, WatermarkStrategy<std::string>::no_watermarks(), "kafka-in").collect_async();
  const auto t0 = std::chrono::steady_clock::now();
  auto client = env.execute_async();
  client.wait();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(handle.get(), lines) << "every record once, in the partition's order";
  int64_t restarts = 0;
  for (const auto& m : client.metrics()) {
    if (auto it = m.operator_metrics.find("kafka-in.partition." + topic + "-0.fetch_restarts"); it != m.operator_metrics.end()) {
      restarts += it->second;
    }
  }
  std::printf("read 20000 records in 10+ one-batch fetches in %.2f s, %lld fetch restarts\n", took,
              static_cast<long long>(restarts));
  if (rd_kafka_version() < 0x02020000) {
    EXPECT_GE(restarts, 5) << "librdkafka " << rd_kafka_version_str();
  }
}

TEST(Kafka, RecordsKeepKafkasTimestampsAndPartitionOrder) {
  const auto topic = unique_topic("ts");
  create_topic(topic, 2);
  kcat_produce(topic, numbers(0, 500), 0);
  kcat_produce(topic, numbers(500, 1000), 1);
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  auto src = KafkaSource<std::pair<int, int64_t>>::builder()
                 .set_bootstrap_servers(kafka_bootstrap())
                 .set_topics({topic})
                 .set_deserializer([](const KafkaConsumerRecord& r) {
                   return std::pair<int, int64_t>(r.partition * 100000 + std::stoi(std::string(*r.value)), r.timestamp);
                 })
                 .set_bounded(OffsetsInitializer::latest())
                 .build();
  auto got = env.from_source(src, WatermarkStrategy<std::pair<int, int64_t>>::no_watermarks(), "kafka-in").execute_and_collect();
  ASSERT_EQ(got.size(), 1000u);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<int> p0, p1;
  for (auto& [v, ts] : got) {
    EXPECT_GT(ts, now - 600000) << "a Kafka timestamp (ms)";
    EXPECT_LE(ts, now + 1000);
    (v >= 100000 ? p1 : p0).push_back(v % 100000);
  }
  EXPECT_TRUE(std::is_sorted(p0.begin(), p0.end()));
  EXPECT_TRUE(std::is_sorted(p1.begin(), p1.end()));
  EXPECT_EQ(p0.size(), 500u);
}

TEST(Kafka, TheSinkWritesEveryRecordAtLeastOnceForKcatToRead) {
  const auto topic = unique_topic("sink");
  create_topic(topic, 2);
  for (int p : {1, 2, 4}) {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    env.from_sequence(0, 1999).map([](int64_t v) { return std::to_string(v); }).sink_to(string_sink(topic, DeliveryGuarantee::at_least_once));
    env.execute();
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 3; ++i) {
    auto n = numbers(0, 2000);
    expected.insert(expected.end(), n.begin(), n.end());
  }
  EXPECT_EQ(sorted(kcat_consume(topic, false)), sorted(expected));
}

/// in → double → out, exactly once, with a failure at `fault` (nth hit); every doubled value
/// must be visible exactly once to a read_committed consumer.
void exactly_once_across_failure(const std::string& fault, int64_t nth, int parallelism,
                                 std::chrono::microseconds per_record = std::chrono::microseconds(0)) {
  const auto in = unique_topic("eo-in");
  const auto out = unique_topic("eo-out");
  create_topic(in, 3);
  create_topic(out, 2);
  const auto lines = numbers(0, 20000);
  kcat_produce(in, lines);
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(parallelism);
  env.enable_checkpointing(50);
  env.set_restart_strategy(RestartStrategy::fixed_delay(3, std::chrono::milliseconds(100)));
  auto src = KafkaSource<std::string>::builder()
                 .set_bootstrap_servers(kafka_bootstrap())
                 .set_topics({in})
                 .set_group_id("eo-" + in)
                 .set_value_only_deserializer(SimpleStringSchema{})
                 .set_property("fetch.wait.max.ms", "10")
                 .set_property("max.partition.fetch.bytes", "2000")  // small fetches: checkpoints fall mid-stream
                 .set_bounded(OffsetsInitializer::latest())
                 .build();
  env.from_source(src, WatermarkStrategy<std::string>::for_monotonous_timestamps(), "kafka-in")
      .map([per_record](const std::string& s) {
        if (per_record.count() > 0) std::this_thread::sleep_for(per_record);  // a job that runs long enough
        return std::to_string(2 * std::stoll(s));
      })
      .sink_to(string_sink(out, DeliveryGuarantee::exactly_once, "eo-" + out));
  auto client = env.execute_async();
  if (nth > 0) {
    weir::testing::arm_fault(fault, nth);
  } else {
    // After the first completed checkpoint: the restore then starts from a checkpoint that
    // holds assigned splits and their positions.
    for (int i = 0; i < 2000 && client.get_checkpoint_stats().completed < 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    weir::testing::arm_fault(fault, 1);
  }
  client.wait();
  const auto fired = weir::testing::faults_fired(fault);
  weir::testing::disarm_faults();
  EXPECT_EQ(fired, 1) << "the failure happened";
  EXPECT_GE(client.get_restart_count(), 1);
  std::vector<std::string> expected;
  for (const auto& l : lines) expected.push_back(std::to_string(2 * std::stoll(l)));
  const auto got = kcat_consume(out, true);
  EXPECT_EQ(got.size(), expected.size()) << "read_committed sees each record once";
  EXPECT_EQ(sorted(got), sorted(expected));
}

TEST(Kafka, ExactlyOnceSinkAcrossATaskFailureAtParallelism1To4) {
  for (int p : {1, 2, 4}) {
    SCOPED_TRACE("parallelism " + std::to_string(p));
    exactly_once_across_failure("task.process", 5, p);  // early: a restart without a checkpoint
  }
}

TEST(Kafka, ExactlyOnceSinkAcrossAFailureAfterACheckpointAtParallelism1To4) {
  // A checkpoint taken while the enumerator assigns partitions: a reader's snapshot must hold
  // only the partitions the enumerator's snapshot of the same checkpoint counts as assigned,
  // or the restored enumerator assigns them again and they are read twice.
  for (int p : {1, 2, 4}) {
    SCOPED_TRACE("parallelism " + std::to_string(p));
    exactly_once_across_failure("task.process", 0, p, std::chrono::microseconds(50));
  }
}

TEST(Kafka, ExactlyOnceSinkCommitsThePreCommittedTransactionAfterAFailedCommit) {
  // The checkpoint completed, the commit failed: the restored job must commit the transaction
  // the checkpoint holds (from another producer: EndTxn with its identity).
  // 100 µs per record: about 1 s per subtask, 20 checkpoints; the sixth commit fails.
  exactly_once_across_failure("sink.commit", 6, 2, std::chrono::microseconds(100));
}

int parse_int(const KafkaConsumerRecord& r) {
  const std::string s(r.value.value_or(""));
  std::size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size()) throw std::runtime_error("not an integer: '" + s + "'");
  return v;
}

KafkaSource<int> int_source(const std::string& topic, BadRecordPolicy policy) {
  return KafkaSource<int>::builder()
      .set_bootstrap_servers(kafka_bootstrap())
      .set_topics({topic})
      .set_deserializer(parse_int)
      .set_bounded(OffsetsInitializer::latest())
      .set_bad_record_policy(std::move(policy))
      .set_max_record_bytes(64)
      .build();
}

TEST(Kafka, BadRecordsFailSkipOrGoToADeadLetterSideOutput) {
  const auto topic = unique_topic("bad");
  create_topic(topic, 1);
  kcat_produce(topic, {"1", "2", "x", "3", std::string(100, '7'), "4"}, 0);
  {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(1);
    env.from_source(int_source(topic, BadRecordPolicy::fail()), WatermarkStrategy<int>::no_watermarks(), "kafka-in").print();
    try {
      env.execute();
      FAIL() << "the job should fail on 'x'";
    } catch (const JobFailure& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("topic '" + topic + "' partition 0 offset 2"), std::string::npos) << m;
      EXPECT_NE(m.find("not an integer: 'x'"), std::string::npos) << m;
      EXPECT_NE(m.find("BadRecordPolicy::skip()"), std::string::npos) << m;
      EXPECT_NE(m.find("kafka-in"), std::string::npos) << m;
    }
  }
  {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(1);
    auto s = env.from_source(int_source(topic, BadRecordPolicy::skip()), WatermarkStrategy<int>::no_watermarks(), "kafka-in");
    auto handle = s.collect_async();
    auto client = env.execute_async();
    client.wait();
    EXPECT_EQ(handle.get(), (std::vector<int>{1, 2, 3, 4}));
    int64_t skipped = 0;
    for (const auto& m : client.metrics()) {
      if (auto it = m.operator_metrics.find("kafka-in.bad_records_skipped"); it != m.operator_metrics.end()) skipped += it->second;
    }
    EXPECT_EQ(skipped, 2);
  }
  {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(1);
    OutputTag<BadRecord> dlq("dlq");
    auto s = env.from_source(int_source(topic, BadRecordPolicy::dead_letter(dlq)), WatermarkStrategy<int>::no_watermarks(), "kafka-in");
    auto good = s.collect_async();
    auto bad = s.get_side_output(dlq).collect_async();
    env.execute();
    EXPECT_EQ(good.get(), (std::vector<int>{1, 2, 3, 4}));
    const auto b = bad.get();
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0].bytes, "x");
    EXPECT_EQ(b[0].origin, "topic '" + topic + "' partition 0 offset 2");
    EXPECT_EQ(b[0].error, "not an integer: 'x'");
    EXPECT_EQ(b[1].bytes, std::string(100, '7'));
    EXPECT_NE(b[1].error.find("above the source's limit of 64"), std::string::npos) << b[1].error;
  }
}

/// Waits (up to 30 s) until `group` has committed `offsets[p]` for each partition p of `topic`.
bool wait_for_committed(const std::string& group, const std::string& topic, const std::vector<int64_t>& offsets) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", kafka_bootstrap().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("cannot create a consumer: ") + err);
  bool done = false;
  for (int i = 0; i < 600 && !done; ++i) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (std::size_t p = 0; p < offsets.size(); ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), static_cast<int32_t>(p));
    done = rd_kafka_committed(rk, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int j = 0; done && j < list->cnt; ++j) done = list->elems[j].offset == offsets[static_cast<std::size_t>(list->elems[j].partition)];
    rd_kafka_topic_partition_list_destroy(list);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  rd_kafka_destroy(rk);
  return done;
}

TEST(Kafka, NewPartitionsAreFoundWhileTheJobRunsAndOffsetsAreCommittedOnCheckpoints) {
  const auto topic = unique_topic("disc");
  const auto group = "g-" + topic;
  create_topic(topic, 1);
  kcat_produce(topic, numbers(0, 10), 0);
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.enable_checkpointing(50);
  auto src = KafkaSource<std::string>::builder()
                 .set_bootstrap_servers(kafka_bootstrap())
                 .set_topic_pattern(topic + "|none-such")
                 .set_group_id(group)
                 .set_value_only_deserializer(SimpleStringSchema{})
                 .set_property("partition.discovery.interval.ms", "100")
                 .set_property("fetch.wait.max.ms", "10")
                 .build();
  auto seen = std::make_shared<std::vector<std::string>>();
  auto mu = std::make_shared<std::mutex>();
  env.from_source(src, WatermarkStrategy<std::string>::for_monotonous_timestamps(), "kafka-in").add_sink([seen, mu](const std::string& s) {
    std::lock_guard lock(*mu);
    seen->push_back(s);
  });
  auto client = env.execute_async();
  auto wait_for = [&](std::size_t n) {
    for (int i = 0; i < 600; ++i) {
      {
        std::lock_guard lock(*mu);
        if (seen->size() >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(wait_for(10));
  add_partitions(topic, 2);
  kcat_produce(topic, numbers(10, 20), 1);
  ASSERT_TRUE(wait_for(20)) << "the new partition's records arrive";
  // Offsets reach the group once a checkpoint completes after the records were read (and its
  // asynchronous commit arrives): wait until the group has 10 on both partitions.
  ASSERT_TRUE(wait_for_committed(group, topic, {10, 10})) << "the group's offsets reach the end of both partitions";
  client.cancel();
  try {
    client.wait();
  } catch (const JobFailure&) {
  }
  std::lock_guard lock(*mu);
  EXPECT_EQ(sorted(*seen), sorted(numbers(0, 20)));
  // The committed offsets, read back through the source's committed_offsets() start.
  auto env2 = StreamExecutionEnvironment::create();
  env2.set_parallelism(1);
  auto rest = KafkaSource<std::string>::builder()
                  .set_bootstrap_servers(kafka_bootstrap())
                  .set_topics({topic})
                  .set_group_id(group)
                  .set_starting_offsets(OffsetsInitializer::committed_offsets())
                  .set_value_only_deserializer(SimpleStringSchema{})
                  .set_bounded(OffsetsInitializer::latest())
                  .build();
  EXPECT_EQ(env2.from_source(rest, WatermarkStrategy<std::string>::no_watermarks(), "rest").execute_and_collect(),
            std::vector<std::string>{})
      << "the group's offsets are at the end";
}


/// Writes `values` to one partition with the given record timestamps (Weir's own sink).
void produce_timed(const std::string& topic, int partition, const std::vector<std::pair<std::string, int64_t>>& values) {
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto sink = KafkaSink<std::pair<std::string, int64_t>>::builder()
                  .set_bootstrap_servers(kafka_bootstrap())
                  .set_record_serializer(KafkaRecordSerializationSchema<std::pair<std::string, int64_t>>::of(
                      [topic, partition](const std::pair<std::string, int64_t>& v) {
                        KafkaProducerRecord r;
                        r.topic = topic;
                        r.partition = partition;
                        r.value = v.first;
                        r.timestamp = v.second;
                        return r;
                      }))
                  .set_delivery_guarantee(DeliveryGuarantee::at_least_once)
                  .build();
  env.from_collection(values).sink_to(sink);
  env.execute();
}

TEST(Kafka, EachPartitionHasItsWatermarkAndAnIdlePartitionDoesNotHoldThemBack) {
  const auto topic = unique_topic("wm");
  create_topic(topic, 3);
  // Kafka timestamps in ms from a round base (librdkafka reads a timestamp of 0 as "now").
  constexpr int64_t base = 1'700'000'000'000;
  std::vector<std::pair<std::string, int64_t>> p0, p1;
  for (int i = 0; i < 30; ++i) p0.emplace_back("a", base + i * 100);        // +0 .. +2900 ms
  for (int i = 0; i < 12; ++i) p1.emplace_back("b", base + 500 + i * 100);  // +500 .. +1600 ms
  produce_timed(topic, 0, p0);
  produce_timed(topic, 1, p1);  // partition 2 stays empty: idle
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  env.set_auto_watermark_interval(std::chrono::milliseconds(20));
  auto src = KafkaSource<std::string>::builder()
                 .set_bootstrap_servers(kafka_bootstrap())
                 .set_topics({topic})
                 .set_value_only_deserializer(SimpleStringSchema{})
                 .set_property("fetch.wait.max.ms", "10")
                 .build();
  auto counts = std::make_shared<std::vector<std::pair<std::string, int64_t>>>();
  auto mu = std::make_shared<std::mutex>();
  env.from_source(src,
                  WatermarkStrategy<std::string>::for_monotonous_timestamps().with_idleness(std::chrono::milliseconds(1500)),
                  "kafka-in")
      .map([](const std::string& s) { return std::pair<std::string, int64_t>(s, 1); })
      .key_by([](const std::pair<std::string, int64_t>& p) { return p.first; })
      .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(1000)))
      .reduce([](const std::pair<std::string, int64_t>& a, const std::pair<std::string, int64_t>& b) {
        return std::pair<std::string, int64_t>(a.first, a.second + b.second);
      })
      .add_sink([counts, mu](const std::pair<std::string, int64_t>& c) {
        std::lock_guard lock(*mu);
        counts->push_back(c);
      });
  auto client = env.execute_async();
  // The idleness (1.5 s of wall time) is far above the gaps between partition 0's records and
  // between the first fetches of partitions 0 and 1, even on a loaded machine.
  // Partition 1 ends at 1600 and partition 2 has nothing: both go idle. Partition 0 stays
  // active (a record at +2950 every 100 ms), so the watermark follows it past 2899: windows
  // [0,1000) and [1000,2000) of both keys fire; [2000,3000) waits for a record at +3000.
  std::vector<std::pair<std::string, int64_t>> got;
  for (int i = 0; i < 100; ++i) {
    produce_timed(topic, 0, {{"a", base + 2950}});
    {
      std::lock_guard lock(*mu);
      got = *counts;
    }
    if (got.size() >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // no other window may fire
  std::vector<std::pair<std::string, int64_t>> all;
  {
    std::lock_guard lock(*mu);
    all = *counts;
  }
  client.cancel();
  try {
    client.wait();
  } catch (const JobFailure&) {
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::pair<std::string, int64_t>>{{"a", 10}, {"a", 10}, {"b", 5}, {"b", 7}}));
}

TEST(Kafka, ASavepointRestoresAtAnotherParallelismWithoutLossOrDuplicates) {
  const auto topic = unique_topic("rescale");
  create_topic(topic, 4);
  kcat_produce(topic, numbers(0, 4000));
  TempDir dir;
  auto job = [&](int p, bool bounded, const std::string& restore, std::vector<std::string>& out, std::mutex& mu) {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    if (!restore.empty()) env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(restore));
    auto b = KafkaSource<std::string>::builder();
    b.set_bootstrap_servers(kafka_bootstrap()).set_topics({topic}).set_value_only_deserializer(SimpleStringSchema{});
    b.set_property("fetch.wait.max.ms", "10").set_property("max.partition.fetch.bytes", "200");
    if (bounded) b.set_bounded(OffsetsInitializer::latest());
    env.from_source(b.build(), WatermarkStrategy<std::string>::no_watermarks(), "kafka-in")
        .uid("kafka-in")
        .add_sink([&out, &mu](const std::string& s) {
          std::lock_guard lock(mu);
          out.push_back(s);
        })
        .uid("collect");
    return env.execute_async();
  };
  std::mutex mu;
  std::vector<std::string> first, second;
  auto c1 = job(2, false, "", first, mu);
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mu);
      if (first.size() >= 1000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string sp = c1.stop_with_savepoint(dir.sub("sp")).get();
  c1.wait();
  kcat_produce(topic, numbers(4000, 5000));
  // The restored splits keep the first job's (unbounded) stopping offsets, as Flink's do:
  // the second job runs until it has the rest, then is cancelled.
  auto c2 = job(3, false, sp, second, mu);
  for (int i = 0; i < 600; ++i) {
    {
      std::lock_guard lock(mu);
      if (first.size() + second.size() >= 5000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // nothing more may come
  std::vector<TaskMetrics> metrics = c2.metrics();
  c2.cancel();
  try {
    c2.wait();
  } catch (const JobFailure&) {
  }
  std::unique_lock all_lock(mu);
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_GT(first.size(), 0u);
  EXPECT_LT(first.size(), 5000u);
  EXPECT_EQ(sorted(all), sorted(numbers(0, 5000))) << first.size() << " before the savepoint";
  // Per-partition metrics of the second run: records and a lag of 0 at the end.
  int64_t records = 0;
  for (const auto& m : metrics) {
    for (const auto& [k, v] : m.operator_metrics) {
      if (k.find("kafka-in.partition.") == 0 && k.size() > 8 && k.compare(k.size() - 8, 8, ".records") == 0) records += v;
      if (k.find("kafka-in.partition.") == 0 && k.size() > 4 && k.compare(k.size() - 4, 4, ".lag") == 0) {
        EXPECT_EQ(v, 0) << k;
      }
    }
  }
  EXPECT_EQ(records, static_cast<int64_t>(second.size()));
}


TEST(Kafka, APartitionAddedBetweenASavepointAndItsRestoreIsReadFromTheEarliestOffset) {
  const auto topic = unique_topic("newpart");
  create_topic(topic, 1);
  kcat_produce(topic, numbers(0, 10), 0);  // before the start: skipped by latest()
  TempDir dir;
  std::mutex mu;
  std::vector<std::string> seen;
  auto job = [&](const std::string& restore) {
    auto env = StreamExecutionEnvironment::create();
    env.set_parallelism(1);
    if (!restore.empty()) env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(restore));
    auto src = KafkaSource<std::string>::builder()
                   .set_bootstrap_servers(kafka_bootstrap())
                   .set_topics({topic})
                   .set_starting_offsets(OffsetsInitializer::latest())
                   .set_value_only_deserializer(SimpleStringSchema{})
                   .set_property("partition.discovery.interval.ms", "100")
                   .set_property("fetch.wait.max.ms", "10")
                   .build();
    env.from_source(src, WatermarkStrategy<std::string>::no_watermarks(), "kafka-in")
        .uid("kafka-in")
        .add_sink([&](const std::string& v) {
          std::lock_guard lock(mu);
          seen.push_back(v);
        })
        .uid("collect");
    return env.execute_async();
  };
  auto wait_for = [&](std::size_t n, int tries) {
    for (int i = 0; i < tries; ++i) {
      {
        std::lock_guard lock(mu);
        if (seen.size() >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  auto c1 = job("");
  // The first discovery resolved "latest" once records produced now arrive.
  for (int i = 0; i < 100 && !wait_for(1, 10); ++i) kcat_produce(topic, {"first-" + std::to_string(i)}, 0);
  const std::string sp = c1.stop_with_savepoint(dir.sub("sp")).get();
  c1.wait();
  std::vector<std::string> before;
  {
    std::lock_guard lock(mu);
    before = seen;
    seen.clear();
  }
  add_partitions(topic, 2);
  kcat_produce(topic, numbers(100, 110), 1);  // the new partition, before the restore
  auto c2 = job(sp);
  ASSERT_TRUE(wait_for(10, 600)) << "the new partition is read from its earliest offset";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c2.cancel();
  try {
    c2.wait();
  } catch (const JobFailure&) {
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(sorted(seen), sorted(numbers(100, 110)));
  for (const auto& b : before) EXPECT_EQ(b.rfind("first-", 0), 0u) << b << ": records from before the start were skipped";
}

TEST(Kafka, ATransactionTimeoutAboveTheBrokersMaximumFailsWithWhatToChange) {
  auto env = StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  const auto out = unique_topic("timeout");
  auto sink = KafkaSink<std::string>::builder()
                  .set_bootstrap_servers(kafka_bootstrap())
                  .set_record_serializer(KafkaRecordSerializationSchema<std::string>::builder()
                                             .set_topic(out)
                                             .set_value_serialization_schema(SimpleStringSchema{})
                                             .build())
                  .set_delivery_guarantee(DeliveryGuarantee::exactly_once)
                  .set_transactional_id_prefix("timeout-" + out)
                  .set_property("transaction.timeout.ms", "10800000")  // 3 h; the test broker allows 2 h
                  .build();
  env.from_collection(std::vector<std::string>{"a"}).sink_to(sink);
  try {
    env.execute();
    FAIL() << "the broker refuses a 3 hour transaction timeout";
  } catch (const JobFailure& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("transaction.timeout.ms is 10800000"), std::string::npos) << m;
    EXPECT_NE(m.find("set_property(\"transaction.timeout.ms\""), std::string::npos) << m;
  }
}

TEST(Kafka, WrongSettingsFailWhenTheJobIsBuilt) {
  EXPECT_THROW(KafkaSource<std::string>::builder().set_topics({"t"}).set_value_only_deserializer(SimpleStringSchema{}).build(),
               GraphError);
  EXPECT_THROW(KafkaSource<std::string>::builder().set_bootstrap_servers("127.0.0.1:1").set_topics({"t"}).build(), GraphError);
  EXPECT_THROW(KafkaSource<std::string>::builder()
                   .set_bootstrap_servers("127.0.0.1:1")
                   .set_topics({"t"})
                   .set_value_only_deserializer(SimpleStringSchema{})
                   .set_property("no.such.property", "1")
                   .build(),
               GraphError);
  try {
    string_sink("t", DeliveryGuarantee::exactly_once);
    FAIL();
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("set_transactional_id_prefix"), std::string::npos);
  }
}

}  // namespace
