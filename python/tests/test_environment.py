"""The environment and the stream API around the transformations: print()'s format, collecting,
BATCH mode, several execute() calls, configuration keys, restart strategies, Row."""
import itertools
import pytest

from weir.common import Configuration, JobExecutionException, Row, RowKind, Time, Types
from weir.common.restart_strategy import RestartStrategies
from weir.datastream import MapFunction, RuntimeExecutionMode, StreamExecutionEnvironment

from conftest import collect


def make_env(p=1, config=None):
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(p)
    return env


def printed(capfd, env):
    env.execute()
    return capfd.readouterr().out.splitlines()


def test_print_formats_untyped_values_with_str_and_typed_ones_as_flink_does(capfd):
    env = make_env()
    env.from_collection([1, "b c", (1, "a"), [1, 2], {"k": 1}, None, 1.5, True, Row(1, "a"), Row(id=1, name="a")]) \
        .print()
    assert printed(capfd, env) == ["1", "b c", "(1, 'a')", "[1, 2]", "{'k': 1}", "None", "1.5", "True",
                                   "<Row(1, 'a')>", "Row(id=1, name='a')"]
    env.from_collection([(1, "a")], Types.TUPLE([Types.INT(), Types.STRING()])).print()
    env.from_collection([(1, "a")], Types.ROW([Types.INT(), Types.STRING()])).print()
    env.from_collection([(1, "a")], Types.ROW_NAMED(["id", "name"], [Types.INT(), Types.STRING()])).print()
    env.from_collection([True], Types.BOOLEAN()).print()
    assert sorted(printed(capfd, env)) == sorted(["(1,a)", "+I[1,a]", "+I[1,a]", "true"])


def test_print_prefixes_subtasks_above_parallelism_1_and_takes_an_identifier(capfd):
    env = make_env(2)
    env.from_collection(list(range(6))).print("id")
    lines = printed(capfd, env)
    assert sorted(int(line.split("> ")[1]) for line in lines) == list(range(6))
    assert {line.split("> ")[0] for line in lines} <= {"id:1", "id:2"}
    env = make_env(1)
    env.from_collection([5]).print("id")
    assert printed(capfd, env) == ["id> 5"]


def test_execute_and_collect_iterates_closes_and_limits():
    env = make_env()
    ds = env.from_collection(list(range(10)))
    with ds.map(lambda x: x + 1).execute_and_collect() as it:
        assert list(it) == list(range(1, 11))
    assert env.from_collection(list(range(10))).execute_and_collect(limit=3) == [0, 1, 2]
    assert env.from_collection(list(range(10))).execute_and_collect("named", limit=0) == []


def test_execute_and_collect_of_an_unbounded_stream_stops_at_the_limit():
    env = make_env()
    endless = env.from_sequence(1, 1 << 60)
    assert endless.execute_and_collect(limit=5) == [1, 2, 3, 4, 5]


def test_typed_rows_have_named_fields():
    env = make_env()
    out = collect(env.from_collection([(1, "a"), (2, "b")], Types.ROW_NAMED(["id", "name"],
                                                                            [Types.INT(), Types.STRING()]))
                  .map(lambda r: "%d:%s" % (r.id, r["name"])))
    assert out == ["1:a", "2:b"]


def test_float_type_rounds_to_32_bits_as_flink():
    env = make_env()
    out = collect(env.from_collection([0.1], Types.FLOAT()))
    assert out == [0.10000000149011612]
    out = collect(env.from_collection([1]).map(lambda x: (x, 0.1), Types.TUPLE([Types.INT(), Types.FLOAT()])))
    assert out == [(1, 0.10000000149011612)]


def test_batch_mode_reduce_emits_one_final_value_per_key():
    for p in (1, 2, 4):
        env = make_env(p)
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
        data = [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]
        out = collect(env.from_collection(data).key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])))
        assert sorted(out) == [("a", 9), ("b", 6)]
        out = collect(env.from_collection(data).key_by(lambda t: t[0]).sum(1))
        assert sorted(out) == [("a", 9), ("b", 6)]


def test_several_execute_calls_on_one_environment_run_what_was_declared_since(capfd):
    env = make_env()
    ds = env.from_collection([1, 2, 3])
    ds.map(lambda x: x * 10).print()
    assert printed(capfd, env) == ["10", "20", "30"]
    ds.filter(lambda x: x > 1).print()
    assert printed(capfd, env) == ["2", "3"]
    with pytest.raises(ValueError, match="no sinks"):
        env.execute()


def test_configuration_keys():
    c = Configuration()
    c.set_string("parallelism.default", "3")
    c.set_string("pipeline.max-parallelism", "64")
    c.set_string("execution.runtime-mode", "batch")
    c.set_string("execution.checkpointing.interval", "2 s")
    c.set_string("restart-strategy.type", "fixed-delay")
    c.set_string("restart-strategy.fixed-delay.attempts", "2")
    c.set_string("restart-strategy.fixed-delay.delay", "10 ms")
    env = StreamExecutionEnvironment.get_execution_environment(c)
    assert env.get_parallelism() == 3
    assert env.get_max_parallelism() == 64
    assert env.get_checkpoint_config().get_checkpoint_interval() == 2000
    bad = Configuration().set_string("restart-strategy.type", "sometimes")
    with pytest.raises(ValueError, match="unknown strategy"):
        env.configure(bad)


def test_a_restart_strategy_restarts_a_failing_job_until_it_gives_up():
    attempts = itertools.count()

    class FailTwice(MapFunction):
        def open(self, ctx):
            self.attempt = ctx.get_attempt_number()

        def map(self, v):
            if self.attempt < 2:
                raise RuntimeError("attempt %d fails" % self.attempt)
            return v

    env = make_env()
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 10))
    assert collect(env.from_collection([1, 2]).map(FailTwice())) == [1, 2]
    env = make_env()
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 10))
    with pytest.raises(JobExecutionException, match="attempt 1 fails"):
        collect(env.from_collection([1, 2]).map(FailTwice()))
    del attempts


def test_row_forms():
    r = Row(name="a", id=1)
    assert (r.name, r["id"], r[0], r.as_dict()) == ("a", 1, "a", {"name": "a", "id": 1})
    assert repr(r) == "Row(name='a', id=1)"
    assert repr(Row(1, "a")) == "<Row(1, 'a')>"
    point = Row("x", "y")
    assert point(1, 2) == Row(x=1, y=2)
    with pytest.raises(ValueError):
        Row(1, name="a")
    assert Row(1) != (1,)
    r.set_row_kind(RowKind.UPDATE_AFTER)
    assert str(r.get_row_kind()) == "+U"


def test_time_and_windows_take_time():
    assert Time.seconds(2).to_milliseconds() == 2000


def test_dropping_the_client_of_a_running_job_cancels_it():
    import gc
    env = make_env(2)
    env.from_sequence(1, 1 << 60).map(lambda x: x * 2).key_by(lambda x: x % 3).reduce(lambda a, b: a + b) \
        .add_sink(lambda x: None)
    client = env.execute_async("endless")
    assert client.get_job_status().result() in ("CREATED", "RUNNING")
    del client
    gc.collect()  # the job is canceled and its threads end; nothing waits forever
