"""map / flat_map / filter / key_by / reduce / aggregations, each compared with a plain Python
computation, at parallelism 1, 2 and 4."""
from collections import defaultdict
from collections import Counter

import pytest

from weir.common import Row, Types
from weir.datastream import FilterFunction, FlatMapFunction, MapFunction, ReduceFunction, RuntimeContext

from conftest import collect


def test_map_filter_flat_map_with_callables(env):
    data = list(range(1000))
    out = collect(env.from_collection(data)
                  .map(lambda x: x * 2)
                  .filter(lambda x: x % 3 != 0)
                  .flat_map(lambda x: [x, -x]))
    expected = [y for x in data for y in (x * 2, -x * 2) if (x * 2) % 3 != 0]
    assert Counter(out) == Counter(expected)


def test_function_objects_are_copied_per_subtask_and_opened(env):
    class Tag(MapFunction):
        def __init__(self):
            self.seen = 0

        def open(self, runtime_context: RuntimeContext):
            self.subtask = runtime_context.get_index_of_this_subtask()

        def map(self, value):
            self.seen += 1  # per subtask: instances are not shared
            return (value, self.subtask, self.seen)

    class Even(FilterFunction):
        def filter(self, value):
            return value % 2 == 0

    class Twice(FlatMapFunction):
        def flat_map(self, value):
            yield value
            yield value

    out = collect(env.from_collection(list(range(200))).flat_map(Twice()).filter(Even()).rebalance().map(Tag()))
    assert sorted(v for v, _, _ in out) == sorted([x for x in range(200) if x % 2 == 0] * 2)
    per_subtask = defaultdict(list)
    for _, s, n in out:
        per_subtask[s].append(n)
    for counts in per_subtask.values():
        assert sorted(counts) == list(range(1, len(counts) + 1))


def test_key_by_reduce_emits_running_values_per_key(env):
    words = ["a", "b", "c", "a", "b", "a", "d"] * 50
    out = collect(env.from_collection(words).map(lambda w: (w, 1))
                  .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])))
    final = {}
    for w, n in out:
        final[w] = max(final.get(w, 0), n)
    assert final == dict(Counter(words))
    assert len(out) == len(words)
    per_key = defaultdict(list)
    for w, n in out:
        per_key[w].append(n)
    for w, ns in per_key.items():
        assert ns == list(range(1, len(ns) + 1))  # in order within a key


def test_reduce_function_object(env):
    class Sum(ReduceFunction):
        def reduce(self, a, b):
            return a + b
    out = collect(env.from_collection(list(range(100))).key_by(lambda x: x % 7).reduce(Sum()))
    sums = defaultdict(int)
    for x in range(100):
        sums[x % 7] += x
    assert len(out) == 100  # a running value per record
    assert set(sums.values()) <= set(out)


@pytest.mark.parametrize("kind", ["sum", "min", "max", "min_by", "max_by"])
def test_keyed_aggregations_by_position_on_tuples(env, kind):
    data = [("a", 3, "x"), ("b", 1, "y"), ("a", 1, "z"), ("a", 5, "w"), ("b", 7, "v"), ("b", 0, "u")]
    keyed = env.from_collection(data).key_by(lambda t: t[0])
    out = collect(getattr(keyed, kind)(1))
    # sequential model: Flink's aggregation semantics
    acc = {}
    expected = []
    for t in data:
        k = t[0]
        if k not in acc:
            acc[k] = t
        else:
            a = acc[k]
            if kind == "sum":
                acc[k] = (a[0], a[1] + t[1], a[2])
            elif kind == "min":
                acc[k] = (a[0], min(a[1], t[1]), a[2])
            elif kind == "max":
                acc[k] = (a[0], max(a[1], t[1]), a[2])
            elif kind == "min_by":
                acc[k] = t if t[1] < a[1] else a
            else:
                acc[k] = t if t[1] > a[1] else a
        expected.append(acc[k])
    assert Counter(out) == Counter(expected)


def test_sum_on_plain_numbers_and_named_rows(env):
    out = collect(env.from_collection([1, 2, 3, 4]).key_by(lambda x: x % 2).sum())
    assert sorted(out) == sorted([1, 2, 4, 6])
    rows = [Row(name="a", n=1), Row(name="a", n=2), Row(name="b", n=5)]
    out = collect(env.from_collection(rows, Types.ROW_NAMED(["name", "n"], [Types.STRING(), Types.INT()]))
                  .key_by(lambda r: r.name).sum("n"))
    assert sorted((r.name, r.n) for r in out) == [("a", 1), ("a", 3), ("b", 5)]


def test_union_and_connect_co_map(env):
    from weir.datastream import CoMapFunction
    a = env.from_collection([1, 2, 3])
    b = env.from_collection([10, 20])
    assert sorted(collect(a.union(b, env.from_collection([100])))) == [1, 2, 3, 10, 20, 100]

    class Both(CoMapFunction):
        def open(self, ctx):
            self.n = 0

        def map1(self, v):
            self.n += 1
            return ("left", v)

        def map2(self, v):
            return ("right", v)
    out = collect(env.from_collection([1, 2]).connect(env.from_collection(["x"])).map(Both()))
    assert sorted(out) == [("left", 1), ("left", 2), ("right", "x")]


def test_keys_of_equal_value_and_different_types_route_consistently(env):
    # Equal dicts/sets built in different orders are one key; 0.0 and -0.0 are one key.
    data = [frozenset([1, 2, 3]), frozenset([3, 2, 1]), 0.0, -0.0, ("t", 1), ("t", 1)]
    out = collect(env.from_collection(data).map(lambda v: (v, 1)).key_by(lambda t: t[0])
                  .reduce(lambda a, b: (a[0], a[1] + b[1])))
    finals = defaultdict(int)
    for k, n in out:
        finals[k] = max(finals[k], n)
    assert finals[frozenset([1, 2, 3])] == 2
    assert finals[0.0] == 2
    assert finals[("t", 1)] == 2


def test_many_records_through_a_keyed_reduce(env):
    n = 200_000
    out = collect(env.from_sequence(1, n).map(lambda x: x * 2).key_by(lambda x: x % 10)
                  .reduce(lambda a, b: a + b).filter(lambda x: x > 0))
    finals = defaultdict(int)
    for x in range(1, n + 1):
        finals[(x * 2) % 10] += x * 2
    assert len(out) == n
    assert set(finals.values()) <= set(out)


def test_the_int_key_fast_path_encodes_as_the_general_encoder():
    from weir import _weir
    for v in [0, 1, -1, 63, 64, -64, -65, 300, -300, 2 ** 31, 2 ** 62, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1, 10 ** 30]:
        assert _weir._key_bytes(v) == _weir._encode(v), v
        assert _weir._decode(_weir._key_bytes(v)) == v
