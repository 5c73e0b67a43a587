"""PyFlink's ``pyflink.datastream.connectors.number_seq``: NumberSequenceSource."""
from weir.datastream.connectors.base import Source

__all__ = ["NumberSequenceSource"]


class NumberSequenceSource(Source):
    """The ints ``start`` to ``end`` (both included), split among the source's subtasks;
    replayable (positions are in checkpoints)."""

    def __init__(self, start, end):
        for name, v in (("start", start), ("end", end)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("NumberSequenceSource: %s must be an int, not %r" % (name, v))
        if end < start:
            raise ValueError("NumberSequenceSource: end (%d) must not be below start (%d)" % (end, start))
        self._start = start
        self._end = end

    def _weir_source(self, env, watermark_strategy, source_name):
        from weir.common.typeinfo import Types
        from weir.datastream.data_stream import DataStream
        stream = DataStream(env._j.from_sequence(self._start, self._end), env, Types.LONG())
        stream.name(str(source_name))
        # The numbers carry no timestamps: only a strategy with a timestamp assigner has
        # anything to do.
        kind, _bound, _idle, assigner = watermark_strategy._args()
        if kind != "none" and assigner is not None:
            stream = stream.assign_timestamps_and_watermarks(watermark_strategy)
        return stream
