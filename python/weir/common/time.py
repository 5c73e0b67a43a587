"""Durations and times (PyFlink's ``Duration``, ``Time``, ``Instant``), in milliseconds."""


class _Span(object):
    """A number of milliseconds; spans of the same class and length are equal."""

    def __init__(self, millis):
        self._millis = int(millis)

    def to_milliseconds(self):
        return self._millis

    def __eq__(self, other):
        return type(other) is type(self) and self._millis == other._millis

    def __hash__(self):
        return hash(self._millis)

    def __repr__(self):
        return "%s(%d ms)" % (type(self).__name__, self._millis)


class Duration(_Span):
    @staticmethod
    def of_millis(millis):
        return Duration(millis)

    @staticmethod
    def of_seconds(seconds):
        return Duration(seconds * 1000)

    @staticmethod
    def of_minutes(minutes):
        return Duration(minutes * 60000)

    @staticmethod
    def of_hours(hours):
        return Duration(hours * 3600000)

    @staticmethod
    def of_days(days):
        return Duration(days * 86400000)

    @staticmethod
    def of_nanos(nanos):
        return Duration(nanos // 1000000)

    @staticmethod
    def zero():
        return Duration(0)


class Time(_Span):
    """A span of time for windows, triggers and state TTL (PyFlink's ``Time``)."""

    @staticmethod
    def milliseconds(n):
        return Time(n)

    @staticmethod
    def seconds(n):
        return Time(n * 1000)

    @staticmethod
    def minutes(n):
        return Time(n * 60000)

    @staticmethod
    def hours(n):
        return Time(n * 3600000)

    @staticmethod
    def days(n):
        return Time(n * 86400000)


class Instant(object):
    def __init__(self, seconds, nanos):
        self.seconds = seconds
        self.nanos = nanos

    @staticmethod
    def of_epoch_milli(millis):
        return Instant(millis // 1000, (millis % 1000) * 1000000)

    def to_epoch_milli(self):
        return self.seconds * 1000 + self.nanos // 1000000

    def __eq__(self, other):
        return isinstance(other, Instant) and (self.seconds, self.nanos) == (other.seconds, other.nanos)

    def __repr__(self):
        return "Instant<%d, %d>" % (self.seconds, self.nanos)


def _millis(value, what, kinds=(Time, Duration)):
    """Milliseconds of a Time or Duration (an int is taken as milliseconds)."""
    if isinstance(value, (Time, Duration)) and isinstance(value, kinds):
        return value.to_milliseconds()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    names = " or ".join(k.__name__ for k in kinds)
    raise TypeError("%s: expected a %s (e.g. %s.seconds(5)), not %r" % (
        what, names, kinds[0].__name__, value))
