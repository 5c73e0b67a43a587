"""DataStream, KeyedStream, ConnectedStreams (PyFlink's ``pyflink.datastream.data_stream``).

Each method adds an operator to the engine's job graph; Python functions run on the engine's
task threads in this process, called directly with the records as Python objects."""
from typing import Callable, Union

from weir import _weir
from weir.common.typeinfo import PickledBytesTypeInfo, _check_type_info
from weir.common.types import Row
from weir.datastream.functions import (CoFlatMapFunction, CoMapFunction, FilterFunction, FlatMapFunction,
                                       Function, KeyedCoProcessFunction, KeyedProcessFunction, KeySelector,
                                       MapFunction, ProcessFunction, ReduceFunction, SinkFunction, TimeDomain,
                                       _fn)
from weir.datastream.output_tag import OutputTag


def _time_domain(self):
    d = self._time_domain()
    return None if d < 0 else TimeDomain(d)


_weir.Context.time_domain = _time_domain


class DataStream(object):
    """A stream of Python values."""

    def __init__(self, j, env, type_info=None):
        self._j = j
        self._env = env
        self._type = type_info

    # ---- properties ----------------------------------------------------------------------------

    def get_name(self):
        return self._j.get_name()

    def name(self, name: str):
        self._j.name(name)
        return self

    def uid(self, uid: str):
        self._j.uid(uid)
        return self

    def set_uid_hash(self, uid_hash: str):
        return self.uid(uid_hash)

    def set_description(self, description: str):
        return self

    def get_type(self):
        return self._type or PickledBytesTypeInfo()

    def get_execution_environment(self):
        return self._env

    def set_parallelism(self, parallelism: int):
        _check_int(parallelism, "set_parallelism", 1)
        self._j.set_parallelism(parallelism)
        return self

    def set_max_parallelism(self, max_parallelism: int):
        return self

    def force_non_parallel(self):
        return self.set_parallelism(1)

    def set_buffer_timeout(self, timeout_millis: int):
        self._j.set_buffer_timeout(timeout_millis)
        return self

    def start_new_chain(self):
        self._j.start_new_chain()
        return self

    def disable_chaining(self):
        self._j.disable_chaining()
        return self

    def slot_sharing_group(self, slot_sharing_group):
        return self

    # ---- transformations -----------------------------------------------------------------------

    def _wrap(self, j, type_info=None, what=None):
        """A new stream of `j`'s records; with an output type that reshapes values (rows, 32-bit
        floats), a chained conversion follows the operator (side outputs stay reachable)."""
        if what is not None:
            type_info = _check_type_info(type_info, what)
        conv = type_info._converter() if type_info is not None else None
        if conv is None:
            return DataStream(j, self._env, type_info)
        converted = j.map(conv, "")
        converted.name(j.get_name() + " (" + repr(type_info) + ")")
        out = DataStream(converted, self._env, type_info)
        out._side_j = j
        return out

    def _wrap_same(self, type_info, what):
        return self._wrap(self._j, type_info, what)

    def map(self, func: Union[Callable, MapFunction], output_type=None):
        target, method = _fn(func, MapFunction, "map", "map")
        return self._wrap(self._j.map(target, method), output_type, "map")

    def flat_map(self, func: Union[Callable, FlatMapFunction], output_type=None):
        target, method = _fn(func, FlatMapFunction, "flat_map", "flat_map")
        return self._wrap(self._j.flat_map(target, method), output_type, "flat_map")

    def filter(self, func: Union[Callable, FilterFunction]):
        target, method = _fn(func, FilterFunction, "filter", "filter")
        return self._wrap(self._j.filter(target, method), self._type)

    def process(self, func: ProcessFunction, output_type=None):
        if not isinstance(func, ProcessFunction):
            if isinstance(func, KeyedProcessFunction):
                raise TypeError("process: a KeyedProcessFunction needs a keyed stream; call key_by() first")
            raise TypeError("process: expected a ProcessFunction, not %r" % (func,))
        tags = set()
        return self._wrap(self._j.process(func, tags), output_type, "process")._asks(tags)

    def _asks(self, tags):
        self._requested_tags = tags
        return self

    def key_by(self, key_selector: Union[Callable, KeySelector], key_type=None):
        if isinstance(key_selector, KeySelector):
            fn = key_selector.get_key
        elif callable(key_selector):
            fn = key_selector
        else:
            raise TypeError("key_by: expected a KeySelector or a callable that returns the key, not %r"
                            % (key_selector,))
        return KeyedStream(self._j.key_by(fn), self, _check_type_info(key_type, "key_by"))

    def assign_timestamps_and_watermarks(self, watermark_strategy):
        from weir.common.watermark_strategy import WatermarkStrategy
        if not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError("assign_timestamps_and_watermarks: expected a WatermarkStrategy, not %r"
                            % (watermark_strategy,))
        return self._wrap(self._j.assign_timestamps_and_watermarks(*watermark_strategy._args()), self._type)

    def union(self, *streams):
        for s in streams:
            if not isinstance(s, DataStream):
                raise TypeError("union: expected DataStreams, not %r" % (s,))
        return self._wrap(self._j.union([_plain(s)._j for s in streams]), self._type)

    def connect(self, ds):
        if not isinstance(ds, DataStream):
            raise TypeError("connect: expected a DataStream, not %r" % (ds,))
        return ConnectedStreams(self, ds)

    def shuffle(self):
        return self._wrap(self._j.shuffle(), self._type)

    def rebalance(self):
        return self._wrap(self._j.rebalance(), self._type)

    def rescale(self):
        return self._wrap(self._j.rebalance(), self._type)

    def forward(self):
        return self._wrap(self._j.forward(), self._type)

    def global_(self):
        return self._wrap(self._j.global_(), self._type)

    def broadcast(self, *descriptors):
        if descriptors:
            raise NotImplementedError("broadcast(state descriptors): broadcast state is not in Weir's Python API yet; "
                                      "use broadcast() without descriptors")
        return self._wrap(self._j.broadcast(), self._type)

    def project(self, *field_indexes):
        def pick(v):
            return tuple(v[i] for i in field_indexes)
        return self.map(pick)

    def get_side_output(self, output_tag: OutputTag):
        if not isinstance(output_tag, OutputTag):
            raise TypeError("get_side_output: expected an OutputTag, not %r" % (output_tag,))
        j = getattr(self, "_side_j", None) or self._j
        requested = getattr(self, "_requested_tags", None)
        if requested is not None:
            requested.add(output_tag.tag_id)  # `yield tag, value` now goes to the side output
        return self._wrap(j.get_side_output(output_tag.tag_id), output_tag.type_info)

    def window_all(self, window_assigner):
        from weir.datastream.window import AllWindowedStream
        return AllWindowedStream(self, window_assigner)

    def count_window_all(self, size, slide=0):
        from weir.datastream.window import CountWindowAssigner, CountSlidingWindowAssigner
        a = CountWindowAssigner.of(size) if not slide else CountSlidingWindowAssigner.of(size, slide)
        return self.window_all(a)

    # ---- sinks ---------------------------------------------------------------------------------

    def add_sink(self, sink_func):
        """A Python callable or SinkFunction called for every record (Weir's extension: PyFlink
        wants a Java SinkFunction)."""
        if isinstance(sink_func, SinkFunction):
            return DataStreamSink(self._j.add_sink(sink_func, "invoke"), self._env)
        if hasattr(sink_func, "_weir_sink"):
            return sink_func._weir_sink(self)
        if callable(sink_func):
            return DataStreamSink(self._j.add_sink(sink_func, ""), self._env)
        raise TypeError("add_sink: expected a callable or a SinkFunction, not %r" % (sink_func,))

    def sink_to(self, sink):
        if not hasattr(sink, "_weir_sink"):
            raise TypeError("sink_to: expected a Sink such as KafkaSink or FileSink, not %r" % (sink,))
        return sink._weir_sink(self)

    def print(self, sink_identifier=None):
        fmt = self.get_type().format
        return DataStreamSink(self._j.print(fmt, sink_identifier or ""), self._env)

    def execute_and_collect(self, job_execution_name=None, limit=None):
        """Runs the environment's job and returns an iterator over this stream's records (a
        list of at most ``limit`` records when ``limit`` is given)."""
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError("execute_and_collect: limit must be a non-negative int")
        q = self._j.collect()
        client = self._env._j.execute_async(job_execution_name or "DataStream Collect")
        it = CloseableIterator(q, client)
        if limit is None:
            return it
        with it:
            out = []
            for v in it:
                if len(out) >= limit:
                    break
                out.append(v)
            return out

    def cache(self):
        return self


def _plain(s):
    return s._as_stream() if isinstance(s, KeyedStream) else s


def _check_int(v, what, minimum):
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ValueError("%s: expected an int of at least %d, not %r" % (what, minimum, v))


class CloseableIterator(object):
    """The records of ``execute_and_collect``, as they come; ``close()`` (or leaving a ``with``
    block) cancels the job if it still runs. A failed job raises when the iterator reaches it."""

    def __init__(self, queue, client):
        self._q = queue
        self._client = client
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise StopIteration
        while True:
            item = self._q.poll(100)
            if item is not None:
                return item[0]
            if self._client.done():
                item = self._q.poll(0)
                if item is not None:
                    return item[0]
                self._closed = True
                self._client.wait()  # raises the job's failure
                raise StopIteration

    def next(self):
        return self.__next__()

    def close(self):
        if not self._closed:
            self._closed = True
            if not self._client.done():
                self._client.cancel()
                try:
                    self._client.wait()
                except Exception:
                    pass  # canceled on purpose

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class DataStreamSink(object):
    def __init__(self, j, env):
        self._j = j
        self._env = env

    def name(self, name):
        self._j.name(name)
        return self

    def uid(self, uid):
        self._j.uid(uid)
        return self

    def set_uid_hash(self, uid_hash):
        return self.uid(uid_hash)

    def set_description(self, description):
        return self

    def set_parallelism(self, parallelism):
        _check_int(parallelism, "set_parallelism", 1)
        self._j.set_parallelism(parallelism)
        return self

    def disable_chaining(self):
        return self

    def slot_sharing_group(self, slot_sharing_group):
        return self

    def get_execution_environment(self):
        return self._env

    def execute(self, job_name=None):
        """Weir's extension: runs the environment this sink belongs to."""
        return self._env.execute(job_name)


# ---- keyed streams -----------------------------------------------------------------------------

class _KeyedMap(KeyedProcessFunction):
    """A map/flat_map/filter function on a keyed stream (it may use keyed state)."""

    def __init__(self, f, kind):
        self._f = f
        self._kind = kind

    def open(self, runtime_context):
        if isinstance(self._f, Function):
            self._f.open(runtime_context)
        if self._kind == "map":
            self._call = self._f.map if isinstance(self._f, MapFunction) else self._f
        elif self._kind == "flat_map":
            self._call = self._f.flat_map if isinstance(self._f, FlatMapFunction) else self._f
        else:
            self._call = self._f.filter if isinstance(self._f, FilterFunction) else self._f

    def close(self):
        if isinstance(self._f, Function):
            self._f.close()

    def process_element(self, value, ctx):
        if self._kind == "map":
            return (self._call(value),)
        if self._kind == "flat_map":
            return self._call(value)
        return (value,) if self._call(value) else None


class _BatchReduce(KeyedProcessFunction):
    """BATCH mode: one final value per key, when the input ends."""

    def __init__(self, reduce):
        self._reduce = reduce

    def open(self, runtime_context):
        from weir.datastream.state import ValueStateDescriptor
        if isinstance(self._reduce, Function):
            self._reduce.open(runtime_context)
            self._fn = self._reduce.reduce
        else:
            self._fn = self._reduce
        self._acc = runtime_context.get_state(ValueStateDescriptor("batch-reduce"))

    def process_element(self, value, ctx):
        acc = self._acc.value()
        self._acc.update(value if acc is None else self._fn(acc, value))
        ctx.timer_service().register_event_time_timer(_END_OF_TIME)

    def on_timer(self, timestamp, ctx):
        yield self._acc.value()
        self._acc.clear()


_END_OF_TIME = (1 << 63) - 1


class KeyedStream(DataStream):
    """A stream partitioned by key (``key_by``)."""

    def __init__(self, jk, origin, key_type=None):
        super().__init__(jk, origin._env, origin._type)
        self._origin = origin
        self._key_type = key_type

    def _as_stream(self):
        return DataStream(self._j.as_stream(), self._env, self._type)

    def map(self, func, output_type=None):
        _fn(func, MapFunction, "map", "map")
        return self.process(_KeyedMap(func, "map"), output_type)

    def flat_map(self, func, output_type=None):
        _fn(func, FlatMapFunction, "flat_map", "flat_map")
        return self.process(_KeyedMap(func, "flat_map"), output_type)

    def filter(self, func):
        _fn(func, FilterFunction, "filter", "filter")
        return self.process(_KeyedMap(func, "filter"), self._type)

    def reduce(self, func: Union[Callable, ReduceFunction]):
        target, method = _fn(func, ReduceFunction, "reduce", "reduce")
        if self._env._batch:
            return self.process(_BatchReduce(func), self._type)
        return self._wrap(self._j.reduce(target, method), self._type)

    def process(self, func, output_type=None):
        if isinstance(func, KeyedProcessFunction):
            tags = set()
            return self._wrap(self._j.process(func, tags), output_type, "process")._asks(tags)
        if isinstance(func, ProcessFunction):
            return self._as_stream().process(func, output_type)
        raise TypeError("process: expected a KeyedProcessFunction (or a ProcessFunction), not %r" % (func,))

    def _aggregate(self, position, kind):
        pick = _field_access(position, self._type, kind)

        def agg(a, b):
            va, vb = pick.get(a), pick.get(b)
            if kind == "sum":
                return pick.set(a, va + vb)
            if kind == "min":
                return pick.set(a, vb) if vb < va else a
            if kind == "max":
                return pick.set(a, vb) if vb > va else a
            if kind == "min_by":
                return b if vb < va else a
            return b if vb > va else a
        agg.__name__ = kind
        return self.reduce(agg).name("Keyed %s" % kind.replace("_", " ").title().replace(" ", ""))

    def sum(self, position_to_sum=0):
        return self._aggregate(position_to_sum, "sum")

    def min(self, position_to_min=0):
        return self._aggregate(position_to_min, "min")

    def max(self, position_to_max=0):
        return self._aggregate(position_to_max, "max")

    def min_by(self, position_to_min_by=0):
        return self._aggregate(position_to_min_by, "min_by")

    def max_by(self, position_to_max_by=0):
        return self._aggregate(position_to_max_by, "max_by")

    def window(self, window_assigner):
        from weir.datastream.window import WindowedStream
        return WindowedStream(self, window_assigner)

    def count_window(self, size, slide=0):
        from weir.datastream.window import CountSlidingWindowAssigner, CountWindowAssigner
        a = CountWindowAssigner.of(size) if not slide else CountSlidingWindowAssigner.of(size, slide)
        return self.window(a)

    def union(self, *streams):
        return self._as_stream().union(*streams)

    def print(self, sink_identifier=None):
        # PyFlink's KeyedStream.print leaves the identifier out; so does this one.
        return self._as_stream().print()

    def connect(self, ds):
        return ConnectedStreams(self, ds)

    def key_by(self, key_selector, key_type=None):
        return self._as_stream().key_by(key_selector, key_type)

    def shuffle(self):
        return self._as_stream().shuffle()

    def rebalance(self):
        return self._as_stream().rebalance()

    def forward(self):
        return self._as_stream().forward()

    def broadcast(self, *d):
        return self._as_stream().broadcast(*d)

    def assign_timestamps_and_watermarks(self, watermark_strategy):
        return self._as_stream().assign_timestamps_and_watermarks(watermark_strategy)


class _FieldAccess(object):
    def __init__(self, get, set_):
        self.get = get
        self.set = set_


def _field_access(position, type_info, what):
    """Reads and replaces one field of a value: the value itself (a number), a tuple/list/Row
    field by index, or a named Row field by name."""
    if isinstance(position, str):
        def get(v):
            return v[position]

        def set_(v, x):
            if not isinstance(v, Row) or v._fields is None or position not in v._fields:
                raise TypeError("%s(%r): the values must be Rows with a field %r" % (what, position, position))
            values = list(v._values)
            values[v._fields.index(position)] = x
            return Row._of(values, v._fields, v._row_kind_value)
        return _FieldAccess(get, set_)
    if not isinstance(position, int):
        raise TypeError("%s: the position must be an int or a field name, not %r" % (what, position))

    def get(v):
        if isinstance(v, (tuple, list, Row)):
            return v[position]
        if position != 0:
            raise TypeError("%s(%d): the values are %s, not tuples or rows" % (what, position, type(v).__name__))
        return v

    def set_(v, x):
        if isinstance(v, tuple):
            return v[:position] + (x,) + v[position + 1:]
        if isinstance(v, list):
            r = list(v)
            r[position] = x
            return r
        if isinstance(v, Row):
            return Row._of(v._values[:position] + [x] + v._values[position + 1:], v._fields, v._row_kind_value)
        return x
    return _FieldAccess(get, set_)


class ConnectedStreams(object):
    """Two streams processed by one operator (``connect``)."""

    def __init__(self, first, second):
        self.stream1 = first
        self.stream2 = second

    def key_by(self, key_selector1, key_selector2, key_type=None):
        return ConnectedStreams(self.stream1.key_by(key_selector1, key_type),
                                self.stream2.key_by(key_selector2, key_type))

    def map(self, func: CoMapFunction, output_type=None):
        if not isinstance(func, CoMapFunction):
            raise TypeError("ConnectedStreams.map: expected a CoMapFunction, not %r" % (func,))
        a, b = _plain(self.stream1), _plain(self.stream2)
        return DataStream(a._j.co_map(b._j, func, False), a._env)._wrap_same(output_type, "map")

    def flat_map(self, func: CoFlatMapFunction, output_type=None):
        if not isinstance(func, CoFlatMapFunction):
            raise TypeError("ConnectedStreams.flat_map: expected a CoFlatMapFunction, not %r" % (func,))
        a, b = _plain(self.stream1), _plain(self.stream2)
        return DataStream(a._j.co_map(b._j, func, True), a._env)._wrap_same(output_type, "flat_map")

    def process(self, func, output_type=None):
        if isinstance(func, KeyedCoProcessFunction):
            if not (isinstance(self.stream1, KeyedStream) and isinstance(self.stream2, KeyedStream)):
                raise TypeError("process: a KeyedCoProcessFunction needs two keyed streams; "
                                "call key_by on both (or ConnectedStreams.key_by) first")
            tags = set()
            j = self.stream1._j.connect_process(self.stream2._j, func, tags)
            return DataStream(j, self.stream1._env)._wrap_same(output_type, "process")._asks(tags)
        raise TypeError("ConnectedStreams.process: expected a KeyedCoProcessFunction, not %r" % (func,))
