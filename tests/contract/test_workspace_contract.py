"""The workspace as the workspace issue writes it: `weir run --ui [ADDR]` (with and without an
address), the REST API on Flink's paths (`/overview`, `/jobs`, `/jobs/overview`, `/jobs/:id`,
`/jobs/:id/vertices/:vid`, `/jobs/:id/watermarks`, `/jobs/:id/checkpoints`,
`/jobs/:id/exceptions`, `/jobs/:id/savepoints`, `PATCH /jobs/:id`, `/taskmanagers`), a token on
every route that changes something (401 without it), Prometheus `/metrics`, an OpenAPI
document."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_BIN"), reason="needs the weir binary (WEIR_BIN)")

JOB = textwrap.dedent("""
    import time
    from pyflink.common import Types
    from pyflink.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(100)
    def slow(x):
        time.sleep(0.002)
        return x
    env.from_collection(list(range(100000)), type_info=Types.LONG()).map(slow, output_type=Types.LONG()) \\
        .key_by(lambda v: v % 4).reduce(lambda a, b: a + b).add_sink(lambda v: None)
    env.execute("contract ui job")
""")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
            return r.status, json.loads(body) if r.headers.get("Content-Type", "").startswith("application/json") else body
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def send(url, method, token=None, body=b"{}"):
    req = urllib.request.Request(url, method=method, data=body, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def start(args, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(JOB)
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    err = tmp_path / "stderr.txt"
    proc = subprocess.Popen([os.environ["WEIR_BIN"], "run"] + args + [str(job)], stderr=open(err, "w"),
                            stdout=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        for line in err.read_text().splitlines():
            if line.startswith("Weir UI: "):
                return proc, line.split(" ", 2)[2].strip()
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.fail("weir run --ui printed no address: " + err.read_text())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("form", ["with address", "address after =", "job right after --ui"])
def test_weir_run_ui_serves_flinks_paths(tmp_path, form):
    port = free_port()
    args = {"with address": ["--ui", "127.0.0.1:%d" % port], "address after =": ["--ui=127.0.0.1:%d" % port],
            "job right after --ui": ["--ui"]}[form]
    proc, url = start(args, tmp_path)
    try:
        base, token = url.split("/#token=")
        if form != "job right after --ui":
            assert base == "http://127.0.0.1:%d" % port
        else:
            assert base == "http://127.0.0.1:8081"  # the default, Flink's port
        deadline = time.time() + 60
        jobs = []
        while time.time() < deadline and not jobs:
            jobs = get(base + "/jobs")[1]["jobs"]
            time.sleep(0.05)
        jid = jobs[0]["id"]
        assert get(base + "/overview")[0] == 200
        assert get(base + "/jobs/overview")[1]["jobs"][0]["jid"] == jid
        details = get(base + "/jobs/" + jid)[1]
        assert details["jid"] == jid and details["vertices"]
        vid = details["vertices"][-1]["id"]
        assert get(base + "/jobs/%s/vertices/%s" % (jid, vid))[1]["subtasks"]
        assert "vertices" in get(base + "/jobs/%s/watermarks" % jid)[1]
        assert "counts" in get(base + "/jobs/%s/checkpoints" % jid)[1]
        assert "exceptionHistory" in get(base + "/jobs/%s/exceptions" % jid)[1]
        assert get(base + "/taskmanagers")[1]["taskmanagers"]
        assert b"weir_task_records_in_total" in get(base + "/metrics")[1]
        assert get(base + "/openapi.json")[1]["openapi"].startswith("3.")
        # Changes need the token.
        assert send(base + "/jobs/%s/savepoints" % jid, "POST") == 401
        assert send(base + "/jobs/%s?mode=cancel" % jid, "PATCH", body=b"") == 401
        assert send(base + "/jobs/%s/savepoints" % jid, "POST", token,
                    json.dumps({"target-directory": str(tmp_path / "sp")}).encode()) == 202
        assert send(base + "/jobs/%s?mode=cancel" % jid, "PATCH", token, body=b"") == 202
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
