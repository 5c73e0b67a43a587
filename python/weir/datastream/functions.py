"""User function interfaces (PyFlink's ``pyflink.datastream.functions``). Subclass them and
override the method; an instance is copied for each parallel subtask, which then gets
``open(runtime_context)`` before its first record and ``close()`` at the end."""
from abc import ABC
from enum import Enum
from typing import Generic, Iterable, TypeVar

IN = TypeVar("IN")
IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")
OUT = TypeVar("OUT")
KEY = TypeVar("KEY")
ACC = TypeVar("ACC")
W = TypeVar("W")
W2 = TypeVar("W2")


class TimeDomain(Enum):
    EVENT_TIME = 0
    PROCESSING_TIME = 1


class RuntimeContext(object):
    """What a function's ``open()`` receives: the subtask, and keyed state by descriptor."""

    def __init__(self, c):
        self._c = c

    def get_index_of_this_subtask(self):
        return self._c.get_index_of_this_subtask()

    def get_number_of_parallel_subtasks(self):
        return self._c.get_number_of_parallel_subtasks()

    def get_max_number_of_parallel_subtasks(self):
        return self._c.get_max_number_of_parallel_subtasks()

    def get_attempt_number(self):
        return self._c.get_attempt_number()

    def get_task_name(self):
        return self._c.get_task_name()

    def get_task_name_with_subtasks(self):
        return "%s (%d/%d)" % (self._c.get_task_name(), self.get_index_of_this_subtask() + 1,
                               self.get_number_of_parallel_subtasks())

    def get_job_parameter(self, key, default_value):
        return default_value

    def get_metrics_group(self):
        return MetricGroup(self._c)

    def _ttl(self, d):
        return d._ttl_config

    def get_state(self, state_descriptor):
        from weir.datastream.state import ValueStateDescriptor
        _expect(state_descriptor, ValueStateDescriptor, "get_state")
        return self._c.value_state(state_descriptor.name, self._ttl(state_descriptor))

    def get_list_state(self, state_descriptor):
        from weir.datastream.state import ListStateDescriptor
        _expect(state_descriptor, ListStateDescriptor, "get_list_state")
        return self._c.list_state(state_descriptor.name, self._ttl(state_descriptor))

    def get_map_state(self, state_descriptor):
        from weir.datastream.state import MapStateDescriptor
        _expect(state_descriptor, MapStateDescriptor, "get_map_state")
        return self._c.map_state(state_descriptor.name, self._ttl(state_descriptor))

    def get_reducing_state(self, state_descriptor):
        from weir.datastream.state import ReducingStateDescriptor
        _expect(state_descriptor, ReducingStateDescriptor, "get_reducing_state")
        return self._c.reducing_state(state_descriptor.name, state_descriptor._reduce_fn,
                                      self._ttl(state_descriptor))

    def get_aggregating_state(self, state_descriptor):
        from weir.datastream.state import AggregatingStateDescriptor
        _expect(state_descriptor, AggregatingStateDescriptor, "get_aggregating_state")
        return self._c.aggregating_state(state_descriptor.name, state_descriptor._agg_function,
                                         self._ttl(state_descriptor))


def _expect(d, cls, what):
    if not isinstance(d, cls):
        raise TypeError("%s: expected a %s, not %r" % (what, cls.__name__, d))


class MetricGroup(object):
    """Counters and gauges of the operator subtask (read with JobClient.metrics())."""

    def __init__(self, c):
        self._c = c

    def counter(self, name):
        return _Counter(self._c, name)

    def gauge(self, name, obj):
        self._c.gauge_set(name, int(obj()))

    def add_group(self, name, extra=None):
        return self


class _Counter(object):
    def __init__(self, c, name):
        self._c = c
        self._name = name

    def inc(self, n=1):
        self._c.counter_inc(self._name, n)

    def dec(self, n=1):
        self._c.counter_inc(self._name, -n)


class Function(ABC):
    def open(self, runtime_context: RuntimeContext):
        pass

    def close(self):
        pass


class MapFunction(Function):
    def map(self, value):
        raise NotImplementedError("MapFunction.map")


class FlatMapFunction(Function):
    def flat_map(self, value):
        raise NotImplementedError("FlatMapFunction.flat_map")


class FilterFunction(Function):
    def filter(self, value):
        raise NotImplementedError("FilterFunction.filter")


class ReduceFunction(Function):
    def reduce(self, value1, value2):
        raise NotImplementedError("ReduceFunction.reduce")


class KeySelector(Function):
    def get_key(self, value):
        raise NotImplementedError("KeySelector.get_key")


class NullByteKeySelector(KeySelector):
    def get_key(self, value):
        return 0


class CoMapFunction(Function):
    def map1(self, value):
        raise NotImplementedError

    def map2(self, value):
        raise NotImplementedError


class CoFlatMapFunction(Function):
    def flat_map1(self, value):
        raise NotImplementedError

    def flat_map2(self, value):
        raise NotImplementedError


class AggregateFunction(Function, Generic[IN, ACC, OUT]):
    def create_accumulator(self):
        raise NotImplementedError

    def add(self, value, accumulator):
        raise NotImplementedError

    def get_result(self, accumulator):
        raise NotImplementedError

    def merge(self, acc_a, acc_b):
        raise NotImplementedError


class SinkFunction(Function):
    """Weir: a Python sink function (``invoke(value, context)``) for ``add_sink``."""

    def invoke(self, value, context=None):
        raise NotImplementedError


class SourceFunction(Function):
    """The base of the source functions ``env.add_source`` takes (``FlinkKafkaConsumer``), as
    in PyFlink, where they wrap Java sources. A Python source is a ``from_source`` source or
    ``from_collection``; ``add_source`` refuses a Python subclass of this class."""


class TimerService(ABC):
    """Time and timers (the engine's ``ctx.timer_service()`` has these methods)."""

    def current_processing_time(self):
        raise NotImplementedError

    def current_watermark(self):
        raise NotImplementedError

    def register_processing_time_timer(self, timestamp):
        raise NotImplementedError

    def register_event_time_timer(self, timestamp):
        raise NotImplementedError

    def delete_processing_time_timer(self, timestamp):
        raise NotImplementedError

    def delete_event_time_timer(self, timestamp):
        raise NotImplementedError


class BaseContext(ABC):
    def timestamp(self):
        raise NotImplementedError

    def timer_service(self) -> TimerService:
        raise NotImplementedError


class ProcessFunction(Function):
    """``process_element(value, ctx)`` yields outputs, and ``(output_tag, value)`` for side
    outputs."""

    class Context(BaseContext):
        pass

    def process_element(self, value, ctx: "ProcessFunction.Context"):
        raise NotImplementedError("ProcessFunction.process_element")


class KeyedProcessFunction(Function, Generic[KEY, IN, OUT]):
    class Context(BaseContext):
        def get_current_key(self):
            raise NotImplementedError

    class OnTimerContext(Context):
        def time_domain(self) -> TimeDomain:
            raise NotImplementedError

    def process_element(self, value, ctx: "KeyedProcessFunction.Context"):
        raise NotImplementedError("KeyedProcessFunction.process_element")

    def on_timer(self, timestamp: int, ctx: "KeyedProcessFunction.OnTimerContext"):
        pass


class CoProcessFunction(Function):
    class Context(BaseContext):
        pass

    def process_element1(self, value, ctx):
        raise NotImplementedError

    def process_element2(self, value, ctx):
        raise NotImplementedError


class KeyedCoProcessFunction(Function, Generic[KEY, IN1, IN2, OUT]):
    class Context(BaseContext):
        def get_current_key(self):
            raise NotImplementedError

    class OnTimerContext(Context):
        def time_domain(self) -> TimeDomain:
            raise NotImplementedError

    def process_element1(self, value, ctx):
        raise NotImplementedError

    def process_element2(self, value, ctx):
        raise NotImplementedError

    def on_timer(self, timestamp: int, ctx):
        pass


class WindowFunction(Function, Generic[IN, OUT, KEY, W]):
    def apply(self, key, window, inputs) -> Iterable:
        raise NotImplementedError


class AllWindowFunction(Function, Generic[IN, OUT, W]):
    def apply(self, window, inputs) -> Iterable:
        raise NotImplementedError


class ProcessWindowFunction(Function, Generic[IN, OUT, KEY, W]):
    class Context(ABC, Generic[W2]):
        def window(self):
            raise NotImplementedError

        def current_processing_time(self):
            raise NotImplementedError

        def current_watermark(self):
            raise NotImplementedError

        def window_state(self):
            raise NotImplementedError

        def global_state(self):
            raise NotImplementedError

    def process(self, key, context: "ProcessWindowFunction.Context", elements: Iterable) -> Iterable:
        raise NotImplementedError

    def clear(self, context):
        pass


class ProcessAllWindowFunction(Function, Generic[IN, OUT, W]):
    class Context(ABC, Generic[W2]):
        def window(self):
            raise NotImplementedError

    def process(self, context, elements: Iterable) -> Iterable:
        raise NotImplementedError

    def clear(self, context):
        pass


class PassThroughWindowFunction(WindowFunction):
    def apply(self, key, window, inputs):
        yield from inputs


class PassThroughAllWindowFunction(AllWindowFunction):
    def apply(self, window, inputs):
        yield from inputs


def _fn(f, cls, method, what):
    """(target, method name) for the engine: a Function object and its method, or a callable."""
    if isinstance(f, cls):
        return f, method
    if isinstance(f, Function) and hasattr(f, method):
        return f, method
    if callable(f):
        return f, ""
    raise TypeError("%s: expected a %s or a callable, not %r" % (what, cls.__name__, f))
