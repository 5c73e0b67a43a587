"""Python jobs on a cluster of real processes: `weir submit job.py` against a coordinator and
two workers, and `weir run --workers 2 job.py`; the job is the same file as embedded, its
keyed state and exactly-once file output checked against a sequential reference."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

JOB = textwrap.dedent("""
    import sys
    from pyflink.common import Types
    from pyflink.common.serialization import Encoder
    from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
    from pyflink.datastream.connectors.file_system import FileSink
    from pyflink.datastream.state import ValueStateDescriptor

    class Count(KeyedProcessFunction):
        def open(self, ctx):
            self.c = ctx.get_state(ValueStateDescriptor("c", Types.LONG()))

        def process_element(self, v, ctx):
            c = (self.c.value() or 0) + 1
            self.c.update(c)
            yield "%d,%d,%d" % (v % 7, c, v)

    n, out = int(sys.argv[1]), sys.argv[2]
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(100)
    env.from_sequence(0, n - 1).key_by(lambda v: v % 7) \\
        .process(Count(), Types.STRING()).uid("count") \\
        .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build())
    env.execute("python on a cluster")
""")

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_BIN"), reason="needs the weir binary (WEIR_BIN)")


def env_for_jobs():
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    return env


@pytest.fixture
def cluster(tmp_path):
    """A coordinator and two workers of one slot each; all stopped at the end."""
    procs = []
    coord = subprocess.Popen([os.environ["WEIR_BIN"], "coordinator", "--bind", "127.0.0.1:0", "--checkpoint-dir",
                              str(tmp_path / "checkpoints")], stdout=subprocess.PIPE, stderr=open(tmp_path / "coord.log", "w"),
                             text=True, env=env_for_jobs())
    procs.append(coord)
    try:
        address = coord.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        for i in range(2):
            log = tmp_path / ("worker%d.log" % i)
            procs.append(subprocess.Popen([os.environ["WEIR_BIN"], "worker", "--coordinator", address, "--slots", "1",
                                           "--id", "w%d" % i, "--work-dir", str(tmp_path / ("w%d" % i))],
                                          stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env_for_jobs()))
        deadline = time.time() + 30
        while time.time() < deadline:
            if all("registered with the coordinator" in (tmp_path / ("worker%d.log" % i)).read_text() for i in range(2)):
                break
            time.sleep(0.05)
        yield address
    finally:
        for p in procs:
            p.kill()
            p.wait()


def committed_lines(folder):
    out = []
    for name in sorted(os.listdir(folder)):
        if not name.startswith("."):
            with open(os.path.join(folder, name)) as f:
                out.extend(line.rstrip("\n") for line in f)
    return out


def check_exactly_once(lines, n):
    assert len(lines) == n, "records committed (losses or duplicates)"
    values = sorted(int(l.split(",")[2]) for l in lines)
    assert values == list(range(n))
    per_key = {}
    for l in lines:
        k, c, v = (int(x) for x in l.split(","))
        assert v % 7 == k
        per_key.setdefault(k, []).append(c)
    for k, counts in per_key.items():
        assert sorted(counts) == list(range(1, len(counts) + 1)), "key %d" % k


def test_weir_submit_runs_a_python_job_on_two_workers(cluster, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(JOB)
    out = tmp_path / "out"
    r = subprocess.run([os.environ["WEIR_BIN"], "submit", "--coordinator", cluster, "-p", "2", str(job), "3000", str(out)],
                       capture_output=True, text=True, timeout=180, env=env_for_jobs())
    assert r.returncode == 0, r.stdout + r.stderr
    check_exactly_once(committed_lines(out), 3000)
    listed = subprocess.run([os.environ["WEIR_BIN"], "list", "--coordinator", cluster], capture_output=True, text=True,
                            timeout=60)
    assert "FINISHED" in listed.stdout and "python on a cluster" in listed.stdout, listed.stdout


def test_weir_run_with_workers_starts_a_local_cluster_for_the_job(tmp_path):
    job = tmp_path / "job.py"
    job.write_text(JOB)
    out = tmp_path / "out"
    r = subprocess.run([os.environ["WEIR_BIN"], "run", "--workers", "2", str(job), "2000", str(out)],
                       capture_output=True, text=True, timeout=180, env=env_for_jobs())
    assert r.returncode == 0, r.stdout + r.stderr
    check_exactly_once(committed_lines(out), 2000)
    # The status line's last line, from the local cluster's coordinator (the program shows none).
    finals = [l for l in r.stderr.splitlines() if l.startswith("FINISHED  in ")]
    assert len(finals) == 1 and finals[0].endswith("restarts 0"), r.stderr


def test_a_failing_python_function_fails_the_cluster_job_with_its_cause(cluster, tmp_path):
    job = tmp_path / "bad.py"
    job.write_text(textwrap.dedent("""
        from pyflink.datastream import StreamExecutionEnvironment
        env = StreamExecutionEnvironment.get_execution_environment()
        def boom(x):
            if x == 7:
                raise ValueError("seven is not allowed")
            return x
        env.from_sequence(0, 100).map(boom).add_sink(lambda x: None)
        env.execute("bad")
    """))
    r = subprocess.run([os.environ["WEIR_BIN"], "submit", "--coordinator", cluster, str(job)],
                       capture_output=True, text=True, timeout=180, env=env_for_jobs())
    assert r.returncode == 1, r.stdout + r.stderr
    assert "seven is not allowed" in r.stderr, r.stderr


def test_weir_submit_shows_the_jobs_status_from_the_coordinator(cluster, tmp_path):
    import re
    status = re.compile(r"(RUNNING|FINISHED)  in (\S+)  out (\S+)  lag (.+?)  checkpoints (.+?)  restarts (\d+)")
    job = tmp_path / "held.py"
    job.write_text(textwrap.dedent("""
        import os, sys, time
        from pyflink.datastream import StreamExecutionEnvironment
        flag = sys.argv[1]
        def hold(x):
            while not os.path.exists(flag):
                time.sleep(0.01)
            return x
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_sequence(0, 99).map(hold).key_by(lambda v: v % 3).reduce(lambda a, b: a + b).add_sink(lambda x: None)
        env.execute("held")
    """))
    flag = tmp_path / "go"
    p = subprocess.Popen([os.environ["WEIR_BIN"], "submit", "--coordinator", cluster, "-p", "2", "--status-interval", "0.3",
                          str(job), str(flag)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for_jobs())
    lines = []
    try:
        while len([l for l in lines if status.fullmatch(l.decode().rstrip("\n"))]) < 2:
            line = p.stderr.readline()
            assert line, b"".join(lines)
            lines.append(line)
    finally:
        flag.write_text("")
    out, err = p.communicate(timeout=180)
    assert p.returncode == 0, out + err
    text = (b"".join(lines) + err).decode()
    assert "\r" not in text
    found = [status.fullmatch(l) for l in text.splitlines() if status.fullmatch(l)]
    assert found[-1].group(1) == "FINISHED", text
    assert all(m.group(3) != "—" for m in found), text  # the plan names the last tasks
    assert all(m.group(4) == "—" for m in found), text  # no watermarks in this job (none reported is none)
    assert b"finished" in out


def test_weir_list_json_is_valid_whatever_the_jobs_name(cluster, tmp_path):
    import json
    name = 'say "hi"\\ back\\slash\nnew line\ttab \x01 Zürich — 東京 🚀'
    job = tmp_path / "named.py"
    job.write_text(textwrap.dedent("""
        import sys
        from pyflink.datastream import StreamExecutionEnvironment
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_sequence(0, 9).add_sink(lambda x: None)
        env.execute(sys.argv[1])
    """))
    r = subprocess.run([os.environ["WEIR_BIN"], "submit", "--coordinator", cluster, "--quiet", str(job), name],
                       capture_output=True, text=True, timeout=180, env=env_for_jobs())
    assert r.returncode == 0, r.stdout + r.stderr
    listed = subprocess.run([os.environ["WEIR_BIN"], "list", "--coordinator", cluster, "--json"], capture_output=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout.decode("utf-8"))
    assert [j["name"] for j in jobs] == [name]
    assert jobs[0]["status"] == "FINISHED"
