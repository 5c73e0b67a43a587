"""The workspace's REST API seen from Python and from the command line, over real sockets:
`weir.workspace.serve()` in this process, `weir run --ui`, and a coordinator's API with job
submission (upload, run) on a cluster of real processes. Results are checked against the data
the jobs were given."""
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid

import pytest

from weir import workspace
from weir.common import Types
from weir.datastream import StreamExecutionEnvironment


def call(base, path, method="GET", body=None, token=None, content_type="application/json"):
    req = urllib.request.Request(base + path, method=method, data=body)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, (json.loads(data) if r.headers.get("Content-Type", "").startswith("application/json") else data)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def eventually(f, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = f()
        if v:
            return v
        time.sleep(0.05)
    return f()


def multipart(field, filename, content):
    boundary = uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n") % (boundary, field, filename)).encode() + content + \
        ("\r\n--%s--\r\n" % boundary).encode()
    return body, "multipart/form-data; boundary=" + boundary


def job_state(base, jid):
    for j in call(base, "/jobs/overview")[1]["jobs"]:
        if j["jid"] == jid:
            return j["state"]
    return None


@pytest.mark.parametrize("p", [1, 2, 4])
def test_serve_lists_this_processs_jobs_with_their_counts(p):
    ui = workspace.serve()
    try:
        base = "http://" + ui.address
        assert ui.address.startswith("127.0.0.1:")
        assert ui.url.endswith("#token=" + ui.token)
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(p)
        data = list(range(3000))
        env.from_collection(data, type_info=Types.LONG()) \
            .key_by(lambda v: v % 5) \
            .map(lambda v: v * 2, output_type=Types.LONG()).name("double") \
            .add_sink(lambda v: None)
        client = env.execute_async("workspace python job")
        client.wait()
        jid = str(client.get_job_id())
        assert eventually(lambda: job_state(base, jid) == "FINISHED")
        details = call(base, "/jobs/" + jid)[1]
        double = [v for v in details["vertices"] if "double" in v["name"]]
        assert len(double) == 1, details["vertices"]
        assert double[0]["parallelism"] == p
        assert double[0]["metrics"]["read-records"] == len(data)
    finally:
        ui.stop()


def test_cancel_through_the_api_needs_the_token():
    ui = workspace.serve()
    try:
        base = "http://" + ui.address
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)

        def slow(v):
            time.sleep(0.01)
            return v
        env.from_collection(list(range(100000)), type_info=Types.LONG()).map(slow, output_type=Types.LONG()) \
            .add_sink(lambda v: None)
        client = env.execute_async("to cancel")
        jid = str(client.get_job_id())
        assert eventually(lambda: job_state(base, jid) == "RUNNING")
        assert call(base, "/jobs/%s?mode=cancel" % jid, method="PATCH", body=b"")[0] == 401
        assert call(base, "/jobs/%s?mode=cancel" % jid, method="PATCH", body=b"", token="nope")[0] == 401
        assert job_state(base, jid) == "RUNNING"
        assert call(base, "/jobs/%s?mode=cancel" % jid, method="PATCH", body=b"", token=ui.token)[0] == 202
        with pytest.raises(Exception):
            client.wait()
        assert eventually(lambda: job_state(base, jid) == "CANCELED")
    finally:
        ui.stop()


JOB = textwrap.dedent("""
    import sys, time
    from pyflink.common import Types
    from pyflink.datastream import StreamExecutionEnvironment

    n, out = int(sys.argv[1]), sys.argv[2]
    env = StreamExecutionEnvironment.get_execution_environment()

    def slow(v):
        time.sleep(0.002)
        return v

    env.from_collection(list(range(n)), type_info=Types.LONG()) \\
        .map(slow, output_type=Types.LONG()).name("slow map") \\
        .key_by(lambda v: v % 3) \\
        .reduce(lambda a, b: a + b).name("sum") \\
        .add_sink(lambda v: open(out, "a").write("%d\\n" % v))
    env.execute("workspace cli job")
""")

needs_bin = pytest.mark.skipif(not os.environ.get("WEIR_BIN"), reason="needs the weir binary (WEIR_BIN)")


def ui_url(log, proc, seconds=60):
    """The address a process prints as "Weir UI: <url>" in its log file (its stderr)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("Weir UI: "):
                return line.split(" ", 2)[2].strip()
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def env_for_jobs():
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    return env


@needs_bin
def test_weir_run_ui_serves_the_running_job(tmp_path):
    job = tmp_path / "job.py"
    job.write_text(JOB)
    out = tmp_path / "out.txt"
    err = tmp_path / "stderr.txt"
    proc = subprocess.Popen([os.environ["WEIR_BIN"], "run", "--ui", "127.0.0.1:0", str(job), "1500", str(out)],
                            stderr=open(err, "w"), stdout=subprocess.DEVNULL, env=env_for_jobs())
    try:
        url = ui_url(err, proc)
        assert url and url.startswith("http://127.0.0.1:"), err.read_text()
        base = url.split("/#")[0]
        jobs = eventually(lambda: call(base, "/jobs/overview")[1]["jobs"])
        assert jobs[0]["name"] == "workspace cli job"
        assert jobs[0]["state"] in ("RUNNING", "FINISHED")
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        proc.wait()
    # The running sums per key end at the sum of each key's records.
    values = [int(x) for x in out.read_text().split()]
    totals = {k: sum(v for v in range(1500) if v % 3 == k) for k in range(3)}
    assert set(totals.values()) <= set(values)


@needs_bin
def test_a_program_uploaded_to_the_coordinator_runs_on_the_cluster(tmp_path):
    token = uuid.uuid4().hex
    procs = []
    err = tmp_path / "coordinator.log"
    coord = subprocess.Popen([os.environ["WEIR_BIN"], "coordinator", "--bind", "127.0.0.1:0", "--rest", "127.0.0.1:0",
                              "--rest-token", token, "--web-upload-dir", str(tmp_path / "uploads")],
                             stdout=subprocess.PIPE, stderr=open(err, "w"), text=True, env=env_for_jobs())
    procs.append(coord)
    try:
        address = coord.stdout.readline().strip()
        url = ui_url(err, coord)
        assert url and url.endswith("#token=" + token), err.read_text()
        base = url.split("/#")[0]
        log = open(tmp_path / "worker.log", "w")
        procs.append(subprocess.Popen([os.environ["WEIR_BIN"], "worker", "--coordinator", address, "--slots", "2",
                                       "--work-dir", str(tmp_path / "w")], stdout=log, stderr=subprocess.STDOUT,
                                      env=env_for_jobs()))
        tms = eventually(lambda: call(base, "/taskmanagers")[1]["taskmanagers"])
        assert len(tms) == 1 and tms[0]["slotsNumber"] == 2
        assert call(base, "/config")[1]["features"]["web-submit"] is True
        assert call(base, "/config")[1]["mode"] == "cluster"

        body, ctype = multipart("jarfile", "job.py", JOB.encode())
        assert call(base, "/jars/upload", "POST", body, None, ctype)[0] == 401
        status, up = call(base, "/jars/upload", "POST", body, token, ctype)
        assert status == 200, up
        jar = os.path.basename(up["filename"])
        out = tmp_path / "out.txt"
        status, run = call(base, "/jars/%s/run" % jar, "POST",
                           json.dumps({"programArgsList": ["600", str(out)], "parallelism": 2}).encode(), token)
        assert status == 200, run
        jid = run["jobid"]
        assert eventually(lambda: job_state(base, jid) in ("RUNNING", "FINISHED"))
        assert eventually(lambda: job_state(base, jid) == "FINISHED", 120), call(base, "/jobs/" + jid)[1]
        # Every record reached the keyed sum once: its last value per key is the key's total.
        details = call(base, "/jobs/" + jid)[1]
        summed = [v for v in details["vertices"] if v["name"].startswith("sum")]
        assert summed and summed[0]["metrics"]["read-records"] == 600, details["vertices"]
        values = [int(x) for x in out.read_text().split()]
        totals = {k: sum(v for v in range(600) if v % 3 == k) for k in range(3)}
        assert set(totals.values()) <= set(values)
        # The watermark view and the exceptions answer for a cluster job too.
        assert call(base, "/jobs/%s/watermarks" % jid)[0] == 200
        assert call(base, "/jobs/%s/exceptions" % jid)[1]["root-exception"] is None
        # A program that fails before submitting gives its reason, not a job.
        body, ctype = multipart("jarfile", "broken.py", b"raise SystemExit('no job here')\n")
        status, up = call(base, "/jars/upload", "POST", body, token, ctype)
        status, run = call(base, "/jars/%s/run" % os.path.basename(up["filename"]), "POST", b"{}", token)
        assert status == 400 and "no job" in run["errors"][0], run
    finally:
        for p in procs:
            p.kill()
            p.wait()
