"""PyFlink's ``pyflink.datastream.connectors.kafka``: KafkaSource, KafkaSink and the 1.x
FlinkKafkaConsumer / FlinkKafkaProducer, on Weir's C++ Kafka connector (librdkafka).

Records are read as bytes by the engine and turned into Python values on the task:
``SimpleStringSchema`` gives ``str`` (UTF-8; malformed bytes become U+FFFD as in Java),
``ByteArraySchema`` ``bytes``, ``JsonRowDeserializationSchema`` ``Row``s (a record that is not
JSON or does not fit the row type is a bad record: the source's ``BadRecordPolicy`` decides,
fail by default, naming topic, partition and offset), any other ``DeserializationSchema`` its
``deserialize(bytes)``."""
import re
from enum import Enum

from weir import _weir
from weir.common.serialization import (ByteArraySchema, DeserializationSchema, SerializationSchema,
                                       SimpleStringSchema)
from weir.datastream.connectors.base import (BadRecordPolicy, DeliveryGuarantee, Sink, Source, _check_max_bytes,
                                             _check_policy, _finish_stream, _strategy_args)
from weir.datastream.functions import SourceFunction

__all__ = [
    "FlinkKafkaConsumer", "FlinkKafkaProducer", "KafkaOffsetResetStrategy", "KafkaOffsetsInitializer",
    "KafkaRecordSerializationSchema", "KafkaRecordSerializationSchemaBuilder", "KafkaSink", "KafkaSinkBuilder",
    "KafkaSource", "KafkaSourceBuilder", "KafkaTopicPartition", "KafkaTopicSelector", "Semantic",
]


def _deser_args(schema, what):
    """(conversion mode, Python converter, JSON fields or None, fail on missing, ignore errors)."""
    from weir.datastream.formats.json import JsonRowDeserializationSchema
    if schema is None or isinstance(schema, SimpleStringSchema):
        if schema is not None and schema._charset.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
            charset = schema._charset
            return "call_bytes", (lambda b: b.decode(charset, "replace")), None, False, False
        return "str", None, None, False, False
    if isinstance(schema, ByteArraySchema):
        return "bytes", None, None, False, False
    if isinstance(schema, JsonRowDeserializationSchema):
        return ("call_str", schema._from_text, schema._fields(), schema._fail_on_missing_field,
                schema._ignore_parse_errors)
    if isinstance(schema, DeserializationSchema) or hasattr(schema, "deserialize"):
        return "call_bytes", schema.deserialize, None, False, False
    raise TypeError("%s: expected a DeserializationSchema such as SimpleStringSchema() or "
                    "JsonRowDeserializationSchema, not %r" % (what, schema))


def _ser_fn(schema, what):
    """A function value → bytes (None: str(value) in UTF-8)."""
    if schema is None:
        return None
    if isinstance(schema, SimpleStringSchema) and schema._charset.upper().replace("_", "-") in ("UTF-8", "UTF8"):
        return None
    if isinstance(schema, SerializationSchema) or hasattr(schema, "serialize"):
        return schema.serialize
    raise TypeError("%s: expected a SerializationSchema such as SimpleStringSchema(), not %r" % (what, schema))


def _str_props(props, what):
    if not isinstance(props, dict):
        raise TypeError("%s: expected a dict of properties, not %r" % (what, props))
    return {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in props.items()}


# ---- offsets ------------------------------------------------------------------------------------

class KafkaTopicPartition(object):
    def __init__(self, topic, partition):
        self._topic = topic
        self._partition = partition

    def __eq__(self, other):
        return isinstance(other, KafkaTopicPartition) and (self._topic, self._partition) == (
            other._topic, other._partition)

    def __hash__(self):
        return hash((self._topic, self._partition))

    def __repr__(self):
        return "KafkaTopicPartition(%r, %d)" % (self._topic, self._partition)


class KafkaOffsetResetStrategy(Enum):
    LATEST = 0
    EARLIEST = 1
    NONE = 2

    def _name(self):
        return self.name.lower()


class KafkaOffsetsInitializer(object):
    def __init__(self, spec):
        self._spec = spec

    @staticmethod
    def committed_offsets(offset_reset_strategy=KafkaOffsetResetStrategy.NONE):
        if not isinstance(offset_reset_strategy, KafkaOffsetResetStrategy):
            raise TypeError("committed_offsets: expected a KafkaOffsetResetStrategy, not %r" % (offset_reset_strategy,))
        return KafkaOffsetsInitializer(("committed", 0, [], offset_reset_strategy._name()))

    @staticmethod
    def timestamp(timestamp):
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise TypeError("KafkaOffsetsInitializer.timestamp: expected milliseconds (an int), not %r" % (timestamp,))
        return KafkaOffsetsInitializer(("timestamp", timestamp, [], "none"))

    @staticmethod
    def earliest():
        return KafkaOffsetsInitializer(("earliest", 0, [], "none"))

    @staticmethod
    def latest():
        return KafkaOffsetsInitializer(("latest", 0, [], "none"))

    @staticmethod
    def offsets(offsets, offset_reset_strategy=KafkaOffsetResetStrategy.EARLIEST):
        if not isinstance(offsets, dict) or not all(isinstance(k, KafkaTopicPartition) for k in offsets):
            raise TypeError("KafkaOffsetsInitializer.offsets: expected {KafkaTopicPartition: offset}, not %r" % (offsets,))
        if not isinstance(offset_reset_strategy, KafkaOffsetResetStrategy):
            raise TypeError("offsets: expected a KafkaOffsetResetStrategy, not %r" % (offset_reset_strategy,))
        return KafkaOffsetsInitializer(("offsets", 0, [(k._topic, int(k._partition), int(v)) for k, v in offsets.items()],
                                        offset_reset_strategy._name()))


def _check_offsets(o, what):
    if not isinstance(o, KafkaOffsetsInitializer):
        raise TypeError("%s: expected a KafkaOffsetsInitializer (earliest(), latest(), ...), not %r" % (what, o))
    return o._spec


# ---- KafkaSource --------------------------------------------------------------------------------

class KafkaSource(Source):
    """Reads Kafka topics: each partition is a split; positions are in checkpoints."""

    def __init__(self, config):
        self._config = config

    @staticmethod
    def builder():
        return KafkaSourceBuilder()

    def _weir_source(self, env, watermark_strategy, source_name):
        c = dict(self._config)
        deser = c.pop("deserializer")
        mode, convert, fields, fail_missing, ignore = _deser_args(deser, "KafkaSource")
        policy = c.pop("policy_obj")
        if ignore and policy._kind == "fail":
            policy = BadRecordPolicy.skip()
        c.update(conversion=mode, convert=convert, json_fields=fields, json_fail_on_missing=fail_missing,
                 name=str(source_name), policy=policy._args()[0], policy_tag=policy._args()[1])
        assigner = _strategy_args(c, watermark_strategy)
        type_info = deser.get_produced_type() if hasattr(deser, "get_produced_type") else None
        return _finish_stream(env, _weir.kafka_source(env._j, c), watermark_strategy, assigner, policy, type_info)


class KafkaSourceBuilder(object):
    def __init__(self):
        self._bootstrap = None
        self._topics = []
        self._pattern = ""
        self._partitions = []
        self._group_id = ""
        self._client_id_prefix = ""
        self._starting = KafkaOffsetsInitializer.earliest()._spec
        self._stopping = None
        self._deserializer = None
        self._props = {}
        self._policy = BadRecordPolicy.fail()
        self._max_record_bytes = 0

    def build(self):
        if not self._bootstrap:
            raise ValueError("KafkaSource: call set_bootstrap_servers('host:port') before build()")
        if not (self._topics or self._pattern or self._partitions):
            raise ValueError("KafkaSource: call one of set_topics, set_topic_pattern and set_partitions")
        if self._deserializer is None:
            raise ValueError("KafkaSource: call set_value_only_deserializer(SimpleStringSchema()) before build()")
        props = dict(self._props)
        group = self._group_id or props.pop("group.id", "")
        return KafkaSource({
            "bootstrap_servers": self._bootstrap, "topics": list(self._topics), "topic_pattern": self._pattern,
            "partitions": list(self._partitions), "group_id": group, "client_id_prefix": self._client_id_prefix,
            "starting": self._starting, "stopping": self._stopping, "properties": props,
            "deserializer": self._deserializer, "policy_obj": self._policy,
            "max_record_bytes": self._max_record_bytes})

    def set_bootstrap_servers(self, bootstrap_servers):
        self._bootstrap = str(bootstrap_servers)
        return self

    def set_group_id(self, group_id):
        self._group_id = str(group_id)
        return self

    def set_topics(self, *topics):
        if len(topics) == 1 and isinstance(topics[0], (list, tuple)):
            topics = tuple(topics[0])
        if not topics or not all(isinstance(t, str) and t for t in topics):
            raise ValueError("set_topics: expected one or more topic names, not %r" % (topics,))
        self._topics = list(topics)
        return self

    def set_topic_pattern(self, topic_pattern):
        try:
            re.compile(topic_pattern)
        except re.error as e:
            raise ValueError("set_topic_pattern: %r is not a regular expression: %s" % (topic_pattern, e)) from None
        self._pattern = topic_pattern
        return self

    def set_partitions(self, partitions):
        if not all(isinstance(p, KafkaTopicPartition) for p in partitions):
            raise TypeError("set_partitions: expected a set of KafkaTopicPartition, not %r" % (partitions,))
        self._partitions = sorted((p._topic, int(p._partition)) for p in partitions)
        return self

    def set_starting_offsets(self, starting_offsets_initializer):
        self._starting = _check_offsets(starting_offsets_initializer, "set_starting_offsets")
        return self

    def set_unbounded(self, stopping_offsets_initializer):
        self._stopping = _check_offsets(stopping_offsets_initializer, "set_unbounded")
        return self

    def set_bounded(self, stopping_offsets_initializer):
        self._stopping = _check_offsets(stopping_offsets_initializer, "set_bounded")
        return self

    def set_value_only_deserializer(self, deserialization_schema):
        _deser_args(deserialization_schema, "set_value_only_deserializer")
        self._deserializer = deserialization_schema
        return self

    def set_client_id_prefix(self, prefix):
        self._client_id_prefix = str(prefix)
        return self

    def set_property(self, key, value):
        self._props[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def set_properties(self, props):
        self._props.update(_str_props(props, "set_properties"))
        return self

    def set_bad_record_policy(self, policy):
        """Weir: what happens to records that do not deserialize (default ``BadRecordPolicy.fail()``)."""
        self._policy = _check_policy(policy, "set_bad_record_policy")
        return self

    def set_max_record_bytes(self, max_record_bytes):
        """Weir: records above this size are bad records (default: no limit)."""
        self._max_record_bytes = _check_max_bytes(max_record_bytes, "set_max_record_bytes")
        return self


# ---- KafkaSink ----------------------------------------------------------------------------------

class KafkaTopicSelector(object):
    def apply(self, data):
        raise NotImplementedError


class KafkaRecordSerializationSchema(SerializationSchema):
    def __init__(self, topic, topic_selector, value_schema, key_schema):
        self._topic = topic
        self._topic_selector = topic_selector
        self._value_schema = value_schema
        self._key_schema = key_schema

    @staticmethod
    def builder():
        return KafkaRecordSerializationSchemaBuilder()


class KafkaRecordSerializationSchemaBuilder(object):
    def __init__(self):
        self._topic = None
        self._selector = None
        self._value = None
        self._key = None

    def build(self):
        if self._topic is None and self._selector is None:
            raise ValueError("KafkaRecordSerializationSchema: call set_topic(name) or set_topic_selector(f)")
        if self._value is None:
            raise ValueError("KafkaRecordSerializationSchema: call set_value_serialization_schema("
                             "SimpleStringSchema()) before build()")
        return KafkaRecordSerializationSchema(self._topic, self._selector, self._value, self._key)

    def set_topic(self, topic):
        if not isinstance(topic, str) or not topic:
            raise ValueError("set_topic: expected a topic name, not %r" % (topic,))
        self._topic = topic
        self._selector = None
        return self

    def set_topic_selector(self, topic_selector):
        if isinstance(topic_selector, KafkaTopicSelector):
            self._selector = topic_selector.apply
        elif callable(topic_selector):
            self._selector = topic_selector
        else:
            raise TypeError("set_topic_selector: expected a callable or KafkaTopicSelector, not %r" % (topic_selector,))
        self._topic = None
        return self

    def set_key_serialization_schema(self, key_serialization_schema):
        _ser_fn(key_serialization_schema, "set_key_serialization_schema")
        self._key = key_serialization_schema
        return self

    def set_value_serialization_schema(self, value_serialization_schema):
        _ser_fn(value_serialization_schema, "set_value_serialization_schema")
        self._value = value_serialization_schema
        return self


class KafkaSink(Sink):
    """Writes to Kafka; EXACTLY_ONCE writes each checkpoint's records in a transaction committed
    when the checkpoint completes."""

    def __init__(self, config):
        self._config = config

    @staticmethod
    def builder():
        return KafkaSinkBuilder()

    def get_transformer(self):
        return None

    def _weir_sink(self, stream):
        from weir.datastream.data_stream import DataStreamSink
        return DataStreamSink(_weir.kafka_sink(stream._j, dict(self._config)), stream._env)


class KafkaSinkBuilder(object):
    def __init__(self):
        self._bootstrap = None
        self._serializer = None
        self._guarantee = DeliveryGuarantee.NONE
        self._prefix = ""
        self._props = {}

    def build(self):
        if not self._bootstrap:
            raise ValueError("KafkaSink: call set_bootstrap_servers('host:port') before build()")
        if self._serializer is None:
            raise ValueError("KafkaSink: call set_record_serializer(KafkaRecordSerializationSchema.builder()"
                             ".set_topic(...).set_value_serialization_schema(...).build()) before build()")
        if self._guarantee == DeliveryGuarantee.EXACTLY_ONCE and not self._prefix:
            raise ValueError("KafkaSink: EXACTLY_ONCE needs set_transactional_id_prefix(prefix)")
        s = self._serializer
        return KafkaSink({
            "bootstrap_servers": self._bootstrap, "topic": s._topic or "", "topic_selector": s._topic_selector,
            "value_fn": _ser_fn(s._value_schema, "value"), "key_fn": _ser_fn(s._key_schema, "key"),
            "has_key": s._key_schema is not None, "guarantee": self._guarantee._name(),
            "transactional_id_prefix": self._prefix, "properties": dict(self._props), "name": "Kafka Sink"})

    def set_bootstrap_servers(self, bootstrap_servers):
        self._bootstrap = str(bootstrap_servers)
        return self

    def set_delivery_guarantee(self, delivery_guarantee):
        if not isinstance(delivery_guarantee, DeliveryGuarantee):
            raise TypeError("set_delivery_guarantee: expected a DeliveryGuarantee, not %r" % (delivery_guarantee,))
        self._guarantee = delivery_guarantee
        return self

    def set_transactional_id_prefix(self, transactional_id_prefix):
        self._prefix = str(transactional_id_prefix)
        return self

    def set_record_serializer(self, record_serializer):
        if not isinstance(record_serializer, KafkaRecordSerializationSchema):
            raise TypeError("set_record_serializer: expected KafkaRecordSerializationSchema.builder()...build(), "
                            "not %r" % (record_serializer,))
        self._serializer = record_serializer
        return self

    def set_property(self, key, value):
        self._props[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        return self


# ---- FlinkKafkaConsumer / FlinkKafkaProducer (PyFlink 1.x) ---------------------------------------

class Semantic(Enum):
    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1
    NONE = 2


class FlinkKafkaConsumerBase(SourceFunction):
    pass


class FlinkKafkaConsumer(FlinkKafkaConsumerBase):
    """PyFlink 1.x's consumer: ``env.add_source(FlinkKafkaConsumer(topics, schema, properties))``.

    Weir also accepts ``FlinkKafkaConsumer(topics, properties)`` (UTF-8 strings), and the
    consumer used directly as a stream (``consumer.map(...)``): it is then added once to the
    current environment (the last ``StreamExecutionEnvironment`` made).

    Start: the group's committed offsets (``group.id``), else ``auto.offset.reset`` (default
    latest), as Flink's ``set_start_from_group_offsets``; or ``set_start_from_*``."""

    def __init__(self, topics, deserialization_schema=None, properties=None):
        if isinstance(deserialization_schema, dict) and properties is None:
            deserialization_schema, properties = None, deserialization_schema
        if isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, (list, tuple)) or not topics or not all(isinstance(t, str) and t for t in topics):
            raise TypeError("FlinkKafkaConsumer: topics must be a topic name or a list of them, not %r" % (topics,))
        if properties is None:
            raise TypeError("FlinkKafkaConsumer: give the properties (a dict with 'bootstrap.servers')")
        props = _str_props(properties, "FlinkKafkaConsumer")
        if not props.get("bootstrap.servers"):
            raise ValueError("FlinkKafkaConsumer: the properties need 'bootstrap.servers'")
        _deser_args(deserialization_schema, "FlinkKafkaConsumer")
        self._topics = list(topics)
        self._schema = deserialization_schema
        self._props = props
        self._start = None  # None: group offsets
        self._commit_on_checkpoints = True
        self._stream = None

    def set_commit_offsets_on_checkpoints(self, commit_on_checkpoints):
        self._commit_on_checkpoints = bool(commit_on_checkpoints)
        return self

    def set_start_from_earliest(self):
        self._start = KafkaOffsetsInitializer.earliest()
        return self

    def set_start_from_latest(self):
        self._start = KafkaOffsetsInitializer.latest()
        return self

    def set_start_from_timestamp(self, startup_offsets_timestamp):
        self._start = KafkaOffsetsInitializer.timestamp(startup_offsets_timestamp)
        return self

    def set_start_from_group_offsets(self):
        self._start = None
        return self

    def disable_filter_restored_partitions_with_subscribed_topics(self):
        return self

    def get_produced_type(self):
        return getattr(self._schema, "get_produced_type", lambda: None)()

    def _source(self):
        props = dict(self._props)
        bootstrap = props.pop("bootstrap.servers")
        group = props.pop("group.id", "")
        reset = props.pop("auto.offset.reset", "latest").lower()
        reset = {"smallest": "earliest", "largest": "latest"}.get(reset, reset)
        if reset not in ("earliest", "latest", "none"):
            raise ValueError("FlinkKafkaConsumer: auto.offset.reset must be earliest, latest or none, not %r" % reset)
        props.pop("enable.auto.commit", None)
        b = KafkaSource.builder().set_bootstrap_servers(bootstrap).set_topics(*self._topics) \
            .set_value_only_deserializer(self._schema or SimpleStringSchema()).set_properties(props)
        if group:
            b.set_group_id(group)
        if self._start is not None:
            b.set_starting_offsets(self._start)
        elif group:
            b.set_starting_offsets(KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy[reset.upper()]))
        elif reset == "none":
            raise ValueError("FlinkKafkaConsumer: auto.offset.reset=none needs a group.id with committed offsets")
        else:
            b.set_starting_offsets(KafkaOffsetsInitializer.earliest() if reset == "earliest"
                                   else KafkaOffsetsInitializer.latest())
        if not self._commit_on_checkpoints:
            b.set_property("commit.offsets.on.checkpoint", "false")
        return b.build()

    def _weir_add_source(self, env, source_name):
        from weir.common.watermark_strategy import WatermarkStrategy
        return self._source()._weir_source(env, WatermarkStrategy.no_watermarks(), source_name)

    # Used as a stream: added once to the current environment.
    def _as_stream(self):
        if self._stream is None:
            from weir.datastream.stream_execution_environment import _current_environment
            self._stream = _current_environment().add_source(self, "Kafka Source")
        return self._stream

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_stream", "_topics", "_schema", "_props", "_start",
                                             "_commit_on_checkpoints"):
            raise AttributeError(name)
        from weir.datastream.data_stream import DataStream
        if not hasattr(DataStream, name):
            raise AttributeError("'FlinkKafkaConsumer' object has no attribute %r" % name)
        return getattr(self._as_stream(), name)


class FlinkKafkaProducerBase(object):
    """(Not a ``SinkFunction`` here: ``add_sink`` would call it per record instead of writing
    to Kafka.)"""


class FlinkKafkaProducer(FlinkKafkaProducerBase):
    """PyFlink 1.x's producer: ``stream.add_sink(FlinkKafkaProducer(topic, schema, config))``.
    ``semantic``: Semantic.AT_LEAST_ONCE (default), EXACTLY_ONCE (transactions with checkpoints;
    ``transactional.id`` in the config is the prefix, default the topic), NONE."""

    def __init__(self, topic, serialization_schema, producer_config, kafka_producer_pool_size=5,
                 semantic=None):
        if not isinstance(topic, str) or not topic:
            raise TypeError("FlinkKafkaProducer: topic must be a topic name, not %r" % (topic,))
        props = _str_props(producer_config, "FlinkKafkaProducer")
        if not props.get("bootstrap.servers"):
            raise ValueError("FlinkKafkaProducer: the producer config needs 'bootstrap.servers'")
        _ser_fn(serialization_schema, "FlinkKafkaProducer")
        semantic = Semantic.AT_LEAST_ONCE if semantic is None else semantic
        if not isinstance(semantic, Semantic):
            raise TypeError("FlinkKafkaProducer: semantic must be a Semantic, not %r" % (semantic,))
        self._topic = topic
        self._schema = serialization_schema
        self._props = props
        self._semantic = semantic

    def set_log_failures_only(self, log_failures_only):
        return self

    def set_flush_on_checkpoint(self, flush_on_checkpoint):
        return self

    def set_write_timestamp_to_kafka(self, write_timestamp_to_kafka):
        return self

    def ignore_failures_after_transaction_timeout(self):
        return self

    def _weir_sink(self, stream):
        props = dict(self._props)
        bootstrap = props.pop("bootstrap.servers")
        prefix = props.pop("transactional.id", "") or self._topic
        guarantee = {Semantic.EXACTLY_ONCE: DeliveryGuarantee.EXACTLY_ONCE,
                     Semantic.AT_LEAST_ONCE: DeliveryGuarantee.AT_LEAST_ONCE,
                     Semantic.NONE: DeliveryGuarantee.NONE}[self._semantic]
        b = KafkaSink.builder().set_bootstrap_servers(bootstrap).set_delivery_guarantee(guarantee) \
            .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(self._topic)
                                   .set_value_serialization_schema(self._schema).build())
        if guarantee == DeliveryGuarantee.EXACTLY_ONCE:
            b.set_transactional_id_prefix(prefix)
        for k, v in props.items():
            b.set_property(k, v)
        return b.build()._weir_sink(stream)
