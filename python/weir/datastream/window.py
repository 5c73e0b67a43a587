"""Windows (PyFlink's ``pyflink.datastream.window``)."""
__all__ = []


class WindowedStream(object):
    def __init__(self, keyed_stream, window_assigner):
        raise NotImplementedError("windows are not in Weir's Python API yet")


class AllWindowedStream(WindowedStream):
    pass


class CountWindowAssigner(object):
    @staticmethod
    def of(size):
        raise NotImplementedError


class CountSlidingWindowAssigner(CountWindowAssigner):
    pass
