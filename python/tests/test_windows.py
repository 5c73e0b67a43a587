"""Windows: assigners, window functions, count windows, window_all, lateness. Each job's output
is compared with a plain Python computation of the same windows."""
import threading
from collections import defaultdict
from typing import Iterable

import pytest

from weir.common import Duration, Time, Types, WatermarkStrategy
from weir.common.watermark_strategy import TimestampAssigner
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.functions import (AggregateFunction, AllWindowFunction, ProcessAllWindowFunction,
                                       ProcessFunction, ProcessWindowFunction, ReduceFunction, WindowFunction)
from weir.datastream.output_tag import OutputTag
from weir.datastream.window import (CountSlidingWindowAssigner, CountTrigger, CountTumblingWindowAssigner,
                                    CountWindow, EventTimeSessionWindows, GlobalWindow, GlobalWindows,
                                    PurgingTrigger, SessionWindowTimeGapExtractor, SlidingEventTimeWindows,
                                    TimeWindow, Trigger, TumblingEventTimeWindows, WindowAssigner)

from conftest import collect

KEYS = ["a", "b", "c", "d", "e"]
BOUND = 100  # the data's disorder is below this


def records(n=400):
    """(key, value, timestamp): timestamps grow by 10 with a jitter below 50 (out of order)."""
    out = []
    for i in range(n):
        out.append((KEYS[(i * 7) % len(KEYS)], (i * 13) % 17, i * 10 + (i * 37) % 50))
    return out


class Ts(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[2]


def timed(env, data, bound=BOUND):
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound))
                .with_timestamp_assigner(Ts()))
    return env.from_collection(data).assign_timestamps_and_watermarks(strategy)


def tumbling(data, size):
    w = defaultdict(list)
    for k, v, ts in data:
        start = ts - ts % size
        w[(k, start, start + size)].append(v)
    return w


def sliding(data, size, slide):
    w = defaultdict(list)
    for k, v, ts in data:
        last = ts - ts % slide
        start = last
        while start > ts - size:
            w[(k, start, start + size)].append(v)
            start -= slide
    return w


def sessions(data, gap):
    by_key = defaultdict(list)
    for k, v, ts in data:
        by_key[k].append((ts, v))
    w = {}
    for k, items in by_key.items():
        items.sort()
        cur = None
        for ts, v in items:
            if cur is not None and ts - cur[1] <= gap:
                cur[1] = ts
                cur[2].append(v)
            else:
                if cur is not None:
                    w[(k, cur[0], cur[1] + gap)] = cur[2]
                cur = [ts, ts, [v]]
        w[(k, cur[0], cur[1] + gap)] = cur[2]
    return w


# ---- window functions ------------------------------------------------------------------------------

class Describe(ProcessWindowFunction[tuple, tuple, str, TimeWindow]):
    """(key, start, end, sum, count), checking the context."""

    def process(self, key: str, context: ProcessWindowFunction.Context[TimeWindow],
                elements: Iterable[tuple]) -> Iterable[tuple]:
        w = context.window()
        assert isinstance(w, TimeWindow)
        assert context.current_watermark() >= w.max_timestamp()
        assert isinstance(context.current_processing_time(), int)
        vals = [e[1] for e in elements]
        yield key, w.start, w.end, sum(vals), len(vals)


class SumReduce(ReduceFunction):
    def reduce(self, a, b):
        return a[0], a[1] + b[1], max(a[2], b[2])


class WithWindow(ProcessWindowFunction):
    def process(self, key, context, elements):
        (e,) = list(elements)
        w = context.window()
        return [(key, w.start, w.end, e[1])]


class Avg(AggregateFunction):
    def create_accumulator(self):
        return 0, 0

    def add(self, value, accumulator):
        return accumulator[0] + value[1], accumulator[1] + 1

    def get_result(self, accumulator):
        return accumulator[0], accumulator[1]

    def merge(self, a, b):
        return a[0] + b[0], a[1] + b[1]


class ApplySum(WindowFunction[tuple, tuple, str, TimeWindow]):
    def apply(self, key, window, inputs):
        return [(key, window.start, window.end, sum(e[1] for e in inputs))]


def expected_describe(w):
    return sorted((k, s, e, sum(v), len(v)) for (k, s, e), v in w.items())


def test_tumbling_process(env):
    data = records()
    out = timed(env, data).key_by(lambda r: r[0]).window(TumblingEventTimeWindows.of(Time.milliseconds(100))) \
        .process(Describe())
    assert sorted(collect(out)) == expected_describe(tumbling(data, 100))


def test_tumbling_with_offset(env):
    data = records(200)
    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(TumblingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(30))).process(Describe())
    w = defaultdict(list)
    for k, v, ts in data:
        start = TimeWindow.get_window_start_with_offset(ts, 30, 100)
        w[(k, start, start + 100)].append(v)
    assert sorted(collect(out)) == expected_describe(w)


def test_sliding_process(env):
    data = records()
    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(SlidingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(30))).process(Describe())
    assert sorted(collect(out)) == expected_describe(sliding(data, 100, 30))


def test_session_process(env):
    data = records()
    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(EventTimeSessionWindows.with_gap(Time.milliseconds(45))).process(Describe())
    assert sorted(collect(out)) == expected_describe(sessions(data, 45))


def test_session_dynamic_gap(env):
    data = records(300)

    class Gap(SessionWindowTimeGapExtractor):
        def extract(self, element):
            return 45

    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(EventTimeSessionWindows.with_dynamic_gap(Gap())).process(Describe())
    assert sorted(collect(out)) == expected_describe(sessions(data, 45))


def test_tumbling_reduce_output_timestamps(env):
    data = records()

    class Stamp(ProcessFunction):
        def process_element(self, value, ctx):
            yield value[0], value[1], ctx.timestamp()

    out = timed(env, data).key_by(lambda r: r[0]).window(TumblingEventTimeWindows.of(Time.milliseconds(100))) \
        .reduce(SumReduce()).process(Stamp())
    # The reduced record keeps the first element's key; the result carries the window's max timestamp.
    exp = sorted((k, sum(v), s + 99) for (k, s, e), v in tumbling(data, 100).items())
    assert sorted(collect(out)) == exp


def test_sliding_reduce_lambda_with_window_function(env):
    data = records()
    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(SlidingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(25))) \
        .reduce(lambda a, b: (a[0], a[1] + b[1], a[2]), window_function=WithWindow())
    exp = sorted((k, s, e, sum(v)) for (k, s, e), v in sliding(data, 100, 25).items())
    assert sorted(collect(out)) == exp


def test_session_reduce(env):
    data = records()
    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(EventTimeSessionWindows.with_gap(Time.milliseconds(45))).reduce(SumReduce(), WithWindow())
    exp = sorted((k, s, e, sum(v)) for (k, s, e), v in sessions(data, 45).items())
    assert sorted(collect(out)) == exp


@pytest.mark.parametrize("assigner, reference", [
    (TumblingEventTimeWindows.of(Time.milliseconds(100)), lambda d: tumbling(d, 100)),
    (SlidingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(30)), lambda d: sliding(d, 100, 30)),
    (EventTimeSessionWindows.with_gap(Time.milliseconds(45)), lambda d: sessions(d, 45)),
], ids=["tumbling", "sliding", "session"])
def test_aggregate(env, assigner, reference):
    data = records()
    plain = timed(env, data).key_by(lambda r: r[0]).window(assigner).aggregate(Avg())
    assert sorted(collect(plain)) == sorted((sum(v), len(v)) for v in reference(data).values())


def test_aggregate_with_window_function(env):
    data = records()

    class Tag(WindowFunction):
        def apply(self, key, window, inputs):
            (acc,) = inputs
            yield key, window.start, window.end, acc[0], acc[1]

    out = timed(env, data).key_by(lambda r: r[0]) \
        .window(SlidingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(50))) \
        .aggregate(Avg(), window_function=Tag(), accumulator_type=Types.TUPLE([Types.INT(), Types.INT()]),
                   output_type=Types.TUPLE([Types.STRING(), Types.LONG(), Types.LONG(), Types.INT(), Types.INT()]))
    assert sorted(collect(out)) == expected_describe(sliding(data, 100, 50))


def test_apply(env):
    data = records()
    out = timed(env, data).key_by(lambda r: r[0]).window(TumblingEventTimeWindows.of(50)).apply(ApplySum())
    exp = sorted((k, s, e, sum(v)) for (k, s, e), v in tumbling(data, 50).items())
    assert sorted(collect(out)) == exp


# ---- count windows ---------------------------------------------------------------------------------

def by_key(data):
    d = defaultdict(list)
    for r in data:
        d[r[0]].append(r)
    return d


class CountSum(WindowFunction[tuple, tuple, str, CountWindow]):
    def apply(self, key, window, inputs):
        assert isinstance(window, CountWindow)
        vals = [e[1] for e in inputs]
        return [(key, window.id, sum(vals), len(vals))]


def test_count_window_tumbling(env):
    data = records(301)
    out = env.from_collection(data).key_by(lambda r: r[0]).count_window(4).apply(CountSum())
    exp = []
    for k, rs in by_key(data).items():
        for i in range(len(rs) // 4):
            chunk = rs[i * 4:(i + 1) * 4]
            exp.append((k, i, sum(r[1] for r in chunk), 4))
    assert sorted(collect(out)) == sorted(exp)


def test_count_window_sliding(env):
    data = records(203)
    out = env.from_collection(data).key_by(lambda r: r[0]).count_window(5, 2).apply(CountSum())
    exp = []
    for k, rs in by_key(data).items():
        i = 0
        while i * 2 + 5 <= len(rs):
            chunk = rs[i * 2:i * 2 + 5]
            exp.append((k, i, sum(r[1] for r in chunk), 5))
            i += 1
    assert sorted(collect(out)) == sorted(exp)


def test_count_window_reduce_and_assigner_objects(env):
    data = records(100)
    out = env.from_collection(data).key_by(lambda r: r[0]) \
        .window(CountTumblingWindowAssigner.of(3)).reduce(lambda a, b: (a[0], a[1] + b[1], 0))
    exp = []
    for k, rs in by_key(data).items():
        for i in range(len(rs) // 3):
            exp.append((k, sum(r[1] for r in rs[i * 3:(i + 1) * 3]), 0))
    assert sorted(collect(out)) == sorted(exp)


def test_global_windows_with_purging_count_trigger(env):
    data = records(100)

    class Sum(ProcessWindowFunction):
        def process(self, key, context, elements):
            assert context.window() == GlobalWindow()
            yield key, sum(e[1] for e in elements)

    out = env.from_collection(data).key_by(lambda r: r[0]).window(GlobalWindows.create()) \
        .trigger(PurgingTrigger.of(CountTrigger.of(3))).process(Sum())
    exp = []
    for k, rs in by_key(data).items():
        for i in range(len(rs) // 3):
            exp.append((k, sum(r[1] for r in rs[i * 3:(i + 1) * 3])))
    assert sorted(collect(out)) == sorted(exp)


# ---- window_all --------------------------------------------------------------------------------

def test_window_all_tumbling(env):
    data = records()

    class All(ProcessAllWindowFunction):
        def process(self, context, elements):
            w = context.window()
            yield w.start, w.end, sum(e[1] for e in elements)

    out = timed(env, data).window_all(TumblingEventTimeWindows.of(Time.milliseconds(100))).process(All())
    w = defaultdict(int)
    for k, v, ts in data:
        w[(ts - ts % 100, ts - ts % 100 + 100)] += v
    assert sorted(collect(out)) == sorted((s, e, v) for (s, e), v in w.items())


def test_window_all_reduce_and_apply(env):
    data = records()

    class Apply(AllWindowFunction):
        def apply(self, window, inputs):
            return [(window.start, sum(e[1] for e in inputs))]

    reduced = timed(env, data).window_all(SlidingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(50))) \
        .reduce(lambda a, b: ("*", a[1] + b[1], 0))
    reduced = collect(reduced)
    env2 = StreamExecutionEnvironment.get_execution_environment()
    env2.set_parallelism(env.get_parallelism())
    applied = timed(env2, data).window_all(TumblingEventTimeWindows.of(Time.milliseconds(100))).apply(Apply())
    w = defaultdict(int)
    for k, v, ts in data:
        start = ts - ts % 50
        while start > ts - 100:
            w[start] += v
            start -= 50
    assert sorted(r[1] for r in reduced) == sorted(w.values())
    w2 = defaultdict(int)
    for k, v, ts in data:
        w2[ts - ts % 100] += v
    assert sorted(collect(applied)) == sorted(w2.items())


def test_count_window_all(env):
    data = records(101)

    class Apply(AllWindowFunction):
        def apply(self, window, inputs):
            return [(window.id, [e[2] for e in inputs])]

    out = env.from_collection(data).count_window_all(10).apply(Apply())
    exp = [(i, [r[2] for r in data[i * 10:(i + 1) * 10]]) for i in range(len(data) // 10)]
    assert sorted(collect(out)) == exp


# ---- lateness ----------------------------------------------------------------------------------

# The job's gate waits for these; the window function sets them when a window fires, so the late
# records reach the window after the watermark passed (no sleeps).
_FIRED = {}


def _gate(r):
    wait_for = r[3]
    if wait_for is not None and not _FIRED[wait_for].wait(60):
        raise RuntimeError("window %r never fired" % (wait_for,))
    return r[:3]


class Signal(ProcessWindowFunction):
    def process(self, key, context, elements):
        (e,) = list(elements)
        w = context.window()
        ev = _FIRED.get((key, w.start))
        if ev is not None:
            ev.set()
        yield key, w.start, e[1]


def test_allowed_lateness_and_late_side_output(env):
    _FIRED.clear()
    _FIRED[("a", 0)] = threading.Event()
    _FIRED[("a", 100)] = threading.Event()
    env.get_config().set_auto_watermark_interval(5)
    # The gate blocks a task until a window has fired: that needs a second task thread (a
    # Python environment runs its tasks on one by default).
    env.set_worker_threads(2)
    data = [("a", 10, 10, None), ("a", 50, 50, None), ("b", 60, 60, None), ("a", 130, 130, None),
            ("a", 40, 40, ("a", 0)),     # after [0, 100) fired: late, within the lateness -> fires again
            ("a", 250, 250, None),
            ("a", 20, 20, ("a", 100)),   # after [0, 100) was cleaned up: to the side output
            ("b", 90, 90, None)]
    late = OutputTag("late", Types.PICKLED_BYTE_ARRAY())
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(Ts())
    src = env.from_collection(data).set_parallelism(1)
    # Flushed record by record: the records before a waiting one reach the watermark generator.
    gated = src.map(_gate).set_parallelism(1).set_buffer_timeout(0).rebalance()
    out = gated.assign_timestamps_and_watermarks(strategy).set_parallelism(1) \
        .key_by(lambda r: r[0]).window(TumblingEventTimeWindows.of(Time.milliseconds(100))) \
        .allowed_lateness(50).side_output_late_data(late) \
        .reduce(lambda a, b: (a[0], a[1] + b[1], 0), window_function=Signal())
    side = out.get_side_output(late)
    got_late = []
    side.add_sink(got_late.append)
    main = collect(out)
    assert sorted(main) == sorted([("a", 0, 60), ("a", 0, 100), ("b", 0, 60), ("a", 100, 130), ("a", 200, 250)])
    assert sorted(got_late) == [("a", 20, 20), ("b", 90, 90)]


# ---- wrong use -----------------------------------------------------------------------------------

def test_wrong_assigner_and_trigger_are_type_errors():
    env = StreamExecutionEnvironment.get_execution_environment()
    keyed = env.from_collection([1, 2]).key_by(lambda x: x)
    with pytest.raises(TypeError, match="TumblingEventTimeWindows"):
        keyed.window("tumbling")

    class Mine(WindowAssigner):
        def assign_windows(self, element, timestamp, context):
            return [GlobalWindow()]

    with pytest.raises(TypeError, match="built-in window assigners"):
        keyed.window(Mine()).reduce(lambda a, b: a)

    class MyTrigger(Trigger):
        pass

    with pytest.raises(TypeError, match="CountTrigger"):
        keyed.window(GlobalWindows.create()).trigger(MyTrigger())
    with pytest.raises(TypeError, match="ProcessWindowFunction"):
        keyed.window(GlobalWindows.create()).process(lambda k, c, e: e)
    with pytest.raises(TypeError, match="window_all"):
        env.from_collection([1]).window_all(GlobalWindows.create()).process(Describe())
    with pytest.raises(ValueError, match="event-time"):
        keyed.count_window(3).allowed_lateness(10)
    with pytest.raises(ValueError, match="size must be positive"):
        TumblingEventTimeWindows.of(Time.milliseconds(0))


def test_window_types():
    w = TimeWindow(0, 10)
    assert w.max_timestamp() == 9 and w == TimeWindow(0, 10) and hash(w) == hash(TimeWindow(0, 10))
    assert w.intersects(TimeWindow(10, 20)) and not w.intersects(TimeWindow(11, 20))
    assert w.cover(TimeWindow(5, 30)) == TimeWindow(0, 30)
    assert repr(w) == "TimeWindow(start=0, end=10)"
    assert CountWindow(3) == CountWindow(3) and repr(CountWindow(3)) == "CountWindow(id=3)"
    assert GlobalWindow.get() == GlobalWindow() and repr(GlobalWindow()) == "GlobalWindow"
    assert CountSlidingWindowAssigner.of(5, 2) is not None


# ---- PyFlink's windowing examples (their printed output, from PyFlink) ----------------------------

class CountWindowProcessFunction(ProcessWindowFunction[tuple, tuple, str, TimeWindow]):
    def process(self, key: str, context: ProcessWindowFunction.Context[TimeWindow],
                elements: Iterable[tuple]) -> Iterable[tuple]:
        return [(key, context.window().start, context.window().end, len([e for e in elements]))]


class ExTs(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp) -> int:
        return int(value[1])


def _example(capsys, data, assigner):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(data, type_info=Types.TUPLE([Types.STRING(), Types.INT()]))
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(ExTs())
    ds.assign_timestamps_and_watermarks(strategy) \
        .key_by(lambda x: x[0], key_type=Types.STRING()) \
        .window(assigner) \
        .process(CountWindowProcessFunction(),
                 Types.TUPLE([Types.STRING(), Types.INT(), Types.INT(), Types.INT()])) \
        .print()
    capsys.readouterr()
    env.execute()
    return capsys.readouterr().out.splitlines()


DATA8 = [('hi', 1), ('hi', 2), ('hi', 3), ('hi', 4), ('hi', 5), ('hi', 8), ('hi', 9), ('hi', 15)]
DATA7 = [('hi', 1), ('hi', 2), ('hi', 3), ('hi', 4), ('hi', 8), ('hi', 9), ('hi', 15)]


def test_example_tumbling_time_window(capsys):
    assert _example(capsys, DATA8, TumblingEventTimeWindows.of(Time.milliseconds(5))) == \
        ["(hi,0,5,4)", "(hi,5,10,3)", "(hi,15,20,1)"]


def test_example_sliding_time_window(capsys):
    assert _example(capsys, DATA8, SlidingEventTimeWindows.of(Time.milliseconds(5), Time.milliseconds(2))) == \
        ["(hi,-2,3,2)", "(hi,0,5,4)", "(hi,2,7,4)", "(hi,4,9,3)", "(hi,6,11,2)", "(hi,8,13,2)",
         "(hi,12,17,1)", "(hi,14,19,1)"]


def test_example_session_with_gap_window(capsys):
    assert _example(capsys, DATA7, EventTimeSessionWindows.with_gap(Time.milliseconds(5))) == \
        ["(hi,1,14,6)", "(hi,15,20,1)"]


def test_example_session_with_dynamic_gap_window(capsys):
    class MySessionWindowTimeGapExtractor(SessionWindowTimeGapExtractor):
        def extract(self, element: tuple) -> int:
            return element[1]

    assert _example(capsys, DATA7, EventTimeSessionWindows.with_dynamic_gap(MySessionWindowTimeGapExtractor())) == \
        ["(hi,1,30,7)"]


def test_example_tumbling_count_window(capsys):
    class SumWindowFunction(WindowFunction[tuple, tuple, str, CountWindow]):
        def apply(self, key: str, window: CountWindow, inputs: Iterable[tuple]):
            result = 0
            for i in inputs:
                result += i[0]
            return [(key, result)]

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    data_stream = env.from_collection([
        (1, 'hi'), (2, 'hello'), (3, 'hi'), (4, 'hello'), (5, 'hi'), (6, 'hello'), (6, 'hello')],
        type_info=Types.TUPLE([Types.INT(), Types.STRING()]))
    data_stream.key_by(lambda x: x[1], key_type=Types.STRING()) \
        .count_window(2) \
        .apply(SumWindowFunction(), Types.TUPLE([Types.STRING(), Types.INT()])) \
        .print()
    capsys.readouterr()
    env.execute()
    assert capsys.readouterr().out.splitlines() == ["(hi,4)", "(hello,6)", "(hello,12)"]
