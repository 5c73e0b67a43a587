"""Windows (PyFlink's ``pyflink.datastream.window``) and the windowed streams.

The assigners and triggers here describe the engine's built-in ones (weir/windows/*.hpp); the
window operator runs in the engine and calls the Python window function for each fired window.
Python subclasses of ``Trigger`` or ``WindowAssigner`` are not run: using one is a TypeError."""
from abc import ABC
from enum import Enum
from typing import Any, Generic, TypeVar

from weir import _weir
from weir.common.time import Time, Duration, _millis
from weir.common.typeinfo import _check_type_info
from weir.datastream.functions import (AggregateFunction, AllWindowFunction, ProcessAllWindowFunction,
                                       ProcessWindowFunction, ReduceFunction, WindowFunction)
from weir.datastream.output_tag import OutputTag

__all__ = ['Window',
           'TimeWindow',
           'CountWindow',
           'GlobalWindow',
           'WindowAssigner',
           'TumblingProcessingTimeWindows',
           'TumblingEventTimeWindows',
           'SlidingProcessingTimeWindows',
           'SlidingEventTimeWindows',
           'ProcessingTimeSessionWindows',
           'EventTimeSessionWindows',
           'DynamicProcessingTimeSessionWindows',
           'DynamicEventTimeSessionWindows',
           'GlobalWindows',
           'MergingWindowAssigner',
           'CountTumblingWindowAssigner',
           'CountSlidingWindowAssigner',
           'TriggerResult',
           'Trigger',
           'EventTimeTrigger',
           'ProcessingTimeTrigger',
           'ContinuousEventTimeTrigger',
           'ContinuousProcessingTimeTrigger',
           'NeverTrigger',
           'PurgingTrigger',
           'CountTrigger',
           'SessionWindowTimeGapExtractor',
           'WindowedStream',
           'AllWindowedStream']

T = TypeVar('T')
W = TypeVar('W')

MAX_LONG_VALUE = (1 << 63) - 1


def _long_to_int_with_bit_mixing(x: int) -> int:
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb
    return x ^ (x >> 31)


def _mod_inverse(x: int) -> int:
    inverse = x * x * x
    inverse *= 2 - x * inverse
    inverse *= 2 - x * inverse
    inverse *= 2 - x * inverse
    return inverse


# ---- windows -------------------------------------------------------------------------------------

class Window(ABC):
    """A grouping of elements; ``max_timestamp()`` is the largest timestamp inside it."""

    def max_timestamp(self) -> int:
        raise NotImplementedError


class TimeWindow(Window):
    """The time interval [start, end)."""

    def __init__(self, start: int, end: int):
        super(TimeWindow, self).__init__()
        self.start = start
        self.end = end

    def max_timestamp(self) -> int:
        return self.end - 1

    def intersects(self, other: 'TimeWindow') -> bool:
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: 'TimeWindow') -> 'TimeWindow':
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    @staticmethod
    def get_window_start_with_offset(timestamp: int, offset: int, window_size: int):
        return timestamp - (timestamp - offset + window_size) % window_size

    def __hash__(self):
        return self.start + _mod_inverse((self.end << 1) + 1)

    def __eq__(self, other):
        return self.__class__ == other.__class__ and self.end == other.end and self.start == other.start

    def __lt__(self, other: 'TimeWindow'):
        if not isinstance(other, TimeWindow):
            raise Exception("Does not support comparison with non-TimeWindow %s" % other)
        return self.start == other.start and self.end < other.end or self.start < other.start

    def __le__(self, other: 'TimeWindow'):
        return self.__eq__(other) or self.__lt__(other)

    def __repr__(self):
        return "TimeWindow(start={}, end={})".format(self.start, self.end)


class CountWindow(Window):
    """A count window; ``id`` numbers the windows of a key from 0."""

    def __init__(self, id: int):
        super(CountWindow, self).__init__()
        self.id = id

    def max_timestamp(self) -> int:
        return MAX_LONG_VALUE

    def __hash__(self):
        return _long_to_int_with_bit_mixing(self.id)

    def __eq__(self, other):
        return self.__class__ == other.__class__ and self.id == other.id

    def __repr__(self):
        return "CountWindow(id={})".format(self.id)


class GlobalWindow(Window):
    """The one window of GlobalWindows."""

    def __init__(self):
        super(GlobalWindow, self).__init__()

    @staticmethod
    def get() -> 'GlobalWindow':
        return GlobalWindow()

    def max_timestamp(self) -> int:
        return MAX_LONG_VALUE

    def __eq__(self, other):
        return self.__class__ == other.__class__

    def __hash__(self):
        return 0

    def __repr__(self):
        return "GlobalWindow"


_weir._set_window_classes(TimeWindow, GlobalWindow, CountWindow)


# ---- triggers ------------------------------------------------------------------------------------

class TriggerResult(Enum):
    CONTINUE = (False, False)
    FIRE_AND_PURGE = (True, True)
    FIRE = (True, False)
    PURGE = (False, True)

    def is_fire(self) -> bool:
        return self.value[0]

    def is_purge(self) -> bool:
        return self.value[1]


class Trigger(ABC, Generic[T, W]):
    """When a window fires. Only the built-in triggers below run (in the engine); a Python
    subclass with its own ``on_element`` is not supported."""

    def _spec(self):
        raise TypeError("trigger: %r is not one of Weir's built-in triggers; accepted: %s"
                        % (self, _TRIGGER_NAMES))


class EventTimeTrigger(Trigger[T, TimeWindow]):
    """Fires when the watermark passes the window's end (the event-time assigners' default)."""

    @staticmethod
    def create() -> 'EventTimeTrigger':
        return EventTimeTrigger()

    def _spec(self):
        return ("event",)


class ProcessingTimeTrigger(Trigger[T, TimeWindow]):
    """Fires when processing time passes the window's end."""

    @staticmethod
    def create() -> 'ProcessingTimeTrigger':
        return ProcessingTimeTrigger()

    def _spec(self):
        return ("processing",)


class ContinuousEventTimeTrigger(Trigger[T, TimeWindow]):
    """Fires every ``interval`` of event time, and at the window's end."""

    def __init__(self, interval: int):
        self._interval = interval

    @staticmethod
    def of(interval: Time) -> 'ContinuousEventTimeTrigger':
        ms = _millis(interval, "ContinuousEventTimeTrigger.of")
        if ms <= 0:
            raise ValueError("ContinuousEventTimeTrigger.of: the interval must be positive, got %d ms" % ms)
        return ContinuousEventTimeTrigger(ms)

    def _spec(self):
        return ("continuous_event", self._interval)


class ContinuousProcessingTimeTrigger(Trigger[T, TimeWindow]):
    """Not in Weir's engine: using it is a TypeError."""

    def __init__(self, interval: int):
        self._interval = interval

    @staticmethod
    def of(interval: Time) -> 'ContinuousProcessingTimeTrigger':
        return ContinuousProcessingTimeTrigger(_millis(interval, "ContinuousProcessingTimeTrigger.of"))

    def _spec(self):
        raise TypeError("trigger: ContinuousProcessingTimeTrigger is not supported by Weir's engine; accepted: %s"
                        % _TRIGGER_NAMES)


class NeverTrigger(Trigger[T, GlobalWindow]):
    """Never fires (the GlobalWindows default)."""

    def _spec(self):
        return ("never",)


class PurgingTrigger(Trigger[T, Window]):
    """Turns every FIRE of the nested trigger into FIRE_AND_PURGE."""

    def __init__(self, nested_trigger: Trigger):
        self._nested = nested_trigger

    @staticmethod
    def of(nested_trigger: Trigger) -> 'PurgingTrigger':
        if not isinstance(nested_trigger, Trigger):
            raise TypeError("PurgingTrigger.of: expected a Trigger (%s), not %r" % (_TRIGGER_NAMES, nested_trigger))
        return PurgingTrigger(nested_trigger)

    def _spec(self):
        return ("purging", self._nested._spec())


class CountTrigger(Trigger[T, CountWindow]):
    """Fires when the window holds ``window_size`` elements (then counts from zero again)."""

    def __init__(self, window_size: int):
        self._window_size = window_size

    @staticmethod
    def of(window_size: int) -> 'CountTrigger':
        _check_count(window_size, "CountTrigger.of")
        return CountTrigger(window_size)

    def _spec(self):
        return ("count", self._window_size)


_TRIGGER_NAMES = ("EventTimeTrigger, ProcessingTimeTrigger, ContinuousEventTimeTrigger.of(interval), "
                  "CountTrigger.of(n), PurgingTrigger.of(trigger), NeverTrigger")


def _check_count(n, what):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError("%s: expected an int of at least 1, not %r" % (what, n))


# ---- assigners -----------------------------------------------------------------------------------

class WindowAssigner(ABC, Generic[T, W]):
    """Assigns elements to windows. Only the built-in assigners below run (in the engine)."""

    def is_event_time(self) -> bool:
        raise NotImplementedError

    def _spec(self):
        raise TypeError("window: %r is not one of Weir's built-in window assigners; accepted: %s"
                        % (self, _ASSIGNER_NAMES))


class MergingWindowAssigner(WindowAssigner[T, W]):
    pass


def _time_arg(v, what):
    return _millis(v, what)


class TumblingEventTimeWindows(WindowAssigner[T, TimeWindow]):
    """Fixed-size, non-overlapping windows of event time."""

    _event_time = True

    def __init__(self, size: int, offset: int):
        if size <= 0:
            raise ValueError("%s.of: the size must be positive, got %d ms" % (type(self).__name__, size))
        if abs(offset) >= size:
            raise ValueError("%s.of: |offset| must be below the size, got offset %d ms for size %d ms"
                             % (type(self).__name__, offset, size))
        self._size = size
        self._offset = offset

    @classmethod
    def of(cls, size: Time, offset: Time = None):
        name = cls.__name__ + ".of"
        return cls(_time_arg(size, name), 0 if offset is None else _time_arg(offset, name))

    def is_event_time(self) -> bool:
        return self._event_time

    def _spec(self):
        return ("tumbling", self._event_time, self._size, self._size, self._offset, 0, None)

    def __repr__(self):
        return "%s(%s, %s)" % (type(self).__name__, self._size, self._offset)


class TumblingProcessingTimeWindows(TumblingEventTimeWindows):
    """Fixed-size, non-overlapping windows of processing time."""

    _event_time = False


class SlidingEventTimeWindows(WindowAssigner[T, TimeWindow]):
    """Windows of ``size`` every ``slide`` of event time."""

    _event_time = True

    def __init__(self, size: int, slide: int, offset: int):
        if size <= 0 or slide <= 0:
            raise ValueError("%s.of: size and slide must be positive, got size %d ms and slide %d ms"
                             % (type(self).__name__, size, slide))
        if abs(offset) >= slide:
            raise ValueError("%s.of: |offset| must be below the slide, got offset %d ms for slide %d ms"
                             % (type(self).__name__, offset, slide))
        self._size = size
        self._slide = slide
        self._offset = offset

    @classmethod
    def of(cls, size: Time, slide: Time, offset: Time = None):
        name = cls.__name__ + ".of"
        return cls(_time_arg(size, name), _time_arg(slide, name), 0 if offset is None else _time_arg(offset, name))

    def is_event_time(self) -> bool:
        return self._event_time

    def _spec(self):
        return ("sliding", self._event_time, self._size, self._slide, self._offset, 0, None)

    def __repr__(self):
        return "%s(%s, %s, %s)" % (type(self).__name__, self._size, self._slide, self._offset)


class SlidingProcessingTimeWindows(SlidingEventTimeWindows):
    _event_time = False


class SessionWindowTimeGapExtractor(ABC):
    """The gap of the session an element opens: ``extract(element)`` returns milliseconds."""

    def extract(self, element: Any) -> int:
        pass


def _extractor(extractor, what):
    if isinstance(extractor, SessionWindowTimeGapExtractor):
        return extractor.extract
    if callable(extractor):
        return extractor
    raise TypeError("%s: expected a SessionWindowTimeGapExtractor, not %r" % (what, extractor))


class EventTimeSessionWindows(MergingWindowAssigner[T, TimeWindow]):
    """A window per burst of elements, closed by ``gap`` of event time without elements."""

    _event_time = True

    def __init__(self, session_gap: int):
        if session_gap <= 0:
            raise ValueError("%s.with_gap: the gap must be positive, got %d ms" % (type(self).__name__, session_gap))
        self._session_gap = session_gap

    @classmethod
    def with_gap(cls, size: Time):
        return cls(_time_arg(size, cls.__name__ + ".with_gap"))

    @staticmethod
    def with_dynamic_gap(extractor: SessionWindowTimeGapExtractor) -> 'DynamicEventTimeSessionWindows':
        return DynamicEventTimeSessionWindows(extractor)

    def is_event_time(self) -> bool:
        return self._event_time

    def _spec(self):
        return ("session", self._event_time, 0, 0, 0, self._session_gap, None)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, self._session_gap)


class ProcessingTimeSessionWindows(EventTimeSessionWindows):
    _event_time = False

    @staticmethod
    def with_dynamic_gap(extractor: SessionWindowTimeGapExtractor) -> 'DynamicProcessingTimeSessionWindows':
        return DynamicProcessingTimeSessionWindows(extractor)


class DynamicEventTimeSessionWindows(MergingWindowAssigner[T, TimeWindow]):
    """Session windows whose gap an extractor computes per element."""

    _event_time = True

    def __init__(self, session_window_time_gap_extractor: SessionWindowTimeGapExtractor):
        self._extract = _extractor(session_window_time_gap_extractor, type(self).__name__ + ".with_dynamic_gap")

    @classmethod
    def with_dynamic_gap(cls, extractor: SessionWindowTimeGapExtractor):
        return cls(extractor)

    def is_event_time(self) -> bool:
        return self._event_time

    def _spec(self):
        return ("session", self._event_time, 0, 0, 0, 0, self._extract)

    def __repr__(self):
        return "%s()" % type(self).__name__


class DynamicProcessingTimeSessionWindows(DynamicEventTimeSessionWindows):
    _event_time = False


class GlobalWindows(WindowAssigner[T, GlobalWindow]):
    """One window for all elements of a key; fires only with a trigger."""

    @staticmethod
    def create() -> 'GlobalWindows':
        return GlobalWindows()

    def is_event_time(self) -> bool:
        return False

    def _spec(self):
        return ("global", False, 0, 0, 0, 0, None)

    def __repr__(self):
        return "GlobalWindows()"


class CountTumblingWindowAssigner(WindowAssigner[T, CountWindow]):
    """Windows of ``window_size`` elements of a key (what ``count_window(size)`` uses)."""

    def __init__(self, window_size: int):
        _check_count(window_size, "CountTumblingWindowAssigner.of")
        self._window_size = window_size

    @staticmethod
    def of(window_size: int) -> 'CountTumblingWindowAssigner':
        return CountTumblingWindowAssigner(window_size)

    def is_event_time(self) -> bool:
        return False

    def _spec(self):
        return ("global", False, 0, 0, 0, 0, None)

    def _count(self):
        # (default trigger, evictor count)
        return ("purging", ("count", self._window_size)), 0

    def __repr__(self):
        return "CountTumblingWindowAssigner(%s)" % self._window_size


class CountSlidingWindowAssigner(WindowAssigner[T, CountWindow]):
    """Windows of ``window_size`` elements starting every ``window_slide`` elements of a key; a
    window fires once, when it is full (as PyFlink's)."""

    def __init__(self, window_size: int, window_slide: int):
        _check_count(window_size, "CountSlidingWindowAssigner.of")
        _check_count(window_slide, "CountSlidingWindowAssigner.of")
        self._window_size = window_size
        self._window_slide = window_slide

    @staticmethod
    def of(window_size: int, window_slide: int) -> 'CountSlidingWindowAssigner':
        return CountSlidingWindowAssigner(window_size, window_slide)

    def is_event_time(self) -> bool:
        return False

    def _spec(self):
        return ("global", False, 0, 0, 0, 0, None)

    def _count(self):
        return ("count_slide", self._window_size, self._window_slide), self._window_size

    def __repr__(self):
        return "CountSlidingWindowAssigner(%s, %s)" % (self._window_size, self._window_slide)


# data_stream.py's count_window / count_window_all name it so.
CountWindowAssigner = CountTumblingWindowAssigner

_ASSIGNER_NAMES = ("TumblingEventTimeWindows, TumblingProcessingTimeWindows, SlidingEventTimeWindows, "
                   "SlidingProcessingTimeWindows, EventTimeSessionWindows, ProcessingTimeSessionWindows, "
                   "DynamicEventTimeSessionWindows, DynamicProcessingTimeSessionWindows, GlobalWindows, "
                   "CountTumblingWindowAssigner, CountSlidingWindowAssigner")


# ---- the window function's context ---------------------------------------------------------------

def _window_state(self):
    raise NotImplementedError(
        "window_state: per-window state is not supported by Weir's engine; keep per-key state with "
        "runtime_context.get_state(...) in open(), or use aggregate() for incremental per-window values")


def _global_state(self):
    raise NotImplementedError(
        "global_state: take per-key state handles in open(runtime_context) (runtime_context.get_state(...)) "
        "and use them in process(); they are the key's global state")


_weir.WindowContext.window_state = _window_state
_weir.WindowContext.global_state = _global_state


# ---- windowed streams ----------------------------------------------------------------------------

class WindowedStream(object):
    """A keyed stream cut into windows (``key_by(...).window(assigner)``), finished by
    ``reduce``, ``aggregate``, ``apply`` or ``process``."""

    _all = False

    def __init__(self, keyed_stream, window_assigner: WindowAssigner):
        if not isinstance(window_assigner, WindowAssigner):
            raise TypeError("window: expected a WindowAssigner (%s), not %r" % (_ASSIGNER_NAMES, window_assigner))
        self._stream = keyed_stream
        self._assigner = window_assigner
        self._trigger = None
        self._lateness = 0
        self._late_tag = None

    def get_execution_environment(self):
        return self._stream._env

    def get_input_type(self):
        return self._stream.get_type()

    def trigger(self, trigger: Trigger):
        if not isinstance(trigger, Trigger):
            raise TypeError("trigger: expected a Trigger (%s), not %r" % (_TRIGGER_NAMES, trigger))
        trigger._spec()  # raises for triggers the engine does not have
        self._trigger = trigger
        return self

    def allowed_lateness(self, time_ms: int):
        if isinstance(time_ms, (Time, Duration)):
            time_ms = time_ms.to_milliseconds()
        if not isinstance(time_ms, int) or isinstance(time_ms, bool) or time_ms < 0:
            raise ValueError("allowed_lateness: expected a non-negative int of milliseconds, not %r" % (time_ms,))
        if time_ms > 0 and not self._assigner.is_event_time():
            raise ValueError("allowed_lateness: only event-time windows have lateness (the assigner is %r)"
                             % (self._assigner,))
        self._lateness = time_ms
        return self

    def side_output_late_data(self, output_tag: OutputTag):
        if not isinstance(output_tag, OutputTag):
            raise TypeError("side_output_late_data: expected an OutputTag, not %r" % (output_tag,))
        self._late_tag = output_tag
        return self

    # ---- window functions ------------------------------------------------------------------------

    def _window_fn(self, f, what):
        """(object, method) of a window function for this kind of windowed stream."""
        if f is None:
            return None, ""
        if self._all:
            if isinstance(f, ProcessAllWindowFunction):
                return f, "process"
            if isinstance(f, AllWindowFunction):
                return f, "apply"
            if isinstance(f, (ProcessWindowFunction, WindowFunction)):
                raise TypeError("%s: window_all() needs an AllWindowFunction or a ProcessAllWindowFunction, not a %s"
                                % (what, type(f).__name__))
            raise TypeError("%s: expected an AllWindowFunction or a ProcessAllWindowFunction, not %r" % (what, f))
        if isinstance(f, ProcessWindowFunction):
            return f, "process"
        if isinstance(f, WindowFunction):
            return f, "apply"
        if isinstance(f, (ProcessAllWindowFunction, AllWindowFunction)):
            raise TypeError("%s: a keyed window needs a WindowFunction or a ProcessWindowFunction, not a %s "
                            "(those are for window_all())" % (what, type(f).__name__))
        raise TypeError("%s: expected a WindowFunction or a ProcessWindowFunction, not %r" % (what, f))

    def _build(self, kind, fn, wfn, method, output_type):
        spec = self._assigner._spec()
        trigger = self._trigger._spec() if self._trigger is not None else None
        evict = 0
        count_ids = False
        if hasattr(self._assigner, "_count"):
            default_trigger, evict = self._assigner._count()
            if trigger is None:
                trigger = default_trigger
            count_ids = True
        has_clear = False
        if wfn is not None and method == "process":
            base = ProcessAllWindowFunction if self._all else ProcessWindowFunction
            has_clear = getattr(type(wfn), "clear", None) is not getattr(base, "clear")
        if self._all:
            j = _weir.window(self._stream._j, None, spec, trigger, self._lateness,
                             self._late_tag.tag_id if self._late_tag else "", kind, fn, wfn, method,
                             has_clear, count_ids, evict)
        else:
            j = _weir.window(None, self._stream._j, spec, trigger, self._lateness,
                             self._late_tag.tag_id if self._late_tag else "", kind, fn, wfn, method,
                             has_clear, count_ids, evict)
        from weir.datastream.data_stream import DataStream
        return DataStream(j, self._stream._env, output_type)

    def reduce(self, reduce_function, window_function=None, output_type=None):
        if isinstance(reduce_function, ReduceFunction):
            fn = reduce_function.reduce
        elif callable(reduce_function):
            fn = reduce_function
        else:
            raise TypeError("reduce: expected a ReduceFunction or a callable, not %r" % (reduce_function,))
        wfn, method = self._window_fn(window_function, "reduce")
        out = _check_type_info(output_type, "reduce")
        if out is None and wfn is None:
            out = self._stream._type
        return self._build("reduce", fn, wfn, method, out)

    def aggregate(self, aggregate_function, window_function=None, accumulator_type=None, output_type=None):
        if not isinstance(aggregate_function, AggregateFunction):
            for m in ("create_accumulator", "add", "get_result", "merge"):
                if not callable(getattr(aggregate_function, m, None)):
                    raise TypeError("aggregate: expected an AggregateFunction (create_accumulator, add, "
                                    "get_result, merge), not %r" % (aggregate_function,))
        _check_type_info(accumulator_type, "aggregate")
        wfn, method = self._window_fn(window_function, "aggregate")
        return self._build("aggregate", aggregate_function, wfn, method, _check_type_info(output_type, "aggregate"))

    def apply(self, window_function, output_type=None):
        wfn, method = self._window_fn(window_function, "apply")
        if wfn is None or method != "apply":
            raise TypeError("apply: expected a%s, not %r"
                            % (("n AllWindowFunction" if self._all else " WindowFunction"), window_function))
        return self._build("process", None, wfn, method, _check_type_info(output_type, "apply"))

    def process(self, process_window_function, output_type=None):
        wfn, method = self._window_fn(process_window_function, "process")
        if wfn is None or method != "process":
            raise TypeError("process: expected a %s, not %r"
                            % (("ProcessAllWindowFunction" if self._all else "ProcessWindowFunction"),
                               process_window_function))
        return self._build("process", None, wfn, method, _check_type_info(output_type, "process"))


class AllWindowedStream(WindowedStream):
    """A (not keyed) stream cut into windows (``window_all(assigner)``); the window operator runs
    with parallelism 1, as in Flink."""

    _all = True

    def __init__(self, data_stream, window_assigner: WindowAssigner):
        from weir.datastream.data_stream import _plain
        super(AllWindowedStream, self).__init__(_plain(data_stream), window_assigner)
