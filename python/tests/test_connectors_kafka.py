"""KafkaSource / KafkaSink / FlinkKafkaConsumer / FlinkKafkaProducer against a real Kafka broker
(WEIR_KAFKA_BOOTSTRAP), each compared with a plain Python computation, at parallelism 1, 2, 4."""
from collections import Counter

import pytest

from weir.common import Row, Types, WatermarkStrategy
from weir.common.serialization import SimpleStringSchema
from weir.datastream import OutputTag
from weir.datastream.connectors import BadRecordPolicy, DeliveryGuarantee
from weir.datastream.connectors.kafka import (FlinkKafkaConsumer, FlinkKafkaProducer, KafkaOffsetsInitializer,
                                              KafkaRecordSerializationSchema, KafkaSink, KafkaSource,
                                              KafkaTopicPartition, Semantic)
from weir.datastream.formats.json import JsonRowDeserializationSchema

from conftest import collect
from kafka_support import BOOTSTRAP, needs_kafka, new_topic, produce, read_back

pytestmark = needs_kafka

ROW = Types.ROW_NAMED(["page", "ts"], [Types.STRING(), Types.LONG()])


def bounded_source(topic, schema=None, policy=None):
    b = KafkaSource.builder() \
        .set_bootstrap_servers(BOOTSTRAP) \
        .set_topics(topic) \
        .set_group_id("g-" + topic) \
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()) \
        .set_bounded(KafkaOffsetsInitializer.latest()) \
        .set_value_only_deserializer(schema or SimpleStringSchema())
    if policy is not None:
        b.set_bad_record_policy(policy)
    return b.build()


def test_source_strings_map(env):
    topic = new_topic()
    lines = ["line-%d" % i for i in range(300)] + ["ünï"]
    produce(topic, lines)
    stream = env.from_source(bounded_source(topic), WatermarkStrategy.no_watermarks(), "kafka")
    assert Counter(collect(stream.map(lambda x: x * 2))) == Counter(x * 2 for x in lines)


def test_source_partitions_and_offsets(env):
    topic = new_topic()
    produce(topic, ["a", "b", "c", "d", "e"])
    src = KafkaSource.builder().set_bootstrap_servers(BOOTSTRAP) \
        .set_partitions({KafkaTopicPartition(topic, 0)}) \
        .set_starting_offsets(KafkaOffsetsInitializer.offsets({KafkaTopicPartition(topic, 0): 2})) \
        .set_bounded(KafkaOffsetsInitializer.latest()) \
        .set_value_only_deserializer(SimpleStringSchema()) \
        .set_properties({"client.id": "offsets-test"}).build()
    assert sorted(collect(env.from_source(src, WatermarkStrategy.no_watermarks(), "k"))) == ["c", "d", "e"]


def test_json_rows(env):
    topic = new_topic()
    events = [{"page": "p%d" % (i % 7), "ts": 1000 + i} for i in range(200)]
    import json
    produce(topic, [json.dumps(e) for e in events])
    schema = JsonRowDeserializationSchema.builder().type_info(ROW).build()
    rows = collect(env.from_source(bounded_source(topic, schema), WatermarkStrategy.no_watermarks(), "json"))
    assert all(isinstance(r, Row) for r in rows)
    assert Counter((r["page"], r.ts) for r in rows) == Counter((e["page"], e["ts"]) for e in events)


def test_json_bad_record_fails_naming_the_offset():
    from weir.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    topic = new_topic()
    produce(topic, ['{"page": "a", "ts": 1}', "not json", '{"page": "b", "ts": 2}'])
    schema = JsonRowDeserializationSchema.builder().type_info(ROW).build()
    stream = env.from_source(bounded_source(topic, schema), WatermarkStrategy.no_watermarks(), "json")
    with pytest.raises(Exception) as e:
        collect(stream)
    text = str(e.value) + str(e.value.__cause__ or "")
    assert "topic '%s' partition 0 offset 1" % topic in text
    assert "skip" in text


@pytest.mark.parametrize("p", [1, 2])
def test_json_bad_records_skip_and_dead_letter(p):
    from weir.datastream import StreamExecutionEnvironment
    import json
    topic = new_topic()
    good = [{"page": "x%d" % i, "ts": i} for i in range(50)]
    lines = [json.dumps(e) for e in good]
    bad = ["not json", '{"page": 3, "ts": 1}', '{"page": "y", "ts": "late"}']
    lines[10:10] = bad
    produce(topic, lines)
    schema = JsonRowDeserializationSchema.builder().type_info(ROW).build()

    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(p)
    rows = collect(env.from_source(bounded_source(topic, schema, BadRecordPolicy.skip()),
                                   WatermarkStrategy.no_watermarks(), "skip"))
    assert sorted(r.page for r in rows) == sorted(e["page"] for e in good)

    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(p)
    tag = OutputTag("dead")
    stream = env.from_source(bounded_source(topic, schema, BadRecordPolicy.dead_letter(tag)),
                             WatermarkStrategy.no_watermarks(), "dl")
    letters = stream.get_side_output(tag)
    q = letters.map(lambda b: (b.bytes, b.origin, b.error))
    out = collect(q)
    assert sorted(o[0].decode() for o in out) == sorted(bad)
    assert sorted(o[1] for o in out) == ["topic '%s' partition 0 offset %d" % (topic, i) for i in (10, 11, 12)]
    assert all(o[2] for o in out)


def test_round_trip_exactly_once(env, tmp_path):
    src_topic, dst_topic = new_topic(), new_topic()
    lines = ["v%d" % i for i in range(500)]
    produce(src_topic, lines)
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir("file://" + str(tmp_path))
    sink = KafkaSink.builder().set_bootstrap_servers(BOOTSTRAP) \
        .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(dst_topic)
                               .set_value_serialization_schema(SimpleStringSchema()).build()) \
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE) \
        .set_transactional_id_prefix("tx-" + dst_topic) \
        .build()
    env.from_source(bounded_source(src_topic), WatermarkStrategy.no_watermarks(), "in") \
        .map(lambda x: x.upper()).sink_to(sink)
    env.execute("round trip")
    assert Counter(read_back(dst_topic, len(lines))) == Counter(x.upper() for x in lines)


def test_sink_at_least_once_with_key_and_topic_selector(env):
    topics = [new_topic(), new_topic()]
    sink = KafkaSink.builder().set_bootstrap_servers(BOOTSTRAP) \
        .set_record_serializer(KafkaRecordSerializationSchema.builder()
                               .set_topic_selector(lambda v: topics[v % 2])
                               .set_key_serialization_schema(SimpleStringSchema())
                               .set_value_serialization_schema(SimpleStringSchema()).build()) \
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE).build()
    env.from_collection(list(range(100))).sink_to(sink)
    env.execute("selector")
    assert sorted(int(x) for x in read_back(topics[0], 50, committed=False)) == list(range(0, 100, 2))
    assert sorted(int(x) for x in read_back(topics[1], 50, committed=False)) == list(range(1, 100, 2))


def test_flink_kafka_consumer_and_producer(env):
    src_topic, dst_topic = new_topic(), new_topic()
    lines = ["m%d" % i for i in range(100)]
    produce(src_topic, lines)
    consumer = FlinkKafkaConsumer(src_topic, SimpleStringSchema(),
                                  {"bootstrap.servers": BOOTSTRAP, "group.id": "g-" + src_topic,
                                   "auto.offset.reset": "earliest"})
    producer = FlinkKafkaProducer(dst_topic, SimpleStringSchema(), {"bootstrap.servers": BOOTSTRAP},
                                  semantic=Semantic.AT_LEAST_ONCE)
    env.add_source(consumer).map(lambda x: x + "!").add_sink(producer)
    client = env.execute_async("legacy")
    try:
        got = read_back(dst_topic, len(lines), committed=False)
    finally:
        client.cancel()
        try:
            client.wait()  # the job ends before its client goes
        except Exception:
            pass  # canceled on purpose
    assert Counter(got) == Counter(x + "!" for x in lines)


def test_consumer_used_as_a_stream_binds_to_the_current_environment():
    from weir.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    topic = new_topic()
    produce(topic, ["ab", "cd"])
    consumer = FlinkKafkaConsumer(topic, {"bootstrap.servers": BOOTSTRAP, "auto.offset.reset": "earliest"})
    stream = consumer.map(lambda x: x * 2)
    assert stream.get_execution_environment() is env
    with stream.execute_and_collect() as it:
        got = [next(it), next(it)]
    assert sorted(got) == ["abab", "cdcd"]


def test_wrong_use_raises_at_build_time():
    with pytest.raises(ValueError, match="set_bootstrap_servers"):
        KafkaSource.builder().set_topics("t").set_value_only_deserializer(SimpleStringSchema()).build()
    with pytest.raises(ValueError, match="set_value_only_deserializer"):
        KafkaSource.builder().set_bootstrap_servers(BOOTSTRAP).set_topics("t").build()
    with pytest.raises(TypeError, match="KafkaOffsetsInitializer"):
        KafkaSource.builder().set_starting_offsets("earliest")
    with pytest.raises(ValueError, match="transactional_id_prefix"):
        KafkaSink.builder().set_bootstrap_servers(BOOTSTRAP).set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE) \
            .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic("t")
                                   .set_value_serialization_schema(SimpleStringSchema()).build()).build()
    with pytest.raises(TypeError, match="bootstrap.servers|properties"):
        FlinkKafkaConsumer("t", SimpleStringSchema())


def test_json_ignore_parse_errors_and_missing_fields():
    from weir.datastream import StreamExecutionEnvironment
    topic = new_topic()
    produce(topic, ['{"page": "a", "ts": 1}', "{oops", '{"page": "b"}', '{"ts": 5, "extra": true}'])
    env = StreamExecutionEnvironment.get_execution_environment()
    schema = JsonRowDeserializationSchema.builder().type_info(ROW).ignore_parse_errors().build()
    rows = collect(env.from_source(bounded_source(topic, schema), WatermarkStrategy.no_watermarks(), "json"))
    assert sorted((r.page or "", r.ts or 0) for r in rows) == [("", 5), ("a", 1), ("b", 0)]
    env = StreamExecutionEnvironment.get_execution_environment()
    strict = JsonRowDeserializationSchema.builder().type_info(ROW).fail_on_missing_field().build()
    rows = collect(env.from_source(bounded_source(topic, strict, BadRecordPolicy.skip()),
                                   WatermarkStrategy.no_watermarks(), "strict"))
    assert [(r.page, r.ts) for r in rows] == [("a", 1)]


KILL_JOB = """
import sys, time
from weir.common import WatermarkStrategy
from weir.common.serialization import SimpleStringSchema
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors import DeliveryGuarantee
from weir.datastream.connectors.kafka import (KafkaOffsetsInitializer, KafkaRecordSerializationSchema, KafkaSink,
                                              KafkaSource)
bootstrap, src, dst, chk, p, restore = sys.argv[1:7]
env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(int(p))
env.enable_checkpointing(100)
env.get_checkpoint_config().set_checkpoint_storage_dir(chk)
if restore != "-":
    env.set_savepoint_restore(restore)

def paced(x):
    time.sleep(0.002)  # pacing only, so that the job is still running when it is killed
    return x.upper()

source = KafkaSource.builder().set_bootstrap_servers(bootstrap).set_topics(src) \\
    .set_starting_offsets(KafkaOffsetsInitializer.earliest()).set_bounded(KafkaOffsetsInitializer.latest()) \\
    .set_value_only_deserializer(SimpleStringSchema()).build()
sink = KafkaSink.builder().set_bootstrap_servers(bootstrap) \\
    .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(dst)
                           .set_value_serialization_schema(SimpleStringSchema()).build()) \\
    .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("kill-" + dst).build()
env.from_source(source, WatermarkStrategy.no_watermarks(), "in").map(paced).sink_to(sink)
env.execute("exactly once kafka")
"""


@pytest.mark.parametrize("p", [1, 2])
def test_exactly_once_after_kill(tmp_path, p):
    import subprocess
    import sys
    from checkpoint_support import completed_checkpoints, kill_after_checkpoints
    from kafka_support import count_messages
    src, dst = new_topic(), new_topic()
    lines = ["k%d" % i for i in range(2000)]
    produce(src, lines)
    job = tmp_path / "job.py"
    job.write_text(KILL_JOB, encoding="utf-8")
    chk = str(tmp_path / "chk")
    args = [sys.executable, str(job), BOOTSTRAP, src, dst, chk, str(p)]
    first = subprocess.Popen(args + ["-"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_after_checkpoints(first, chk, at_least=3)
    latest = completed_checkpoints(chk)[-1][1]
    second = subprocess.run(args + [latest], capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr.decode()
    got = read_back(dst, len(lines))
    assert Counter(got) == Counter(x.upper() for x in lines)
    assert len(count_messages(dst)) == len(lines), "duplicates in the committed output"
