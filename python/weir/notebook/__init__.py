"""Live views of Weir jobs in Jupyter (``%load_ext weir.notebook``).

``stream.display()`` (or ``weir.notebook.display(stream)``) adds a sink that collects the
stream's records into the kernel, starts the environment's job with ``execute_async()`` and
returns a :class:`LiveDisplay` whose view (ipywidgets) updates from a background thread while
the cell's kernel stays free: a table of the latest rows (newest first, or one row per key
updated in place), a chart of the numeric columns, a Stop button that cancels the job, and the
job's state, rates and watermark. ``replay()`` turns a bounded collection into an event-time
stream paced at N times real time, with watermarks, so that windows fire as it plays.

Needs ``ipywidgets`` for the interactive view (``pip install weir[notebook]``); without it the
view is plain HTML updated in place through IPython's display ids.
"""
import itertools
import os
import threading
import time

from weir.common.watermark_strategy import TimestampAssigner, WatermarkStrategy
from weir.common.time import Duration
from weir.datastream.data_stream import DataStream, KeyedStream
from weir.datastream.functions import MapFunction
from weir.notebook import _render

__all__ = ["configure", "display", "replay", "LiveDisplay", "start_ui", "stop_ui", "ui_server",
           "load_ipython_extension", "unload_ipython_extension"]

_ui = None  # the web UI server this kernel started (weir.workspace), if any
_job_numbers = itertools.count(1)


# ---- configuration ---------------------------------------------------------------------------

def configure(coordinator=None, ui=None, callback_host=None):
    """Settings of this kernel's jobs.

    ``coordinator="HOST:PORT"`` sends the jobs of environments made from now on to that cluster
    (``WEIR_COORDINATOR``; ``coordinator=""`` goes back to running them in the kernel): the
    pipeline's calls are recorded and replayed in the cluster's processes (see
    ``weir.notebook._cluster``), and a live view's rows come back to the kernel over TCP, to
    ``callback_host`` (default 127.0.0.1: a cluster on this machine; give an address the workers
    reach otherwise). ``ui="127.0.0.1:0"`` starts the web UI (``weir.workspace.serve``) in the
    kernel, which lists every job the kernel runs itself (a cluster's jobs are in the
    coordinator's UI: ``weir coordinator --rest``); returns the server (None when
    ``weir.workspace`` is not in this build)."""
    global _callback_host
    if callback_host is not None:
        _callback_host = str(callback_host)
    if coordinator is not None:
        from weir.notebook import _cluster
        if coordinator:
            os.environ["WEIR_COORDINATOR"] = str(coordinator)
            _cluster.enable()
        else:
            os.environ.pop("WEIR_COORDINATOR", None)
            _cluster.disable()
    if ui is not None:
        return start_ui(ui)
    return _ui


def start_ui(bind="127.0.0.1:0", token=None):
    """Starts the web UI in this kernel (once) if ``weir.workspace`` is available."""
    global _ui
    if _ui is not None:
        return _ui
    try:
        import weir.workspace as workspace
    except ImportError:
        return None
    _ui = workspace.serve(bind=bind, token=token)
    return _ui


def stop_ui():
    """Stops the web UI this kernel started, if any."""
    global _ui
    server, _ui = _ui, None
    if server is not None:
        server.stop()


def ui_server():
    """The web UI server this kernel runs, or None."""
    return _ui


def _ui_url():
    return getattr(_ui, "url", None) if _ui is not None else None


_callback_host = "127.0.0.1"


def _cluster_refusal(stream):
    """Why a live display of ``stream`` cannot run on the configured cluster (None: it can, or
    jobs run here)."""
    coordinator = os.environ.get("WEIR_COORDINATOR")
    if not coordinator:
        return None
    from weir.notebook import _cluster
    if not _cluster.is_recorded(stream.get_execution_environment()):
        return ("display(): jobs go to the cluster at %s, but this stream's environment was made before "
                "weir.notebook.configure(coordinator=...): make the environment and the pipeline after it, so "
                "that the cluster's processes can rebuild them" % coordinator)
    return None


# ---- the live view ---------------------------------------------------------------------------

def _key_function(key, first_row):
    """The function giving a row's key in keyed mode, or None for newest-first mode."""
    if key is False:
        return None
    if key is None:
        # (key, value) pairs are shown one row per key, updated in place.
        if isinstance(first_row, (tuple, list)) and len(first_row) == 2 and not hasattr(first_row, "_fields"):
            return lambda r: r[0]
        return None
    if callable(key):
        return key
    if isinstance(key, int):
        return lambda r: _render.cells_of(r, 0)[key]
    if isinstance(key, str):
        names = _render.columns_of(first_row)
        if key not in names:
            raise ValueError("display(key=%r): the rows have no column %r (columns: %s)" % (key, key, ", ".join(names)))
        i = names.index(key)
        return lambda r: _render.cells_of(r, 0)[i]
    raise TypeError("display(key=...): expected a column index, a column name, a function or False, not %r" % (key,))


def _sorted_keys(keys):
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=repr)


class LiveDisplay(object):
    """A job started by :func:`display` and its live view.

    ``rows``: the records received so far, in arrival order (the last ``keep`` of them;
    ``received`` counts them all). ``latest``: in keyed mode, the
    latest row of each key. ``job_client``: the job's JobClient. ``state``: RUNNING, FINISHED,
    CANCELED or FAILED. ``view``: the widget (None outside IPython)."""

    def __init__(self, stream, max_rows=20, key=None, columns=None, chart=True, chart_points=120,
                 refresh=0.5, job_name=None, keep=100000, show=True):
        if not isinstance(stream, DataStream):
            raise TypeError("display: expected a DataStream, not %r" % (stream,))
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError("display: max_rows must be a positive int, not %r" % (max_rows,))
        if not (isinstance(refresh, (int, float)) and refresh > 0):
            raise ValueError("display: refresh must be a positive number of seconds, not %r" % (refresh,))
        if keep is not None and (not isinstance(keep, int) or keep < max(max_rows, chart_points)):
            raise ValueError("display: keep must be None or an int of at least max_rows and chart_points, not %r"
                             % (keep,))
        refusal = _cluster_refusal(stream)
        if refusal:
            raise RuntimeError(refusal)
        self.max_rows = max_rows
        self.refresh = float(refresh)
        self.chart = bool(chart)
        self.chart_points = int(chart_points)
        self._key_option = key
        self._columns_option = list(columns) if columns else None
        self.rows = []
        self.received = 0
        self._keep = keep
        self.latest = {}
        self.columns = None
        self.state = "CREATED"
        self.error = None
        self._exception = None
        self._key_fn = None
        self._stop_requested = False
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._in_rate = 0.0
        self._out_rate = 0.0
        self._watermark = None
        self._renders = 0
        self.view = None
        self._widgets = None
        self._display_handle = None

        env = stream.get_execution_environment()
        if os.environ.get("WEIR_COORDINATOR"):
            # On a cluster the sink runs in the workers' processes: rows come back over TCP.
            from weir.notebook import _cluster
            self._queue = _cluster.RowReceiver(_callback_host)
            stream.add_sink(_cluster.RowSender(_callback_host, self._queue.port, self._queue.token)).name("Collect Sink")
        else:
            self._queue = stream._j.collect()
        self.job_name = job_name or "notebook display %d" % next(_job_numbers)
        self.job_client = env.execute_async(self.job_name)
        self.state = "RUNNING"
        if show:
            try:
                self._make_view()
            except BaseException:
                self.job_client.cancel()  # no view, no job left running unseen
                raise
        self._thread = threading.Thread(target=self._run, name="weir-live-" + self.job_name, daemon=True)
        self._thread.start()

    # ---- public --------------------------------------------------------------------------------

    def stop(self, timeout=30):
        """Cancels the job (if it still runs) and waits for the view's last update."""
        if not self._ended.is_set():
            self._stop_requested = True
            try:
                self.job_client.cancel()
            except Exception:
                if not self.job_client._j.done():
                    raise
        self._ended.wait(timeout)
        return self.state

    def wait(self, timeout=None):
        """Waits until the job ends and its last rows are shown; returns the final state
        (FINISHED or CANCELED). Raises the job's failure (JobExecutionException) when it failed,
        TimeoutError when it still runs after `timeout` seconds."""
        if not self._ended.wait(timeout):
            raise TimeoutError("%s still runs after %s s (%d rows so far)" % (self.job_name, timeout, self.received))
        if self._exception is not None:
            raise self._exception
        return self.state

    def done(self):
        return self._ended.is_set()

    def table_rows(self):
        """The rows the table shows now, as lists of cells (newest first, or by key)."""
        with self._lock:
            return self._table_rows_locked()

    def html(self):
        """The view's whole HTML now (status, table, chart)."""
        status, table, chart = self._snapshot()
        return status + table + chart

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))

    def __repr__(self):
        return "<LiveDisplay %r %s, %d rows>" % (self.job_name, self.state, self.received)

    # ---- collection ------------------------------------------------------------------------------

    def _add(self, row):
        with self._lock:
            if self.columns is None:
                self.columns = _render.columns_of(row, self._columns_option)
                self._key_fn = _key_function(self._key_option, row)
            self.rows.append(row)
            self.received += 1
            if self._keep is not None and len(self.rows) > self._keep + self._keep // 4:
                del self.rows[:len(self.rows) - self._keep]  # the oldest go, a batch at a time
            if self._key_fn is not None:
                k = self._key_fn(row)
                try:
                    hash(k)
                except TypeError:
                    k = repr(k)
                self.latest[k] = row

    def _run(self):
        last_render = 0.0
        last_sample = (time.monotonic(), 0, 0)
        try:
            while True:
                item = self._queue.poll(100)
                n = 0
                while item is not None:
                    self._add(item[0])
                    n += 1
                    if n >= 5000:
                        break
                    item = self._queue.poll(0)
                if item is None and self.job_client._j.done():
                    if hasattr(self._queue, "wait_closed"):
                        self._queue.wait_closed(10)  # a cluster's senders: their last rows
                    item = self._queue.poll(0)  # the last records may come with the end
                    while item is not None:
                        self._add(item[0])
                        item = self._queue.poll(0)
                    break
                now = time.monotonic()
                if now - last_render >= self.refresh:
                    last_sample = self._sample_metrics(last_sample)
                    self._update_view()
                    last_render = now
            self._finish()
        except BaseException as e:  # the view must show what stopped it (a key function that failed)
            self.state = "FAILED"
            self.error = "%s: %s" % (type(e).__name__, e)
            self._exception = e
            try:
                self.job_client.cancel()  # nothing collects its rows any more
            except Exception:
                pass  # it ended by itself meanwhile
        finally:
            try:
                self._update_view()
            finally:
                self._ended.set()

    def _finish(self):
        try:
            self.job_client.wait()
            self.state = "CANCELED" if self._stop_requested else "FINISHED"
        except Exception as e:
            if self._stop_requested:
                self.state = "CANCELED"
            else:
                self.state = "FAILED"
                self.error = "%s: %s" % (type(e).__name__, e)
                if e.__cause__ is not None:
                    self.error += "\ncaused by %s: %s" % (type(e.__cause__).__name__, e.__cause__)
                self._exception = e
        self._sample_metrics(None)
        self._in_rate = self._out_rate = 0.0

    def _sample_metrics(self, last):
        """Reads the job's metrics: source records (in), rows shown (out), watermark."""
        try:
            metrics = self.job_client.metrics()
        except Exception:
            return last
        source_out = 0
        marks = []
        sink_marks = []
        for task, m in metrics.items():
            if m.get("is_source", True):  # other tasks' records_out are what they send on
                source_out += int(m.get("records_out", 0) or 0)
            wm = m.get("input_watermark")
            if wm is not None:
                marks.append(wm)
                if "Collect Sink" in task:
                    sink_marks.append(wm)
        if sink_marks or marks:
            self._watermark = min(sink_marks or marks)
        if last is None:
            return None
        now = time.monotonic()
        t0, in0, out0 = last
        dt = now - t0
        out_total = self.received
        if dt > 0:
            self._in_rate = max(0.0, (source_out - in0) / dt)
            self._out_rate = max(0.0, (out_total - out0) / dt)
        return (now, source_out, out_total)

    # ---- view ----------------------------------------------------------------------------------

    def _table_rows_locked(self):
        if self.columns is None:
            return []
        n = len(self.columns)
        if self._key_fn is not None:
            keys = _sorted_keys(self.latest.keys())[: self.max_rows]
            return [_render.cells_of(self.latest[k], n) for k in keys]
        return [_render.cells_of(r, n) for r in reversed(self.rows[-self.max_rows:])]

    def _chart_locked(self):
        if not self.chart or self.columns is None:
            return ""
        n = len(self.columns)
        if self._key_fn is not None:
            keys = _sorted_keys(self.latest.keys())[:40]
            cells = [_render.cells_of(self.latest[k], n) for k in keys]
            # The last numeric column that is not the key (for (key, value): the value).
            for c in range(n - 1, -1, -1):
                vals = [row[c] for row in cells]
                if all(_render.is_number(v) for v in vals) and not all(
                        _render.is_number(k) and k == v for k, v in zip(keys, vals)):
                    return _render.bar_chart_svg(keys, vals, title="%s per key" % self.columns[c])
            return ""
        recent = [_render.cells_of(r, n) for r in self.rows[-self.chart_points:]]
        series = {}
        for c in range(n):
            vals = [row[c] for row in recent]
            if vals and all(_render.is_number(v) for v in vals):
                series[self.columns[c]] = vals
        return _render.line_chart_svg(series, title="last %d rows" % len(recent)) if series else ""

    def _snapshot(self):
        with self._lock:
            rows = self._table_rows_locked()
            chart = self._chart_locked()
            columns = list(self.columns or [])
            count = self.received
            shown = min(self.max_rows, len(self.rows))
        caption = ("latest row per key (%d keys)" % len(self.latest)) if self._key_fn is not None else \
            "newest first (last %d of %d)" % (shown, count)
        status = _render.status_html(self.state, count, self._in_rate, self._out_rate, self._watermark,
                                     _ui_url(), self.error)
        table = _render.table_html(columns, rows, caption) if columns else \
            '<div style="color:#888;font-family:monospace">waiting for the first row...</div>'
        return status, table, chart

    def _make_view(self):
        try:
            from IPython import get_ipython
            from IPython.display import display as ipy_display, HTML
        except ImportError:
            return
        if get_ipython() is None:
            return
        status, table, chart = self._snapshot()
        try:
            import ipywidgets as w
        except ImportError:
            w = None
        if w is None:
            self._display_handle = ipy_display(HTML(status + table + chart), display_id=True)
            return
        status_w = w.HTML(status)
        table_w = w.HTML(table)
        chart_w = w.HTML(chart)
        stop = w.Button(description="Stop", button_style="danger", icon="stop", tooltip="Cancel the job")
        stop.on_click(lambda _b: self._on_stop())
        stop.add_class("weir-live-stop")
        box = w.VBox([w.HBox([stop, status_w]), w.HBox([table_w, chart_w])])
        box.add_class("weir-live")
        self._widgets = (status_w, table_w, chart_w, stop)
        self.view = box
        ipy_display(box)

    def _on_stop(self):
        threading.Thread(target=self.stop, daemon=True).start()

    def _update_view(self):
        self._renders += 1
        if self._widgets is None and self._display_handle is None:
            return
        status, table, chart = self._snapshot()
        if self._widgets is not None:
            status_w, table_w, chart_w, stop = self._widgets
            if status_w.value != status:
                status_w.value = status
            if table_w.value != table:
                table_w.value = table
            if chart_w.value != chart:
                chart_w.value = chart
            if self._ended.is_set() or self.state != "RUNNING":
                stop.disabled = True
        else:
            from IPython.display import HTML
            self._display_handle.update(HTML(status + table + chart))


def display(stream, max_rows=20, key=None, columns=None, chart=True, chart_points=120, refresh=0.5,
            job_name=None, keep=100000):
    """Runs the stream's job in the background of the kernel and shows its records live.

    ``max_rows``: rows in the table. ``key``: None shows ``(key, value)`` pairs one row per key,
    other rows newest first; a column index or name, or a function of the row, keys the rows;
    False always shows newest first. ``columns``: column names (default: a Row's or dict's field
    names, else c0, c1, ...). ``chart``: a chart of numeric columns (bars per key, or lines over
    the last ``chart_points`` rows). ``refresh``: seconds between updates. ``keep``: rows kept
    in ``.rows`` (the oldest go; None keeps all). Returns a :class:`LiveDisplay`."""
    if isinstance(stream, KeyedStream):
        stream = stream._as_stream()
    return LiveDisplay(stream, max_rows=max_rows, key=key, columns=columns, chart=chart,
                       chart_points=chart_points, refresh=refresh, job_name=job_name, keep=keep)


# ---- event-time replay -----------------------------------------------------------------------

class _Pacer(MapFunction):
    """Holds each record back until its event time, scaled by `speed`, is due on the wall clock
    (measured from the first record this subtask emits)."""

    def __init__(self, timestamp, speed):
        self._timestamp = timestamp
        self._speed = speed
        self._origin = None

    def open(self, runtime_context):
        self._origin = None  # a restarted job replays from the start

    def map(self, value):
        ts = self._timestamp(value)
        now = time.monotonic()
        if self._origin is None:
            self._origin = (ts, now)
        t0, w0 = self._origin
        due = w0 + (ts - t0) / 1000.0 / self._speed
        if due > now:
            time.sleep(due - now)
        return value


class _Assigner(TimestampAssigner):
    def __init__(self, timestamp):
        self._timestamp = timestamp

    def extract_timestamp(self, value, record_timestamp):
        return int(self._timestamp(value))


def replay(env, records, timestamp, speed=1.0, type_info=None, max_out_of_orderness_ms=0,
           name="replay"):
    """A bounded collection as an event-time stream: sorted by ``timestamp(record)`` (epoch
    milliseconds), emitted paced at ``speed`` times real time (``speed=None``: as fast as
    possible), with timestamps and watermarks (``max_out_of_orderness_ms`` behind the largest
    timestamp; 0: monotonous) so that event-time windows fire as the replay goes. The pacing
    sleeps on a task thread, so the environment gets a second worker thread for the rest of the
    job."""
    if not callable(timestamp):
        raise TypeError("replay: timestamp must be a function of a record giving its epoch milliseconds")
    if speed is not None and not (isinstance(speed, (int, float)) and speed > 0):
        raise ValueError("replay: speed must be a positive number (or None for no pacing), not %r" % (speed,))
    items = list(records)
    keyed = []
    for i, r in enumerate(items):
        ts = timestamp(r)
        if not isinstance(ts, (int, float)) or isinstance(ts, bool):
            raise TypeError("replay: timestamp(%r) gave %r; give epoch milliseconds (an int)" % (r, ts))
        keyed.append((ts, i, r))
    keyed.sort(key=lambda t: (t[0], t[1]))
    stream = env.from_collection([r for _, _, r in keyed], type_info=type_info).name(name)
    if speed is not None:
        # One pacer, chained to the one-subtask collection: the records leave in order, on time.
        stream = stream.map(_Pacer(timestamp, float(speed)), output_type=type_info).name(name + " pacing") \
            .set_parallelism(1)
        env.set_worker_threads(2)
    if max_out_of_orderness_ms:
        strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(int(max_out_of_orderness_ms)))
    else:
        strategy = WatermarkStrategy.for_monotonous_timestamps()
    return stream.assign_timestamps_and_watermarks(strategy.with_timestamp_assigner(_Assigner(timestamp))) \
        .set_parallelism(1)


# ---- IPython extension -----------------------------------------------------------------------

def _stream_display(self, **opts):
    """Shows this stream live in the notebook (weir.notebook.display)."""
    return display(self, **opts)


def load_ipython_extension(ip):
    """``%load_ext weir.notebook``: adds ``DataStream.display()``; with env WEIR_NOTEBOOK_UI=ADDR
    set, starts the web UI on ADDR (when this build has it)."""
    DataStream.display = _stream_display
    KeyedStream.display = _stream_display
    bind = os.environ.get("WEIR_NOTEBOOK_UI")
    if bind:
        server = start_ui(bind)
        if server is not None:
            print("Weir web UI: %s" % getattr(server, "url", server))


def unload_ipython_extension(ip):
    for cls in (DataStream, KeyedStream):
        if getattr(cls, "display", None) is _stream_display:
            del cls.display
