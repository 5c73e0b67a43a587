"""The Python API as the issue that asked for it words it, each form used exactly as written
(PyFlink's names and argument forms). Kafka forms are in python/tests/test_connectors_kafka.py,
against the real broker."""
import weir._pyflink

weir._pyflink.install()  # as `weir run` and `python -m weir` do

from pyflink.common import Configuration, Duration, Row, Time, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import (CheckpointingMode, CoFlatMapFunction, CoMapFunction, FilterFunction,
                                FlatMapFunction, KeyedCoProcessFunction, KeyedProcessFunction, MapFunction,
                                OutputTag, ProcessFunction, RuntimeExecutionMode, StreamExecutionEnvironment)
from pyflink.datastream.functions import ProcessWindowFunction, ReduceFunction, WindowFunction
from pyflink.datastream.state import (AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor,
                                      ReducingStateDescriptor, StateTtlConfig, ValueStateDescriptor)
from pyflink.datastream.window import CountWindow, TimeWindow, TumblingEventTimeWindows
from pyflink.common import RestartStrategies
from pyflink.datastream.functions import AggregateFunction


class Ts(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[1]


def test_environment_forms():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.set_max_parallelism(64)
    env.enable_checkpointing(1000)
    env.enable_checkpointing(1000, CheckpointingMode.AT_LEAST_ONCE)
    assert env.get_checkpoint_config().get_checkpoint_interval() == 1000
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 1000))
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    env.get_config()
    c = Configuration()
    c.set_string("restart-strategy.type", "fixed-delay")
    StreamExecutionEnvironment.get_execution_environment(c)
    env.configure(c)
    ds = env.from_collection([1, 2, 3])
    ds = env.from_collection([1, 2, 3], Types.INT())
    ds.map(lambda x: x).print()
    env.execute("name")
    client = env.from_collection([1]).execute_and_collect()
    with client as it:
        assert list(it) == [1]
    assert env.from_collection([1, 2]).execute_and_collect(job_execution_name=None, limit=1) == [1]
    env.from_collection([1]).add_sink(lambda x: None)
    env.execute_async("async").wait()


def test_transformation_forms():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection([(1, "a"), (2, "b")])

    class M(MapFunction):
        def map(self, value):
            return value

    class F(FlatMapFunction):
        def flat_map(self, value):
            yield value

    class Fi(FilterFunction):
        def filter(self, value):
            return True

    out = ds.map(M()).map(lambda v: v, Types.TUPLE([Types.INT(), Types.STRING()])) \
        .flat_map(F()).flat_map(lambda v: [v], output_type=Types.PICKLED_BYTE_ARRAY()) \
        .filter(Fi()).filter(lambda v: True)
    keyed = out.key_by(lambda v: v[1])
    keyed = out.key_by(lambda v: v[1], key_type=Types.STRING())
    for s in (keyed.reduce(lambda a, b: a), keyed.sum(0), keyed.min(0), keyed.max(0), keyed.min_by(0),
              keyed.max_by(0)):
        s.set_parallelism(1).name("n").uid(s.get_name() + str(id(s)))
    out.union(ds).rebalance().shuffle().broadcast().forward().print()

    class CM(CoMapFunction):
        def map1(self, value):
            return value

        def map2(self, value):
            return value

    class CF(CoFlatMapFunction):
        def flat_map1(self, value):
            yield value

        def flat_map2(self, value):
            yield value

    ds.connect(ds).map(CM()).print()
    ds.connect(ds).flat_map(CF()).print()

    class KC(KeyedCoProcessFunction):
        def process_element1(self, value, ctx):
            yield value

        def process_element2(self, value, ctx):
            yield value

    ds.key_by(lambda v: v[0]).connect(ds.key_by(lambda v: v[0])).process(KC()).print()
    env.execute()


def test_process_functions_state_timers_and_side_outputs():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    tag = OutputTag("side", Types.INT())

    class P(ProcessFunction):
        def process_element(self, value, ctx):
            yield tag, value[0]
            yield value

    class Agg(AggregateFunction):
        def create_accumulator(self):
            return 0

        def add(self, value, accumulator):
            return accumulator + 1

        def get_result(self, accumulator):
            return accumulator

    class K(KeyedProcessFunction):
        def open(self, runtime_context):
            ttl = StateTtlConfig.new_builder(Time.seconds(1)) \
                .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite) \
                .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired).build()
            d = ValueStateDescriptor("v", Types.INT())
            d.enable_time_to_live(ttl)
            self.v = runtime_context.get_state(d)
            self.l = runtime_context.get_list_state(ListStateDescriptor("l", Types.INT()))
            self.m = runtime_context.get_map_state(MapStateDescriptor("m", Types.INT(), Types.INT()))
            self.r = runtime_context.get_reducing_state(ReducingStateDescriptor("r", lambda a, b: a + b, Types.INT()))
            self.a = runtime_context.get_aggregating_state(AggregatingStateDescriptor("a", Agg(), Types.INT()))

        def process_element(self, value, ctx):
            ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1)
            self.r.add(value[1])
            yield ctx.get_current_key(), ctx.timestamp(), self.r.get()

        def on_timer(self, timestamp, ctx):
            yield ctx.get_current_key(), timestamp, -1

    data = [(1, 10), (2, 20)]
    ws = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0)).with_timestamp_assigner(Ts())
    main = env.from_collection(data).assign_timestamps_and_watermarks(ws).process(P())
    side = main.get_side_output(tag)
    out = main.key_by(lambda v: v[0]).process(K(), Types.PICKLED_BYTE_ARRAY())
    assert sorted(out.union(side.map(lambda x: (x, 0, 0))).execute_and_collect()) == sorted(
        [(1, 10, 10), (2, 20, 20), (1, 11, -1), (2, 21, -1), (1, 0, 0), (2, 0, 0)])


def test_window_forms():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    late = OutputTag("late")

    class PW(ProcessWindowFunction[tuple, tuple, int, TimeWindow]):
        def process(self, key, context: ProcessWindowFunction.Context[TimeWindow], elements):
            yield key, context.window().start, len(list(elements))

    class Sum(ReduceFunction):
        def reduce(self, a, b):
            return a[0], a[1] + b[1]

    ws = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(Ts())
    ds = env.from_collection([(1, 1), (1, 2), (1, 12)]).assign_timestamps_and_watermarks(ws)
    w = ds.key_by(lambda v: v[0]).window(TumblingEventTimeWindows.of(Time.milliseconds(10))) \
        .allowed_lateness(0).side_output_late_data(late)
    assert sorted(w.process(PW()).execute_and_collect()) == [(1, 0, 2), (1, 10, 1)]
    class Count(WindowFunction):
        def apply(self, key, window, inputs):
            yield key, len(list(inputs))

    assert list(ds.key_by(lambda v: v[0]).count_window(2).apply(Count()).execute_and_collect()) == [(1, 2)]
    assert list(ds.key_by(lambda v: v[0]).window(TumblingEventTimeWindows.of(Time.milliseconds(10)))
                .reduce(Sum()).execute_and_collect()) == [(1, 3), (1, 12)]
    assert Row(id=1).id == 1 and isinstance(CountWindow(0), CountWindow) and SimpleStringSchema()
