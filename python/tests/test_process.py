"""Process functions: keyed state of every kind, timers, the current key, side outputs by
`yield tag, value`, each compared with a plain Python computation at parallelism 1, 2, 4."""
from collections import Counter, defaultdict

from weir.common import Duration, Types, WatermarkStrategy
from weir.common.watermark_strategy import TimestampAssigner
from weir.datastream import (KeyedCoProcessFunction, KeyedProcessFunction, OutputTag, ProcessFunction,
                             RuntimeContext, TimeDomain)
from weir.datastream.functions import AggregateFunction, MapFunction
from weir.datastream.state import (AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor,
                                   ReducingStateDescriptor, ValueStateDescriptor)

from conftest import collect


class FirstField(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[1]


def test_keyed_state_of_every_kind(env):
    class AllStates(KeyedProcessFunction):
        def open(self, ctx: RuntimeContext):
            self.count = ctx.get_state(ValueStateDescriptor("count", Types.LONG()))
            self.items = ctx.get_list_state(ListStateDescriptor("items", Types.INT()))
            self.seen = ctx.get_map_state(MapStateDescriptor("seen", Types.INT(), Types.INT()))
            self.total = ctx.get_reducing_state(ReducingStateDescriptor("total", lambda a, b: a + b, Types.INT()))

            class Avg(AggregateFunction):
                def create_accumulator(self):
                    return (0, 0)

                def add(self, value, acc):
                    return (acc[0] + value, acc[1] + 1)

                def get_result(self, acc):
                    return acc[0] / acc[1]
            self.avg = ctx.get_aggregating_state(AggregatingStateDescriptor("avg", Avg(), Types.PICKLED_BYTE_ARRAY()))

        def process_element(self, value, ctx):
            k, v = value
            assert ctx.get_current_key() == k
            n = (self.count.value() or 0) + 1
            self.count.update(n)
            self.items.add(v)
            self.seen.put(v % 3, (self.seen.get(v % 3) or 0) + 1)
            self.total.add(v)
            self.avg.add(v)
            yield (k, n, list(self.items.get()), dict(self.seen.items()), self.total.get(), self.avg.get(),
                   sorted(self.seen.keys()), self.seen.contains(0), self.seen.is_empty())

    data = [("k%d" % (i % 5), i) for i in range(100)]
    out = collect(env.from_collection(data).key_by(lambda t: t[0]).process(AllStates()))
    expected = []
    model = defaultdict(lambda: {"items": [], "seen": {}})
    for k, v in data:
        m = model[k]
        m["items"].append(v)
        m["seen"][v % 3] = m["seen"].get(v % 3, 0) + 1
        items = list(m["items"])
        expected.append((k, len(items), items, dict(m["seen"]), sum(items), sum(items) / len(items),
                         sorted(m["seen"]), 0 in m["seen"], False))
    key = lambda t: (t[0], t[1])
    assert sorted(out, key=key) == sorted(expected, key=key)


def test_state_clear_and_update_none(env):
    class Toggle(KeyedProcessFunction):
        def open(self, ctx):
            self.v = ctx.get_state(ValueStateDescriptor("v"))

        def process_element(self, value, ctx):
            before = self.v.value()
            if before is None:
                self.v.update(value)
            else:
                self.v.update(None)  # PyFlink: update(None) clears
            yield (value, before)
    out = collect(env.from_collection([1, 1, 1, 2]).key_by(lambda x: x).process(Toggle()))
    assert Counter(out) == Counter([(1, None), (1, 1), (1, None), (2, None)])


def test_event_time_timers_fire_in_order_with_the_timer_key_and_timestamp(env):
    class Timeout(KeyedProcessFunction):
        def process_element(self, value, ctx):
            ctx.timer_service().register_event_time_timer(value[1] + 10)
            assert ctx.timestamp() == value[1]

        def on_timer(self, timestamp, ctx):
            assert ctx.time_domain() == TimeDomain.EVENT_TIME
            yield (ctx.get_current_key(), timestamp, ctx.timestamp())

    events = [("a", 1), ("b", 2), ("a", 5), ("c", 30), ("b", 40), ("a", 41), ("c", 45), ("a", 5)]
    ws = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(FirstField())
    out = collect(env.from_collection(events).assign_timestamps_and_watermarks(ws)
                  .key_by(lambda e: e[0]).process(Timeout()))
    # every registered timer fires once (a timer registered twice is one), by the end of input
    # at the latest, with its key current and its own timestamp; a key's timers in order
    expected = {(k, t + 10, t + 10) for k, t in events}
    assert sorted(out) == sorted(expected)
    for k in "abc":
        times = [t for kk, t, _ in out if kk == k]
        assert times == sorted(times)


def test_side_outputs_by_yield_tag_value_only_when_asked_for(env):
    odd = OutputTag("odd", Types.INT())
    never = OutputTag("never")

    class Split(ProcessFunction):
        def process_element(self, value, ctx):
            if value % 2:
                yield odd, value
                yield never, value
            else:
                yield value

    main = env.from_collection(list(range(20))).process(Split())
    side = main.get_side_output(odd)
    # a tag the job does not read: the pair stays in the main output as a tuple (as in PyFlink)
    evens = main.map(lambda x: ("main", x if not isinstance(x, tuple) else (x[0].tag_id, x[1])))
    odds = side.map(lambda x: ("odd", x))
    out = collect(evens.union(odds))
    assert sorted(out, key=repr) == sorted([("main", x) for x in range(0, 20, 2)] +
                                           [("main", ("never", x)) for x in range(1, 20, 2)] +
                                           [("odd", x) for x in range(1, 20, 2)], key=repr)


def test_keyed_co_process_shares_state_and_timers_per_key(env):
    end = (1 << 63) - 1

    class Gather(KeyedCoProcessFunction):
        def open(self, ctx):
            self.left = ctx.get_list_state(ListStateDescriptor("left"))
            self.right = ctx.get_list_state(ListStateDescriptor("right"))

        def process_element1(self, value, ctx):
            self.left.add(value[1])
            ctx.timer_service().register_event_time_timer(end)

        def process_element2(self, value, ctx):
            self.right.add(value[1])
            ctx.timer_service().register_event_time_timer(end)

        def on_timer(self, timestamp, ctx):
            yield (ctx.get_current_key(), sorted(self.left.get()), sorted(self.right.get()))

    left = [("k%d" % (i % 4), i) for i in range(40)]
    right = [("k%d" % (i % 6), -i) for i in range(30)]
    out = collect(env.from_collection(left).key_by(lambda t: t[0]).connect(
        env.from_collection(right).key_by(lambda t: t[0])).process(Gather()))
    keys = sorted({k for k, _ in left} | {k for k, _ in right})
    expected = [(k, sorted(v for kk, v in left if kk == k), sorted(v for kk, v in right if kk == k)) for k in keys]
    assert sorted(out) == expected


def test_keyed_map_with_state_on_a_keyed_stream(env):
    class Running(MapFunction):
        def open(self, ctx):
            self.sum = ctx.get_state(ValueStateDescriptor("sum", Types.INT()))

        def map(self, value):
            s = (self.sum.value() or 0) + value[1]
            self.sum.update(s)
            return (value[0], s)
    data = [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]
    out = collect(env.from_collection(data).key_by(lambda t: t[0]).map(Running()))
    assert Counter(out) == Counter([("a", 1), ("b", 2), ("a", 4), ("b", 6), ("a", 9)])


def test_bounded_out_of_orderness_and_current_watermark(env):
    class Wm(KeyedProcessFunction):
        def process_element(self, value, ctx):
            yield (value, ctx.timer_service().current_watermark() < value[1])
    ws = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(5)).with_timestamp_assigner(FirstField())
    out = collect(env.from_collection([("a", 10), ("a", 12)]).assign_timestamps_and_watermarks(ws)
                  .key_by(lambda t: t[0]).process(Wm()))
    assert all(ok for _, ok in out)
