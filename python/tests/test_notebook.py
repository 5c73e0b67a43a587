"""weir.notebook: live views of jobs in Jupyter. The example notebook and notebooks made here
are executed headless with nbclient in a kernel of this build; their printed results and the
widgets' final state are checked against the same computation done here in plain Python."""
import json
import os
import random
import time
from collections import Counter

import pytest

import weir.notebook
from weir.common import JobExecutionException, Row
from weir.common.time import Time
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.window import TumblingEventTimeWindows
from weir.notebook import _render

from notebook_support import copy_example, execute_notebook, needs_jupyter, stream_text, widget_views

# ---- without a kernel ---------------------------------------------------------------------------


def _window_counts(records, size_ms):
    """(key, window end, count) of tumbling windows, computed directly."""
    c = Counter((k, ts // size_ms * size_ms + size_ms) for k, ts in records)
    return Counter((k, end, n) for (k, end), n in c.items())


def _records(n, keys=3, step_ms=250, seed=3):
    rng = random.Random(seed)
    return [("k%d" % rng.randrange(keys), 1000 + i * step_ms + rng.randrange(step_ms)) for i in range(n)]


def test_replay_windows_fire_as_it_plays(env):
    """A paced replay: window results reach the view before the source has emitted everything,
    and the final rows equal the windows counted directly."""
    from weir.datastream.functions import WindowFunction

    class End(WindowFunction):
        def apply(self, key, window, inputs):
            for _, n in inputs:
                yield (key, window.end, n)

    recs = _records(60, step_ms=500)  # 30 s of event time
    shuffled = list(recs)
    random.Random(1).shuffle(shuffled)  # replay sorts by timestamp
    s = weir.notebook.replay(env, shuffled, timestamp=lambda r: r[1], speed=10)  # about 3 s
    counts = s.map(lambda r: (r[0], 1)).key_by(lambda r: r[0]) \
        .window(TumblingEventTimeWindows.of(Time.seconds(5))) \
        .reduce(lambda a, b: (a[0], a[1] + b[1]), window_function=End())
    live = weir.notebook.display(counts, key=False)
    deadline = time.time() + 60
    while not live.rows:
        assert time.time() < deadline and not live.done(), "no window fired"
        time.sleep(0.02)
    emitted = sum(m["records_out"] for m in live.job_client.metrics().values())
    assert emitted < len(recs), "the first window fired only after the whole replay"
    assert live.wait(60) == "FINISHED"
    assert Counter(live.rows) == _window_counts(recs, 5000)
    # Newest first in the table.
    assert live.table_rows() == [list(r) for r in reversed(live.rows[-20:])]
    assert "end of input" in live.html()


def test_replay_orders_and_paces():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    recs = [{"v": i, "ts": 10_000 + 100 * ((i * 7) % 10)} for i in range(10)]  # 900 ms of event time
    start = time.monotonic()
    live = weir.notebook.display(weir.notebook.replay(env, recs, timestamp=lambda r: r["ts"], speed=2))
    assert live.wait(60) == "FINISHED"
    elapsed = time.monotonic() - start
    assert [r["ts"] for r in live.rows] == sorted(r["ts"] for r in recs)
    assert elapsed >= 0.45  # 900 ms of event time at 2x
    assert live.columns == ["v", "ts"]


def test_keeps_the_last_rows_only():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    live = weir.notebook.display(env.from_collection(list(range(5000))), keep=1000, chart_points=100, max_rows=5)
    assert live.wait(60) == "FINISHED"
    assert live.received == 5000
    assert 1000 <= len(live.rows) <= 1250 and live.rows[-1] == 4999
    assert live.rows == list(range(5000 - len(live.rows), 5000))
    assert live.table_rows() == [[4999], [4998], [4997], [4996], [4995]]
    assert "last 5 of 5000" in live.html()
    with pytest.raises(ValueError, match="keep"):
        weir.notebook.display(env.from_collection([1]), keep=10)


def test_replay_refuses_bad_arguments():
    env = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(ValueError, match="speed"):
        weir.notebook.replay(env, [1], timestamp=lambda r: r, speed=0)
    with pytest.raises(TypeError, match="epoch milliseconds"):
        weir.notebook.replay(env, ["a"], timestamp=lambda r: r)


def test_keyed_rows_update_in_place_and_stop():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    # 200 s of event time at 4x: runs until stopped.
    recs = [("k%d" % (i % 4), i) for i in range(200)]
    s = weir.notebook.replay(env, recs, timestamp=lambda r: r[1] * 1000, speed=4)
    live = weir.notebook.display(s.key_by(lambda r: r[0]).reduce(lambda a, b: (a[0], a[1] + b[1])))
    deadline = time.time() + 60
    while len(live.latest) < 4:
        assert time.time() < deadline and not live.done()
        time.sleep(0.02)
    assert live.stop() == "CANCELED"
    assert live.wait(1) == "CANCELED"
    assert len(live.rows) < len(recs)
    # One row per key: the latest sum of each, sorted by key.
    expected = {}
    for k, v in live.rows:
        expected[k] = v
    assert live.table_rows() == [[k, expected[k]] for k in sorted(expected)]
    assert "CANCELED" in live.html()


def test_failure_is_shown_and_raised():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)

    def boom(x):
        if x == 5:
            raise ValueError("bad click 5")
        return x
    live = weir.notebook.display(env.from_collection(list(range(10))).map(boom))
    with pytest.raises(JobExecutionException) as e:
        live.wait(60)
    assert isinstance(e.value.__cause__, ValueError)
    assert live.state == "FAILED"
    assert "bad click 5" in live.html()


def test_a_bad_key_column_fails_the_view_and_cancels_the_job():
    env = StreamExecutionEnvironment.get_execution_environment()
    s = weir.notebook.replay(env, [Row(page="/a", ts=i * 1000) for i in range(100)], timestamp=lambda r: r.ts, speed=1)
    live = weir.notebook.display(s, key="pages")
    with pytest.raises(ValueError, match="no column 'pages'"):
        live.wait(60)
    assert live.state == "FAILED"
    deadline = time.time() + 60
    while not live.job_client._j.done():  # canceled, not left running for 100 s
        assert time.time() < deadline
        time.sleep(0.02)
    assert live.job_client.get_job_status().result() == "CANCELED"


def test_display_refuses_a_cluster_for_an_environment_made_before_configure(monkeypatch):
    monkeypatch.delenv("WEIR_COORDINATOR", raising=False)
    env = StreamExecutionEnvironment.get_execution_environment()
    s = env.from_collection([1, 2])
    weir.notebook.configure(coordinator="127.0.0.1:1")
    try:
        assert os.environ["WEIR_COORDINATOR"] == "127.0.0.1:1"
        with pytest.raises(RuntimeError, match="made before weir.notebook.configure"):
            weir.notebook.display(s)
    finally:
        weir.notebook.configure(coordinator="")
    assert "WEIR_COORDINATOR" not in os.environ


def _has_workspace():
    try:
        import weir.workspace  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.skipif(not _has_workspace(), reason="weir.workspace is not in this build")
def test_jobs_are_listed_by_the_web_ui():
    import urllib.request
    server = weir.notebook.configure(ui="127.0.0.1:0")
    try:
        assert server is weir.notebook.ui_server() and server.address.startswith("127.0.0.1:")
        env = StreamExecutionEnvironment.get_execution_environment()
        live = weir.notebook.display(env.from_collection(list(range(5))), job_name="listed by the UI")
        assert live.wait(60) == "FINISHED"
        assert 'href="%s"' % server.url in live.html()
        with urllib.request.urlopen("http://%s/jobs/overview" % server.address, timeout=10) as r:
            jobs = json.load(r)["jobs"]
        mine = [j for j in jobs if j["name"] == "listed by the UI"]
        assert [j["jid"] for j in mine] == [str(live.job_client.get_job_id())]
        assert mine[0]["state"] == "FINISHED"
    finally:
        weir.notebook.stop_ui()
    assert weir.notebook.ui_server() is None


def test_render_rows_of_every_shape():
    assert _render.columns_of(Row(page="/a", n=1)) == ["page", "n"]
    assert _render.columns_of(Row("/a", 1)) == ["c0", "c1"]
    assert _render.columns_of({"x": 1, "y": 2}) == ["x", "y"]
    assert _render.columns_of(7) == ["value"]
    assert _render.cells_of(Row(page="/a", n=1), 2) == ["/a", 1]
    assert _render.cells_of(7, 1) == [7]
    html = _render.table_html(["a"], [["<script>"]])
    assert "<script>" not in html and "&lt;script&gt;" in html
    svg = _render.bar_chart_svg(["a", "b"], [3, -1])
    assert svg.count("<rect") == 2
    assert _render.line_chart_svg({"x": [1, 2, 3]}).count("<polyline") == 1
    assert _render.line_chart_svg({"x": ["a"]}) == ""


# ---- in a kernel, with nbclient ------------------------------------------------------------------

def _make_clicks(n, seed=7, start_ms=1_767_225_600_000):
    """The example's click generator (examples/notebooks/clicks.ipynb), repeated here."""
    rng = random.Random(seed)
    pages = ["/home", "/search", "/cart", "/checkout", "/help"]
    out, t = [], start_ms
    for _ in range(n):
        t += rng.randint(0, 200)
        out.append({"user": rng.randint(1, 50), "page": rng.choices(pages, weights=[5, 4, 3, 1, 1])[0], "ts": t})
    return out


def _widget_html(nb, model_id):
    """The final HTML values of the HTML widgets under a displayed widget."""
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]

    def walk(mid):
        m = state[mid]
        if m["model_name"] == "HTMLModel":
            yield m["state"]["value"]
        for child in m["state"].get("children", []):
            yield from walk(child.replace("IPY_MODEL_", ""))
    return list(walk(model_id))


@needs_jupyter
def test_example_clicks_notebook(tmp_path, monkeypatch):
    import nbformat
    monkeypatch.delenv("WEIR_KAFKA_BOOTSTRAP", raising=False)  # its own weir kafka-dev
    monkeypatch.delenv("WEIR_COORDINATOR", raising=False)
    path = copy_example("clicks.ipynb", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    nb = execute_notebook(nb, str(tmp_path), extra_env={"CLICKS_SPEED": "50"})
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = [c for c in code if widget_views(c)]
    assert len(shown) == 1, "one live view"
    out = stream_text(code[-2])
    assert out.startswith("FINISHED\n"), out
    assert "match: True" in out
    final = json.loads(out.split("final: ", 1)[1])
    clicks = _make_clicks(600)
    c = Counter((x["page"], x["ts"] // 10000 * 10000 + 10000) for x in clicks)
    import datetime
    hhmmss = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc).strftime("%H:%M:%S")
    assert final == sorted([p, hhmmss(end), n] for (p, end), n in c.items())
    # The widget's last state: finished, and one row per page with its last window's count.
    html = "".join(_widget_html(nb, widget_views(shown[0])[0]))
    assert ">FINISHED<" in html
    last_end = max(end for _, end in c)
    for page in {x["page"] for x in clicks}:
        n = c.get((page, last_end))
        if n is not None:
            assert "<td style=\"padding:1px 8px;text-align:left\">%s</td>" % page in html
            assert ">%s</td><td style=\"padding:1px 8px;text-align:right\">%d</td>" % (hhmmss(last_end), n) in html
    assert html.count("<rect") == 5  # a bar per page


SMALL = [
    "%load_ext weir.notebook\n"
    "import json, weir.notebook\n"
    "from weir.datastream import StreamExecutionEnvironment\n"
    "from weir.common.time import Time\n"
    "from weir.datastream.window import TumblingEventTimeWindows\n"
    "env = StreamExecutionEnvironment.get_execution_environment()\n"
    "env.set_parallelism(2)",
    "recs = [('k%d' % (i % 3), 1000 + 250 * i) for i in range(80)]\n"
    "s = weir.notebook.replay(env, recs, timestamp=lambda r: r[1], speed=20)\n"
    "counts = s.map(lambda r: (r[0], 1)).key_by(lambda r: r[0])"
    ".window(TumblingEventTimeWindows.of(Time.seconds(4))).reduce(lambda a, b: (a[0], a[1] + b[1]))\n"
    "live = counts.display(max_rows=5)",
    "print(live.wait(120))\n"
    "print(json.dumps(sorted(live.rows)))\n"
    "print(json.dumps(live.table_rows()))",
    "numbers = env.from_collection([(i, i * i) for i in range(50)])\n"
    "live2 = weir.notebook.display(numbers, key=False, max_rows=3, columns=['n', 'square'])\n"
    "print(live2.wait(120), json.dumps(live2.table_rows()))",
]


@needs_jupyter
def test_small_notebook(tmp_path, monkeypatch):
    import nbformat
    monkeypatch.delenv("WEIR_COORDINATOR", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in SMALL]
    ui = _has_workspace()  # %load_ext starts the web UI when WEIR_NOTEBOOK_UI is set
    nb = execute_notebook(nb, str(tmp_path), extra_env={"WEIR_NOTEBOOK_UI": "127.0.0.1:0"} if ui else None)
    if ui:
        assert stream_text(nb.cells[0]).startswith("Weir web UI: http://127.0.0.1:")
    assert len(widget_views(nb.cells[1])) == 1
    lines = stream_text(nb.cells[2]).splitlines()
    assert lines[0] == "FINISHED"
    recs = [("k%d" % (i % 3), 1000 + 250 * i) for i in range(80)]
    # (key, count) rows of every window, and the table: the latest count of each key.
    per_window = Counter((k, ts // 4000) for k, ts in recs)
    assert sorted(map(tuple, json.loads(lines[1]))) == sorted((k, n) for (k, _), n in per_window.items())
    last = {}
    for (k, w), n in sorted(per_window.items(), key=lambda kv: kv[0][1]):
        last[k] = n
    assert json.loads(lines[2]) == [[k, last[k]] for k in sorted(last)]
    state, table = stream_text(nb.cells[3]).split(" ", 1)
    assert state == "FINISHED"
    assert json.loads(table) == [[49, 2401], [48, 2304], [47, 2209]]
    html = "".join(_widget_html(nb, widget_views(nb.cells[3])[0]))
    assert "<th" in html and ">square<" in html and html.count("<polyline") == 2
