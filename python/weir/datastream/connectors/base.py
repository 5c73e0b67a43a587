"""PyFlink's ``pyflink.datastream.connectors.base``: Source, Sink, DeliveryGuarantee; and Weir's
bad-record policies of sources (``BadRecordPolicy``, ``BadRecord``)."""
from enum import Enum

from weir.datastream.output_tag import OutputTag


class Source(object):
    """A source for ``env.from_source(source, watermark_strategy, source_name)``."""

    def _weir_source(self, env, watermark_strategy, source_name):
        raise NotImplementedError


class Sink(object):
    """A sink for ``stream.sink_to(sink)``."""

    def _weir_sink(self, stream):
        raise NotImplementedError


class DeliveryGuarantee(Enum):
    """What a sink promises after a failure: EXACTLY_ONCE (transactions committed with
    checkpoints), AT_LEAST_ONCE (written again after a restore), NONE."""
    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1
    NONE = 2

    def _name(self):
        return {0: "exactly_once", 1: "at_least_once", 2: "none"}[self.value]


class StreamTransformer(object):
    def apply(self, ds):
        raise NotImplementedError


class SupportsPreprocessing(object):
    def get_transformer(self):
        return None


class BadRecord(object):
    """A record a source could not read, as ``BadRecordPolicy.dead_letter`` sends it to the side
    output: its original ``bytes``, its ``origin`` (e.g. "topic 'in' partition 0 offset 17")
    and the ``error``."""
    __slots__ = ("bytes", "origin", "error")

    def __init__(self, bytes, origin, error):
        self.bytes = bytes
        self.origin = origin
        self.error = error

    def __eq__(self, other):
        return isinstance(other, BadRecord) and (self.bytes, self.origin, self.error) == (
            other.bytes, other.origin, other.error)

    def __hash__(self):
        return hash((self.bytes, self.origin, self.error))

    def __repr__(self):
        return "BadRecord(bytes=%r, origin=%r, error=%r)" % (self.bytes, self.origin, self.error)

    def __reduce__(self):
        return (BadRecord, (self.bytes, self.origin, self.error))


class BadRecordPolicy(object):
    """What a source does with a record it cannot read (Weir's extension):
    ``fail()`` (the default: the job fails naming the record's origin and the error),
    ``skip()`` (dropped and counted in the metric ``bad_records_skipped``),
    ``dead_letter(output_tag)`` (sent as a ``BadRecord`` to the side output ``output_tag`` of
    the source's stream: ``stream.get_side_output(output_tag)``; counted in
    ``bad_records_dead_lettered``)."""

    def __init__(self, kind, tag=None):
        self._kind = kind
        self._tag = tag

    @staticmethod
    def fail():
        return BadRecordPolicy("fail")

    @staticmethod
    def skip():
        return BadRecordPolicy("skip")

    @staticmethod
    def dead_letter(output_tag=None):
        if output_tag is None:
            output_tag = OutputTag("bad-records")
        if not isinstance(output_tag, OutputTag):
            raise TypeError("BadRecordPolicy.dead_letter: expected an OutputTag, not %r" % (output_tag,))
        return BadRecordPolicy("dead_letter", output_tag)

    def get_output_tag(self):
        return self._tag

    def __repr__(self):
        if self._kind == "dead_letter":
            return "BadRecordPolicy.dead_letter(%r)" % self._tag.tag_id
        return "BadRecordPolicy.%s()" % self._kind

    def _args(self):
        return self._kind, (self._tag.tag_id if self._tag is not None else "")


def _check_policy(policy, what):
    if not isinstance(policy, BadRecordPolicy):
        raise TypeError("%s: expected BadRecordPolicy.fail(), .skip() or .dead_letter(tag), not %r" % (what, policy))
    return policy


def _check_max_bytes(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError("%s: expected a positive number of bytes, not %r" % (what, n))
    return n


def _strategy_args(config, watermark_strategy):
    """The engine's source-side watermark arguments (a Python timestamp assigner runs on the
    Python values after the conversion: see ``_finish_stream``)."""
    kind, bound_ms, idle_ms, assigner = watermark_strategy._args()
    if assigner is None:
        config.update(wm_kind=kind, wm_bound_ms=int(bound_ms), wm_idle_ms=int(idle_ms))
    else:
        config.update(wm_kind="none", wm_bound_ms=0, wm_idle_ms=0)
    return assigner


def _finish_stream(env, result, watermark_strategy, assigner, policy, type_info=None):
    """The Python stream of a source from the engine's (values, dead letters) pair."""
    from weir.datastream.data_stream import DataStream
    values, letters = result
    if assigner is not None:
        stream = DataStream(values, env, type_info).assign_timestamps_and_watermarks(watermark_strategy)
    else:
        stream = DataStream(values, env, type_info)
    if letters is not None:
        bad = DataStream(letters, env, None).map(lambda t: BadRecord(t[0], t[1], t[2]))
        return _SourceStream(stream, {policy._tag.tag_id: bad})
    return stream


def _SourceStream(stream, side_outputs):
    """``stream`` whose ``get_side_output(tag)`` also gives the source's dead letters."""
    from weir.datastream.data_stream import DataStream

    class SourceDataStream(DataStream):
        def get_side_output(self, output_tag):
            if isinstance(output_tag, OutputTag) and output_tag.tag_id in side_outputs:
                return side_outputs[output_tag.tag_id]
            return DataStream.get_side_output(self, output_tag)

    s = SourceDataStream.__new__(SourceDataStream)
    s.__dict__.update(stream.__dict__)
    return s
