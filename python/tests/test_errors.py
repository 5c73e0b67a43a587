"""What a user sees when something is wrong: a user function's exception fails the job with the
traceback, the operator and the subtask, and execute() raises it; wrong use fails when the job
is declared, with a message that says what to change."""
import pytest

from weir.common import JobExecutionException, Types, WatermarkStrategy
from weir.datastream import KeyedProcessFunction, MapFunction, OutputTag, StreamExecutionEnvironment

from conftest import collect


def boom(x):
    if x == 3:
        raise ValueError("boom at %d" % x)
    return x


def test_user_exception_fails_the_job_with_traceback_operator_and_subtask(env):
    env.from_collection([1, 2, 3, 4]).map(boom).name("my-map").add_sink(lambda x: None)
    with pytest.raises(JobExecutionException) as info:
        env.execute("failing")
    msg = str(info.value)
    assert "my-map" in msg
    assert "subtask" in msg
    assert "ValueError: boom at 3" in msg
    assert "in boom" in msg  # the Python traceback names the function
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "boom at 3"


def test_execute_and_collect_raises_the_failure(env):
    with pytest.raises(JobExecutionException, match="boom at 3"):
        collect(env.from_collection([1, 2, 3]).map(boom))


def test_wrong_arguments_fail_at_declaration():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([1, 2])
    with pytest.raises(TypeError, match="expected a MapFunction or a callable"):
        ds.map(42)
    with pytest.raises(TypeError, match="KeySelector or a callable"):
        ds.key_by("field")
    with pytest.raises(TypeError, match="needs a keyed stream"):
        class K(KeyedProcessFunction):
            def process_element(self, value, ctx):
                yield value
        ds.process(K())
    with pytest.raises(TypeError, match="WatermarkStrategy"):
        ds.assign_timestamps_and_watermarks(lambda x: 1)
    with pytest.raises(TypeError, match="TypeInformation"):
        ds.map(lambda x: x, output_type=int)
    with pytest.raises(ValueError, match="set_parallelism"):
        env.set_parallelism(0)
    with pytest.raises(TypeError, match="OutputTag"):
        ds.get_side_output("late")
    with pytest.raises(ValueError, match="non-empty"):
        OutputTag("")
    with pytest.raises(TypeError, match="Duration"):
        WatermarkStrategy.for_bounded_out_of_orderness(1.5)
    with pytest.raises(TypeError, match="from_collection"):
        env.from_collection(["a"], Types.INT())


def test_unhashable_key_fails_with_a_type_error_naming_the_fix(env):
    with pytest.raises(JobExecutionException, match="unhashable list.*tuple instead of a list"):
        collect(env.from_collection([[1, 2], [3]]).key_by(lambda v: v).reduce(lambda a, b: a))


def test_an_exception_in_open_names_the_operator(env):
    class BadOpen(MapFunction):
        def open(self, ctx):
            raise RuntimeError("cannot open")

        def map(self, v):
            return v
    env.from_collection([1]).map(BadOpen()).name("opener").add_sink(lambda x: None)
    with pytest.raises(JobExecutionException, match="(?s)opener.*RuntimeError: cannot open"):
        env.execute()


def test_a_process_function_that_returns_a_non_iterable(env):
    class Bad(KeyedProcessFunction):
        def process_element(self, value, ctx):
            return 5
    with pytest.raises(JobExecutionException, match="must return an iterable"):
        collect(env.from_collection([1]).key_by(lambda x: x).process(Bad()))
