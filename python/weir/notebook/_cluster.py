"""Live views of jobs that run on a cluster, from a notebook.

A cluster job is rebuilt in every process that runs a part of it by running its program again
(the graph must come out the same). A kernel has no such program — its cells may start brokers
and produce data, so they cannot be run again — so once ``configure(coordinator=...)`` is in
force, the package records every call the Python API makes into the engine (``weir._weir``) from
then on: what was called, on which engine object, with which arguments (functions and other
Python values pickled with cloudpickle, engine objects by reference). When a job is executed, the
record is written next to a small program that replays it, and both are submitted as the job's
files: each worker's process replays the calls, which builds the same graph, and runs its part.

The live view's rows come back over TCP: its sink (``RowSender``) connects to a listener in the
kernel (``RowReceiver``) and sends each row as it arrives, after a token the listener checks.
"""
import io
import os
import pickle
import queue
import secrets
import socket
import struct
import sys
import tempfile
import threading
import time

import cloudpickle

from weir import _weir

# Modules whose ``_weir`` global the recording replaces (those that call the engine at run time).
_MODULES = ("weir.datastream.stream_execution_environment", "weir.datastream.data_stream", "weir.datastream.window",
            "weir.datastream.connectors.kafka", "weir.datastream.connectors.file_system")
# Calls whose result is not part of a job's graph: returned as they are, never recorded.
_UNRECORDED = {"execute", "execute_async", "get_execution_plan", "get_parallelism", "get_max_parallelism",
               "is_checkpointing_enabled", "get_checkpoint_interval", "is_exactly_once", "get_checkpoint_storage"}

_lock = threading.RLock()
_log = []           # [(result id or None, target, args, kwargs)], in call order
_next_id = [0]
_executed = set()   # ids of environments that submitted a job
_enabled = [False]


def _is_engine_object(v):
    return type(v).__module__ == "weir._weir"


def _unwrap(v):
    if isinstance(v, _Proxy):
        return v._real
    if isinstance(v, _ClassProxy):
        return v._real
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(x) for x in v)
    if isinstance(v, dict):
        return {k: _unwrap(x) for k, x in v.items()}
    return v


def _record_call(target, fn, args, kwargs, method_name):
    real_args = tuple(_unwrap(a) for a in args)
    real_kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
    result = fn(*real_args, **real_kwargs)
    if method_name in _UNRECORDED:
        return result
    with _lock:
        rid = None
        if _is_engine_object(result):
            rid = _next_id[0]
            _next_id[0] += 1
        _log.append((rid, target, tuple(args), dict(kwargs)))
    return _Proxy(rid, result) if rid is not None else result


class _Proxy(object):
    """An engine object made while recording: calls on it are recorded, then made."""
    __slots__ = ("_rid", "_real")

    def __init__(self, rid, real):
        object.__setattr__(self, "_rid", rid)
        object.__setattr__(self, "_real", real)

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr
        rid = self._rid

        def method(*args, **kwargs):
            if name in ("execute", "execute_async") and isinstance(self._real, _weir.Environment):
                _prepare_submission(self, args)
            return _record_call(("obj", rid, name), attr, args, kwargs, name)
        return method

    def __setattr__(self, name, value):
        raise AttributeError("engine objects are not assigned to while a notebook records for a cluster")

    def __repr__(self):
        return "<recorded %r>" % (self._real,)


class _ClassProxy(object):
    """An engine class or function reached through the module while recording."""

    def __init__(self, name, real):
        self._name = name
        self._real = real

    def __call__(self, *args, **kwargs):
        return _record_call(("mod", self._name), self._real, args, kwargs, self._name)

    def __instancecheck__(self, obj):
        return isinstance(_unwrap(obj), self._real)

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr
        return lambda *a, **k: _record_call(("cls", self._name, name), attr, a, k, name)


class _RecordingModule(object):
    """Stands for ``weir._weir`` in the API's modules while recording."""

    def __getattr__(self, name):
        real = getattr(_weir, name)
        if callable(real):
            return _ClassProxy(name, real)
        return real


def enable():
    """Records the API's calls into the engine from now on (``configure(coordinator=...)``)."""
    import importlib
    with _lock:
        if _enabled[0]:
            return
        for m in _MODULES:
            importlib.import_module(m)._weir = _RecordingModule()
        _enabled[0] = True


def disable():
    import importlib
    with _lock:
        if not _enabled[0]:
            return
        for m in _MODULES:
            importlib.import_module(m)._weir = _weir
        _enabled[0] = False


def is_recorded(env):
    """Whether ``env`` (a StreamExecutionEnvironment) was made while recording."""
    return isinstance(env._j, _Proxy)


class _Pickler(cloudpickle.CloudPickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Proxy):
            return ("ref", obj._rid)
        if isinstance(obj, _ClassProxy):
            return ("mod", obj._name)
        if isinstance(obj, _RecordingModule):
            return ("module",)
        if _is_engine_object(obj):
            raise pickle.PicklingError(
                "an engine object (%s) made before weir.notebook.configure(coordinator=...) cannot be sent to the "
                "cluster: build the pipeline after configure()" % type(obj).__name__)
        return None


def _dumps(entry):
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(entry)
    return buf.getvalue()


PROGRAM = "weir_notebook_job.py"
PIPELINE = "weir_notebook_pipeline.pkl"


def _prepare_submission(env_proxy, args):
    """Writes the record and its program, and points the submission at them (WEIR_SUBMIT_FILES)."""
    with _lock:
        if env_proxy._rid in _executed:
            raise RuntimeError("on a cluster, an environment runs one job: make a new one "
                               "(StreamExecutionEnvironment.get_execution_environment()) for the next view")
        entries = []
        for rid, target, a, k in _log:
            try:
                entries.append(_dumps((rid, target, a, k)))
            except Exception as e:
                raise RuntimeError("the pipeline cannot be sent to the cluster: a value it uses cannot be pickled "
                                   "(%s: %s)" % (type(e).__name__, e)) from e
        entries.append(_dumps((None, ("obj", env_proxy._rid, "execute_async"), tuple(args), {})))
        _executed.add(env_proxy._rid)
    folder = tempfile.mkdtemp(prefix="weir-notebook-")
    with open(os.path.join(folder, PIPELINE), "wb") as f:
        pickle.dump(entries, f, protocol=pickle.HIGHEST_PROTOCOL)
    with open(os.path.join(folder, PROGRAM), "w") as f:
        f.write("# Rebuilds a notebook's pipeline in a cluster's process (weir.notebook) and runs its part.\n"
                "import os\n"
                "from weir.notebook import _cluster\n"
                "_cluster.replay(os.path.join(os.path.dirname(os.path.abspath(__file__)), %r))\n" % PIPELINE)
    os.environ["WEIR_SUBMIT_FILES"] = os.path.join(folder, PROGRAM) + ":" + os.path.join(folder, PIPELINE)
    os.environ.pop("WEIR_SUBMIT_ARGS", None)


def replay(path):
    """Makes the recorded calls again, in order, with this process's engine; the last one
    executes the job (in a cluster's process: runs its part there)."""
    with open(path, "rb") as f:
        entries = pickle.load(f)
    objects = {}

    def load(blob):
        up = pickle.Unpickler(io.BytesIO(blob))

        def persistent_load(pid):
            if pid[0] == "ref":
                return objects[pid[1]]
            if pid[0] == "mod":
                return getattr(_weir, pid[1])
            return _weir
        up.persistent_load = persistent_load
        return up.load()

    last = len(entries) - 1
    for i, blob in enumerate(entries):
        rid, target, args, kwargs = load(blob)
        if target[0] == "mod":
            fn = getattr(_weir, target[1])
        elif target[0] == "cls":
            fn = getattr(getattr(_weir, target[1]), target[2])
        else:
            if target[2] in ("execute", "execute_async") and i != last:
                continue  # another environment's job
            fn = getattr(objects[target[1]], target[2])
        result = fn(*args, **kwargs)
        if rid is not None:
            objects[rid] = result
    # The job was started with execute_async: its part runs until the job ends here.
    if hasattr(result, "wait"):
        result.wait()
    return result


# ---- rows back to the kernel ---------------------------------------------------------------------

class RowSender(object):
    """The live view's sink on a cluster: sends each row to the kernel's RowReceiver."""

    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token
        self._sock = None

    def __getstate__(self):
        return {"host": self.host, "port": self.port, "token": self.token}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._sock = None

    def __call__(self, row):
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=30)
            self._sock.sendall(self.token.encode() + b"\n")
        data = cloudpickle.dumps(row)
        # Sent at once: a cluster's process ends without flushing Python's buffers.
        self._sock.sendall(struct.pack(">I", len(data)) + data)


class RowReceiver(object):
    """Listens in the kernel for the rows a cluster job's RowSenders send (``poll`` as the
    collect queue's)."""

    MAX_ROW = 64 << 20

    def __init__(self, host="127.0.0.1"):
        self.token = secrets.token_hex(16)
        self._rows = queue.Queue()
        self._open = 0
        self._cv = threading.Condition()
        self._server = socket.create_server((host, 0))
        self.host = host
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="weir-rows-accept", daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._cv:
                self._open += 1
            threading.Thread(target=self._read, args=(conn,), name="weir-rows", daemon=True).start()

    def _read(self, conn):
        try:
            f = conn.makefile("rb")
            if f.readline(200).rstrip(b"\n") != self.token.encode():
                return  # not this view's sink
            while True:
                head = f.read(4)
                if len(head) < 4:
                    return
                n = struct.unpack(">I", head)[0]
                if n > self.MAX_ROW:
                    return
                data = f.read(n)
                if len(data) < n:
                    return
                self._rows.put(pickle.loads(data))
        except OSError:
            return
        finally:
            conn.close()
            with self._cv:
                self._open -= 1
                self._cv.notify_all()

    def poll(self, timeout_ms):
        try:
            return (self._rows.get(timeout=timeout_ms / 1000.0) if timeout_ms > 0 else self._rows.get_nowait(),)
        except queue.Empty:
            return None

    def wait_closed(self, timeout):
        """After the job ended: waits until every sender's connection has closed (its rows read)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            # A connection still in the listen backlog is not counted yet: look twice.
            for _ in range(2):
                self._cv.wait_for(lambda: self._open == 0, max(0.0, deadline - time.monotonic()))
                self._cv.wait(0.1)
            self._cv.wait_for(lambda: self._open == 0, max(0.0, deadline - time.monotonic()))

    def close(self):
        try:
            self._server.close()
        except OSError:
            pass
