"""Complex event processing: Flink CEP's pattern API for Python streams (PyFlink-style names).

    from weir.cep import CEP, Pattern, AfterMatchSkipStrategy
    from weir.common.time import Time

    p = (Pattern.begin("fails", AfterMatchSkipStrategy.skip_past_last_event())
         .where(lambda e: not e["ok"]).times(3).consecutive()
         .next("success").where(lambda e: e["ok"])
         .within(Time.minutes(1)))
    alerts = CEP.pattern(logins.key_by(lambda e: e["user"]), p).select(lambda m: m["success"][0]["user"])

The matcher is the engine's (weir::cep, see docs/cep.md): same semantics, state and
checkpoints. A condition is a callable ``f(value)`` or, iterative, ``f(value, ctx)`` with
``ctx.get_events_for_pattern(name)`` (a list of the events the partial match took for
``name``); a SimpleCondition / IterativeCondition subclass (``filter``) works too.
"""
import datetime
import inspect

from weir import _weir
from weir.datastream.output_tag import OutputTag

__all__ = ["AfterMatchSkipStrategy", "CEP", "Context", "IterativeCondition", "Pattern", "PatternStream",
           "SimpleCondition"]

Context = _weir.CepContext


class SimpleCondition(object):
    """A condition on the event alone: override ``filter(value)``."""

    def filter(self, value):
        raise NotImplementedError


class IterativeCondition(object):
    """A condition that also sees the partial match: override ``filter(value, ctx)``."""

    def filter(self, value, ctx):
        raise NotImplementedError


def _condition(c, what):
    if isinstance(c, IterativeCondition):
        return c.filter, True
    if isinstance(c, SimpleCondition):
        return c.filter, False
    if not callable(c):
        raise TypeError("%s: expected a callable or a SimpleCondition / IterativeCondition, not %r" % (what, c))
    try:
        params = [p for p in inspect.signature(c).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
        iterative = len(params) >= 2
    except (TypeError, ValueError):
        iterative = False
    return c, iterative


def _millis(t, what):
    if isinstance(t, datetime.timedelta):
        return int(t.total_seconds() * 1000)
    if hasattr(t, "to_milliseconds"):
        return int(t.to_milliseconds())
    if isinstance(t, int) and not isinstance(t, bool):
        return t
    raise TypeError("%s: expected a Time, a timedelta or milliseconds, not %r" % (what, t))


class AfterMatchSkipStrategy(object):
    """What happens to the other partial matches after a match (Flink's AfterMatchSkipStrategy)."""

    def __init__(self, kind, name="", throw=False):
        self._kind, self._name, self._throw = kind, name, throw

    @staticmethod
    def no_skip():
        return AfterMatchSkipStrategy("no_skip")

    @staticmethod
    def skip_to_next():
        return AfterMatchSkipStrategy("skip_to_next")

    @staticmethod
    def skip_past_last_event():
        return AfterMatchSkipStrategy("skip_past_last_event")

    @staticmethod
    def skip_to_first(pattern_name):
        return AfterMatchSkipStrategy("skip_to_first", pattern_name)

    @staticmethod
    def skip_to_last(pattern_name):
        return AfterMatchSkipStrategy("skip_to_last", pattern_name)

    def throw_exception_on_miss(self):
        return AfterMatchSkipStrategy(self._kind, self._name, True)

    def __repr__(self):
        return "AfterMatchSkipStrategy.%s(%s)" % (self._kind, repr(self._name) if self._name else "")


class Pattern(object):
    """A pattern of events: a value; every method returns the extended pattern."""

    def __init__(self, j):
        self._j = j

    @staticmethod
    def begin(name_or_pattern, after_match_skip_strategy=None):
        s = after_match_skip_strategy or AfterMatchSkipStrategy.no_skip()
        if not isinstance(s, AfterMatchSkipStrategy):
            raise TypeError("begin: expected an AfterMatchSkipStrategy, not %r" % (s,))
        if isinstance(name_or_pattern, Pattern):
            return Pattern(_weir.CepPattern.begin_group(name_or_pattern._j, s._kind, s._name, s._throw))
        return Pattern(_weir.CepPattern.begin(_name(name_or_pattern), s._kind, s._name, s._throw))

    def next(self, name_or_pattern):
        if isinstance(name_or_pattern, Pattern):
            return Pattern(self._j.next_group(name_or_pattern._j))
        return Pattern(self._j.next(_name(name_or_pattern)))

    def followed_by(self, name_or_pattern):
        if isinstance(name_or_pattern, Pattern):
            return Pattern(self._j.followed_by_group(name_or_pattern._j))
        return Pattern(self._j.followed_by(_name(name_or_pattern)))

    def followed_by_any(self, name_or_pattern):
        if isinstance(name_or_pattern, Pattern):
            return Pattern(self._j.followed_by_any_group(name_or_pattern._j))
        return Pattern(self._j.followed_by_any(_name(name_or_pattern)))

    def not_next(self, name):
        return Pattern(self._j.not_next(_name(name)))

    def not_followed_by(self, name):
        return Pattern(self._j.not_followed_by(_name(name)))

    def where(self, condition):
        return Pattern(self._j.where(*_condition(condition, "where")))

    def or_(self, condition):
        return Pattern(self._j.or_(*_condition(condition, "or_")))

    def until(self, condition):
        return Pattern(self._j.until(*_condition(condition, "until")))

    def times(self, from_times, to_times=None):
        return Pattern(self._j.times(from_times, from_times if to_times is None else to_times))

    def times_or_more(self, times):
        return Pattern(self._j.times_or_more(times))

    def one_or_more(self):
        return Pattern(self._j.times_or_more(1))

    def optional(self):
        return Pattern(self._j.optional())

    def greedy(self):
        return Pattern(self._j.greedy())

    def consecutive(self):
        return Pattern(self._j.consecutive())

    def allow_combinations(self):
        return Pattern(self._j.allow_combinations())

    def within(self, window_time):
        return Pattern(self._j.within(_millis(window_time, "within")))

    def get_name(self):
        return self._j.get_name()

    def get_window_time(self):
        ms = self._j.get_window_ms()
        return ms or None


def _name(n):
    if not isinstance(n, str) or not n:
        raise TypeError("a pattern step needs a non-empty name, not %r" % (n,))
    return n


class PatternStream(object):
    """A pattern applied to a stream; finish it with ``select``, ``flat_select`` or ``process``."""

    def __init__(self, stream, pattern, processing_time=False, late_tag=None):
        self._stream, self._pattern = stream, pattern
        self._processing_time, self._late_tag = processing_time, late_tag

    def in_processing_time(self):
        return PatternStream(self._stream, self._pattern, True, self._late_tag)

    def in_event_time(self):
        return PatternStream(self._stream, self._pattern, False, self._late_tag)

    def side_output_late_data(self, output_tag):
        if not isinstance(output_tag, OutputTag):
            raise TypeError("side_output_late_data: expected an OutputTag, not %r" % (output_tag,))
        return PatternStream(self._stream, self._pattern, self._processing_time, output_tag)

    def select(self, *args):
        """``select(fn)`` with ``fn(match) -> value`` (match: {name: [events]}), or
        ``select(timeout_tag, timeout_fn, fn)`` with ``timeout_fn(match, timeout_timestamp)`` to
        the side output ``timeout_tag``."""
        return self._build(args, "select", False)

    def flat_select(self, *args):
        """As ``select``, the functions returning (or yielding) any number of values."""
        return self._build(args, "flat_select", True)

    def process(self, fn, timeout_fn=None):
        """``fn(match, ctx)`` returns or yields values, ``(OutputTag, value)`` to a side output;
        ``ctx.timestamp()``, ``ctx.current_processing_time()``. ``timeout_fn(match,
        timeout_timestamp, ctx)`` yields ``(OutputTag, value)`` for timed-out partial matches."""
        from weir.datastream.data_stream import DataStream, KeyedStream
        fn = getattr(fn, "process_match", fn)
        if timeout_fn is not None:
            timeout_fn = getattr(timeout_fn, "process_timed_out_match", timeout_fn)
        if not callable(fn) or (timeout_fn is not None and not callable(timeout_fn)):
            raise TypeError("process: the functions must be callable")
        s = self._stream
        keyed = isinstance(s, KeyedStream)
        j = _weir.cep_select(None if keyed else s._j, s._j if keyed else None, self._pattern._j,
                             self._processing_time, self._late_tag.tag_id if self._late_tag else "", "", fn,
                             timeout_fn, False, True)
        return DataStream(j, s._env)

    def _build(self, args, what, flat):
        from weir.datastream.data_stream import DataStream, KeyedStream
        if len(args) == 1:
            tag, timeout_fn, fn = None, None, args[0]
        elif len(args) == 3:
            tag, timeout_fn, fn = args
            if not isinstance(tag, OutputTag):
                raise TypeError("%s: expected an OutputTag first, not %r" % (what, tag))
            if not callable(timeout_fn):
                raise TypeError("%s: the timeout function must be callable" % what)
        else:
            raise TypeError("%s: expected (fn) or (timeout_tag, timeout_fn, fn)" % what)
        fn = getattr(fn, what, fn)
        if timeout_fn is not None:
            timeout_fn = getattr(timeout_fn, "timeout", timeout_fn)
        if not callable(fn):
            raise TypeError("%s: the function must be callable" % what)
        s = self._stream
        keyed = isinstance(s, KeyedStream)
        j = _weir.cep_select(None if keyed else s._j, s._j if keyed else None, self._pattern._j,
                             self._processing_time, self._late_tag.tag_id if self._late_tag else "",
                             tag.tag_id if tag else "", fn, timeout_fn, flat)
        return DataStream(j, s._env)


class CEP(object):
    """Applies patterns to streams."""

    @staticmethod
    def pattern(stream, pattern):
        from weir.datastream.data_stream import DataStream
        if not isinstance(pattern, Pattern):
            raise TypeError("CEP.pattern: expected a Pattern, not %r" % (pattern,))
        if not isinstance(stream, DataStream):
            raise TypeError("CEP.pattern: expected a DataStream or KeyedStream, not %r" % (stream,))
        pattern._j.check()
        return PatternStream(stream, pattern)
