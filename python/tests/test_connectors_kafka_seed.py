"""The seed job (examples/python/seed_job.py) run with `weir run` as a subprocess, against the
Kafka broker of the tests and against `weir kafka-dev` on a free port: its printed lines are the
produced ones doubled. The job's text is used unchanged except for its bootstrap address
(localhost:9092 → the broker's)."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from kafka_support import BOOTSTRAP, needs_kafka, produce

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = os.path.join(ROOT, "examples", "python", "seed_job.py")


def weir_bin():
    return os.environ.get("WEIR_BIN") or os.path.join(ROOT, "build", "release", "src", "cli", "weir")


def lines_of(pipe, q):
    for line in iter(pipe.readline, b""):
        q.put(line.decode("utf-8", "replace").rstrip("\n"))
    q.put(None)


def wait_line(q, want, timeout=60):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        try:
            line = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError("the job ended; it printed %r" % seen)
        seen.append(line)
        if want(line):
            return seen
    raise AssertionError("no such line within %d s; printed %r" % (timeout, seen))


def stop(proc):
    """Stops a job started in its own process group: SIGTERM, then SIGKILL after 20 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_seed(tmp_path, bootstrap, topic_exists_check=None):
    text = open(SEED, encoding="utf-8").read()
    assert '"localhost:9092"' in text
    job = tmp_path / "seed_job.py"
    job.write_text(text.replace("localhost:9092", bootstrap), encoding="utf-8")
    produce("test_topic", ["before the job"], bootstrap=bootstrap)  # the topic exists when the job starts
    env = dict(os.environ, PYTHONUNBUFFERED="1", WEIR_PYTHON=os.environ.get("WEIR_PYTHON") or sys.executable)
    proc = subprocess.Popen([weir_bin(), "run", str(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    q = queue.Queue()
    threading.Thread(target=lines_of, args=(proc.stdout, q), daemon=True).start()
    try:
        # The consumer starts at the end of the topic: produce until a record comes through.
        deadline = time.time() + 90
        warm = 0
        while True:
            produce("test_topic", ["warm%d" % warm], bootstrap=bootstrap)
            try:
                wait_line(q, lambda l: l.startswith("warm"), timeout=1)
                break
            except AssertionError as e:
                if proc.poll() is not None:
                    raise AssertionError("the job ended: %s %s" % (e, proc.stderr.read().decode()))
                assert time.time() < deadline, "nothing printed in 90 s: %s" % e
            warm += 1
        words = ["ab", "Weir", "x y", "ünï"]
        produce("test_topic", words, bootstrap=bootstrap)
        printed = []
        for w in words:
            printed += wait_line(q, lambda l, w=w: l == w * 2)
        got = [l for l in printed if not l.startswith("warm")]
        assert got == [w * 2 for w in words]
    finally:
        stop(proc)


@needs_kafka
def test_seed_job_against_the_broker(tmp_path):
    run_seed(tmp_path, BOOTSTRAP)


def test_seed_job_against_kafka_dev(tmp_path):
    if not os.path.exists(weir_bin()):
        pytest.skip("no weir binary")
    dev = subprocess.Popen([weir_bin(), "kafka-dev", "--port", "0", "--topic", "test_topic:1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        address = dev.stdout.readline().decode().strip()
        assert address.startswith("127.0.0.1:"), address
        port = address.split(":")[1]
        run_seed(tmp_path, "localhost:" + port)
    finally:
        dev.terminate()
        dev.wait(timeout=30)


CLICKS = os.path.join(ROOT, "examples", "python", "clicks_job.py")


@needs_kafka
def test_clicks_job_counts_per_page_and_window_and_sends_the_late_click_aside(tmp_path):
    """examples/python/clicks_job.py (the second job of `make demo`): 5 s event-time windows per
    page over JSON clicks, a bad record skipped, a click for a window already fired printed as
    late; the counts are those of a sequential computation."""
    from kafka_support import new_topic
    import json
    topic = new_topic("clicks")
    base = 1_700_000_000_000
    clicks = [{"page": "home" if i % 3 == 0 else "cart", "ts": base + i * 700} for i in range(20)]
    lines = [json.dumps(c) for c in clicks] + ["not json", json.dumps({"page": "home", "ts": base + 30_000})]
    produce(topic, lines)
    env = dict(os.environ, PYTHONUNBUFFERED="1", WEIR_PYTHON=os.environ.get("WEIR_PYTHON") or sys.executable)
    proc = subprocess.Popen([weir_bin(), "run", CLICKS, "--bootstrap", BOOTSTRAP, "--topic", topic],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    q = queue.Queue()
    threading.Thread(target=lines_of, args=(proc.stdout, q), daemon=True).start()
    expected = {}
    for c in clicks:
        start = c["ts"] - c["ts"] % 5000
        key = (c["page"], start)
        expected[key] = expected.get(key, 0) + 1
    want = {"page=%s window=[%d, %d) clicks=%d" % (p, s, s + 5000, n) for (p, s), n in expected.items()}
    try:
        printed = []
        while not want <= set(printed):  # every window below the watermark (base + 28 s) fires
            printed += wait_line(q, lambda l: l in want)
        produce(topic, [json.dumps({"page": "home", "ts": base + 100})])  # its window has fired
        printed += wait_line(q, lambda l: l.startswith("late:"))
        assert "late: page=home ts=%d" % (base + 100) in printed
        assert {l for l in printed if l.startswith("page=")} == want  # no window twice, none made up
    finally:
        stop(proc)
