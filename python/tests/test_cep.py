"""weir.cep: Flink CEP's pattern API on Python streams. Results are compared with the matches
written out by hand (Flink CEP's documented cases) and with a plain Python matcher."""
import itertools
import random

import pytest

from weir.cep import CEP, AfterMatchSkipStrategy, IterativeCondition, Pattern, SimpleCondition
from weir.common import Duration, Time, WatermarkStrategy
from weir.common.watermark_strategy import TimestampAssigner
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.output_tag import OutputTag

from conftest import collect


class Ts(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[2]


def timed(env, data):
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0)).with_timestamp_assigner(Ts())
    return env.from_collection(data).assign_timestamps_and_watermarks(strategy)


def events(spec, key="k"):
    """"a1 b2" -> (key, name, timestamp)."""
    return [(key, w, i + 1) for i, w in enumerate(spec.split())]


def is_(kind):
    return lambda e: e[1][0] == kind


def show(m):
    return " ".join("%s:%s" % (n, ",".join(e[1] for e in evs)) for n, evs in sorted(m.items()) if evs)


def run(pattern, data, parallelism=1, keyed=True):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    s = timed(env, data)
    if keyed:
        s = s.key_by(lambda e: e[0])
    return sorted(collect(CEP.pattern(s, pattern).select(show)))


def test_contiguity_strict_relaxed_any():
    data = events("a1 c2 b3 b4")
    a = Pattern.begin("a").where(is_("a"))
    assert run(a.next("b").where(is_("b")), data) == []
    assert run(a.followed_by("b").where(is_("b")), data) == ["a:a1 b:b3"]
    assert run(a.followed_by_any("b").where(is_("b")), data) == ["a:a1 b:b3", "a:a1 b:b4"]


def test_looping_relaxed_consecutive_combinations():
    data = events("c1 d2 a3 a4 a5 d6 a7 b8")
    base = Pattern.begin("start").where(is_("c")).followed_by("middle").where(is_("a"))

    def end(p):
        return p.followed_by("end1").where(is_("b"))
    assert run(end(base.one_or_more()), data) == sorted(
        ["end1:b8 middle:a3 start:c1", "end1:b8 middle:a3,a4 start:c1", "end1:b8 middle:a3,a4,a5 start:c1",
         "end1:b8 middle:a3,a4,a5,a7 start:c1"])
    assert run(end(base.one_or_more().consecutive()), data) == sorted(
        ["end1:b8 middle:a3 start:c1", "end1:b8 middle:a3,a4 start:c1", "end1:b8 middle:a3,a4,a5 start:c1"])
    assert len(run(end(base.one_or_more().allow_combinations()), data)) == 8


def test_skip_strategies_and_patterns_are_values():
    def p(s):
        return (Pattern.begin("b", s).where(is_("b")).one_or_more().greedy().consecutive()
                .next("c").where(is_("c")))
    data = events("b1 b2 b3 c4")
    assert run(p(AfterMatchSkipStrategy.no_skip()), data) == ["b:b1,b2,b3 c:c4", "b:b2,b3 c:c4", "b:b3 c:c4"]
    assert run(p(AfterMatchSkipStrategy.skip_past_last_event()), data) == ["b:b1,b2,b3 c:c4"]
    assert run(p(AfterMatchSkipStrategy.skip_to_last("b")), data) == ["b:b1,b2,b3 c:c4", "b:b3 c:c4"]
    base = Pattern.begin("a").where(is_("a"))
    longer = base.next("b")
    assert base.get_name() == "a" and longer.get_name() == "b"
    with pytest.raises(Exception, match="consecutive"):
        base.consecutive()


class Rising(IterativeCondition):
    def filter(self, value, ctx):
        prev = ctx.get_events_for_pattern("up") or ctx.get_events_for_pattern("start")
        return value[1][0] == "p" and int(value[1][1:]) > int(prev[-1][1][1:])


class IsP(SimpleCondition):
    def filter(self, value):
        return value[1][0] == "p"


def test_iterative_conditions_classes_and_lambdas():
    data = events("p5 p6 p7 p3 p4")
    p = Pattern.begin("start").where(IsP()).next("up").where(Rising()).times(2).consecutive()
    assert run(p, data) == ["start:p5 up:p6,p7"]
    lam = Pattern.begin("start").where(IsP()).next("up").where(
        lambda v, ctx: int(v[1][1:]) > int(ctx.get_events_for_pattern("start")[0][1][1:]))
    assert run(lam, data) == ["start:p3 up:p4", "start:p5 up:p6", "start:p6 up:p7"]


def test_groups():
    inner = Pattern.begin("g1").where(is_("a")).next("g2").where(is_("b"))
    p = Pattern.begin("s").where(is_("s")).next(inner).times(2).consecutive()
    assert run(p, events("s0 a1 b2 a3 b4")) == ["g1:a1,a3 g2:b2,b4 s:s0"]


def test_within_timeouts_and_flat_select():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    data = events("a1 x2 b3 a4 x5 x6 x7 b8") + events("a1 b2", key="other")
    data.sort(key=lambda e: e[2])
    p = Pattern.begin("a").where(is_("a")).followed_by("b").where(is_("b")).within(Time.milliseconds(3))
    timeouts = OutputTag("timeouts")
    out = CEP.pattern(timed(env, data).key_by(lambda e: e[0]), p).flat_select(
        timeouts, lambda m, ts: [show(m) + "@" + str(ts)], lambda m: [(show(m), len(m))])
    got_timeouts = []
    out.get_side_output(timeouts).add_sink(got_timeouts.append)
    assert sorted(collect(out)) == [("a:a1 b:b2", 2), ("a:a1 b:b3", 2)]
    assert got_timeouts == ["a:a4@7"]


def test_process_with_context_and_side_outputs():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    p = Pattern.begin("a").where(is_("a")).followed_by("b").where(is_("b")).within(Time.milliseconds(3))
    timeouts, starts = OutputTag("timeouts"), OutputTag("starts")

    def on_match(m, ctx):
        yield show(m) + "@" + str(ctx.timestamp())
        yield starts, m["a"][0][1]

    def on_timeout(m, ts, ctx):
        yield timeouts, show(m) + "@" + str(ts)
    # (late data: side_output_late_data(tag) as in C++; its job test is in tests/cep/cep_test.cc,
    # where a watermark after every element makes lateness deterministic)
    s = timed(env, events("a1 x2 b3 a4 x5 x6 x7 b8")).key_by(lambda e: e[0])
    out = CEP.pattern(s, p).side_output_late_data(OutputTag("late")).process(on_match, on_timeout)
    got = {"timeouts": [], "starts": []}
    for tag in (timeouts, starts):
        out.get_side_output(tag).add_sink(got[tag.tag_id].append)
    assert collect(out) == ["a:a1 b:b3@3"]
    assert got == {"timeouts": ["a:a4@7"], "starts": ["a1"]}


def test_non_keyed_processing_time():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(3)
    s = env.from_collection(events("a1 b2 a3 x4 b5"))
    p = Pattern.begin("a").where(is_("a")).followed_by("b").where(is_("b"))
    got = collect(CEP.pattern(s, p).in_processing_time().select(show))
    assert sorted(got) == ["a:a1 b:b2", "a:a3 b:b5"]


# ---- a plain Python matcher on random patterns ----------------------------------------------------

def reference(steps, data):
    """Every match: step i takes `count` events of its kind with its contiguity (0 next,
    1 followed_by, 2 followed_by_any) after the previous one; loops relaxed inside."""
    out = []

    def go(i, last, taken):
        if i == len(steps):
            if taken:
                m = {}
                for j, s in taken:
                    m.setdefault("s%d" % s, []).append(data[j])
                out.append(show(m))
            return
        kind, contiguity, lo, hi = steps[i]

        def pick(prev, count):
            if count >= lo:
                go(i + 1, prev, taken)
            if count == hi:
                return
            for j in range(prev + 1, len(data)):
                if data[j][1][0] != kind:
                    continue
                c = contiguity if count == 0 else 1
                if prev >= 0 and not (count == 0 and not taken):
                    if c == 0 and j != prev + 1:
                        continue
                    if c == 1 and any(data[x][1][0] == kind for x in range(prev + 1, j)):
                        continue
                taken.append((j, i))
                pick(j, count + 1)
                taken.pop()
        pick(last, 0)
    go(0, -1, [])
    return sorted(out)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_random_patterns_against_a_python_matcher(parallelism):
    rng = random.Random(7 + parallelism)
    for _ in range(4):
        steps = []
        for i in range(rng.randint(2, 3)):
            lo = rng.choice([1, 1, 2])
            steps.append((rng.choice("abc"), rng.randint(0, 2), lo, lo + rng.choice([0, 0, 1])))
        p = None
        for i, (kind, contiguity, lo, hi) in enumerate(steps):
            name = "s%d" % i
            p = Pattern.begin(name) if p is None else [p.next, p.followed_by, p.followed_by_any][contiguity](name)
            p = p.where(is_(kind))
            if (lo, hi) != (1, 1):
                p = p.times(lo, hi)
        data = []
        for k in ["x", "y", "z"]:
            data += [(k, rng.choice("abcd") + str(t), t) for t in range(1, 11)]
        data.sort(key=lambda e: e[2])
        want = sorted(itertools.chain.from_iterable(
            reference(steps, [e for e in data if e[0] == k]) for k in ["x", "y", "z"]))
        assert run(p, data, parallelism) == want, steps
