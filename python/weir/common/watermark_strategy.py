"""WatermarkStrategy and TimestampAssigner (PyFlink's ``pyflink.common.watermark_strategy``)."""
from weir.common.time import Duration, _millis


class TimestampAssigner(object):
    """Gives each record its event time: override ``extract_timestamp``."""

    def extract_timestamp(self, value, record_timestamp):
        raise NotImplementedError("TimestampAssigner.extract_timestamp")


class WatermarkStrategy(object):
    """How a stream's records get timestamps and its watermarks advance."""

    def __init__(self, kind, bound_ms=0):
        self._kind = kind
        self._bound_ms = bound_ms
        self._idle_ms = 0
        self._assigner = None
        self._alignment = None

    @staticmethod
    def for_monotonous_timestamps():
        return WatermarkStrategy("bounded", 0)

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness):
        ms = _millis(max_out_of_orderness, "for_bounded_out_of_orderness", (Duration,))
        if ms < 0:
            raise ValueError("for_bounded_out_of_orderness: the bound must not be negative")
        return WatermarkStrategy("bounded", ms)

    @staticmethod
    def no_watermarks():
        return WatermarkStrategy("none")

    def with_timestamp_assigner(self, timestamp_assigner):
        s = self._copy()
        if isinstance(timestamp_assigner, TimestampAssigner):
            s._assigner = timestamp_assigner.extract_timestamp
        elif callable(timestamp_assigner):
            s._assigner = timestamp_assigner
        else:
            raise TypeError("with_timestamp_assigner: expected a TimestampAssigner, not %r" % (timestamp_assigner,))
        return s

    def with_idleness(self, idle_timeout):
        ms = _millis(idle_timeout, "with_idleness", (Duration,))
        if ms <= 0:
            raise ValueError("with_idleness: the timeout must be positive")
        s = self._copy()
        s._idle_ms = ms
        return s

    def with_watermark_alignment(self, watermark_group, max_allowed_watermark_drift,
                                 update_interval=None):
        s = self._copy()
        s._alignment = (watermark_group, max_allowed_watermark_drift, update_interval)
        return s

    def _copy(self):
        s = WatermarkStrategy(self._kind, self._bound_ms)
        s._idle_ms = self._idle_ms
        s._assigner = self._assigner
        s._alignment = self._alignment
        return s

    def _args(self):
        return self._kind, self._bound_ms, self._idle_ms, self._assigner
