"""`weir run job.py args...` and `python -m weir job.py args...`: the file runs as __main__ with
its arguments, `pyflink` imports resolve to `weir`, nothing else is printed on stdout, and the
exit status is the job's."""
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "examples", "python")


def weir_bin():
    return os.environ.get("WEIR_BIN")


def launchers():
    out = [("python -m weir", [sys.executable, "-m", "weir"])]
    if weir_bin():
        out.append(("weir run", [weir_bin(), "run"]))
    return out


@pytest.fixture(params=launchers(), ids=lambda l: l[0])
def launcher(request):
    return request.param[1]


def run(launcher, path, *args, timeout=120):
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    return subprocess.run(launcher + [str(path)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_a_pyflink_job_runs_unchanged_as_main_with_its_arguments(launcher, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(textwrap.dedent("""
        import sys
        from pyflink.common import Types
        from pyflink.datastream import StreamExecutionEnvironment
        import pyflink.datastream as pds
        import weir.datastream as wds
        assert pds is wds and __name__ == "__main__"
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        n = int(sys.argv[1])
        env.from_collection(list(range(n)), Types.INT()).map(lambda x: x * int(sys.argv[2])).print()
        env.execute("job")
    """))
    r = run(launcher, job, 5, 3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["0", "3", "6", "9", "12"]  # nothing but the job's output


def test_a_failing_job_exits_1_with_the_traceback_on_stderr(launcher, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(textwrap.dedent("""
        from pyflink.datastream import StreamExecutionEnvironment
        env = StreamExecutionEnvironment.get_execution_environment()
        def f(x):
            raise KeyError("no such thing")
        env.from_collection([1]).map(f).print()
        env.execute()
    """))
    r = run(launcher, job)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "KeyError: 'no such thing'" in r.stderr and "in f" in r.stderr


def test_sys_exit_code_is_kept_and_a_module_without_counterpart_says_so(launcher, tmp_path):
    job = tmp_path / "job.py"
    job.write_text("import sys\nsys.exit(7)\n")
    assert run(launcher, job).returncode == 7
    job.write_text("from pyflink.table import StreamTableEnvironment\n")
    r = run(launcher, job)
    assert r.returncode == 1
    assert "pyflink.table has no Weir counterpart" in r.stderr


def test_weir_run_refuses_what_is_not_a_python_file(tmp_path):
    if not weir_bin():
        pytest.skip("the weir binary is not known (WEIR_BIN)")
    r = subprocess.run([weir_bin(), "run", str(tmp_path / "job.cpp")], capture_output=True, text=True)
    assert r.returncode == 2 and "not a Python file" in r.stderr


def test_word_count_example(launcher, tmp_path):
    text = "a b a\nc b a\n\nd"
    f = tmp_path / "in.txt"
    f.write_text(text)
    r = run(launcher, os.path.join(EXAMPLES, "word_count.py"), f)
    assert r.returncode == 0, r.stderr
    counts = Counter(text.lower().split())
    assert sorted(r.stdout.splitlines()) == sorted("(%s,%d)" % kv for kv in counts.items())


def test_keyed_timers_example(launcher):
    r = run(launcher, os.path.join(EXAMPLES, "keyed_timers.py"))
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted([
        "session of ann ended at 14000: 3 clicks",
        "session of bob ended at 12000: 1 clicks",
        "session of ann ended at 40000: 1 clicks",
        "session of bob ended at 55000: 2 clicks",
        "session of ann ended at 70000: 1 clicks",
    ])


# ---- the status line -------------------------------------------------------------------------

STATUS = re.compile(r"(RUNNING|FINISHED|FAILED)  in (\S+)  out (\S+)  lag (.+?)  checkpoints (.+?)  restarts (\d+)")

# Holds its first record until the file argv[1] exists, so that the job runs for as long as the
# test needs to see status lines; then prints the count of records.
HELD_JOB = """
import os, sys, time
from pyflink.common import Types
from pyflink.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(1)
flag = sys.argv[1]
def hold(x):
    while not os.path.exists(flag):
        time.sleep(0.01)
    return x
env.from_collection(list(range(100)), Types.INT()).map(hold).key_by(lambda x: 0).reduce(lambda a, b: a + b).print()
env.execute("held")
"""


def status_env():
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    env.pop("WEIR_STATUS", None)
    return env


def test_on_a_pipe_the_status_line_is_plain_lines_every_interval(launcher, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(HELD_JOB)
    flag = tmp_path / "go"
    p = subprocess.Popen(launcher + ["--status-interval", "0.2", str(job), str(flag)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=status_env())
    lines = []
    try:
        while len([l for l in lines if l.startswith(b"RUNNING")]) < 2:
            line = p.stderr.readline()
            assert line, b"".join(lines)
            lines.append(line)
    finally:
        flag.write_text("")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert out.decode().splitlines() == [str(sum(range(i + 1))) for i in range(100)]
    text = (b"".join(lines) + err).decode()
    assert "\r" not in text and "\x1b" not in text
    status = [l for l in text.splitlines() if STATUS.fullmatch(l)]
    assert len(status) >= 3 and status[-1].startswith("FINISHED"), text
    assert STATUS.fullmatch(status[-1]).group(6) == "0"
    # The last line averages the run: 100 records in, each reaching the job's last task.
    m = STATUS.fullmatch(status[-1])
    assert m.group(2).endswith("/s") and m.group(3).endswith("/s"), status[-1]


def test_quiet_shows_no_status_line(launcher, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(HELD_JOB)
    flag = tmp_path / "go"
    flag.write_text("")
    r = subprocess.run(launcher + ["--quiet", str(job), str(flag)], capture_output=True, text=True, env=status_env(),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert not STATUS.search(r.stderr), r.stderr
    r = subprocess.run(launcher + [str(job), str(flag)], capture_output=True, text=True, env=status_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    # A short job: no line every 10 s, only the last one.
    assert [l for l in r.stderr.splitlines() if STATUS.fullmatch(l)][-1].startswith("FINISHED"), r.stderr


def test_on_a_terminal_the_status_line_is_refreshed_in_place(launcher, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(HELD_JOB)
    flag = tmp_path / "go"
    master, slave = pty.openpty()
    p = subprocess.Popen(launcher + [str(job), str(flag)], stdout=subprocess.PIPE, stderr=slave, env=status_env())
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 120
        while seen.count(b"\rRUNNING") < 3:  # refreshed about twice a second
            assert time.monotonic() < deadline, seen
            r, _, _ = select.select([master], [], [], 1)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, seen
                seen += chunk
    finally:
        flag.write_text("")
    out = p.stdout.read()
    while True:  # the rest, until the process closes the terminal
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert p.wait(timeout=120) == 0, seen
    assert out.decode().splitlines()[-1] == str(sum(range(100)))
    text = seen.decode()
    # Every refresh starts with '\r' and erases the rest of the old line; the last one ends the line.
    refreshes = text.split("\r")[1:]
    status = [s for s in refreshes if s.endswith("\x1b[K") or s.endswith("\x1b[K\n") or s == "\n"]
    lines = [s.replace("\x1b[K", "").rstrip("\n") for s in status if s != "\n"]
    assert len(lines) >= 4, text
    assert all(STATUS.fullmatch(l) for l in lines), lines
    assert lines[-1].startswith("FINISHED") and all(l.startswith("RUNNING") for l in lines[:-1]), lines
    assert text.endswith("\x1b[K\r\n"), repr(text[-80:])  # the terminal's \n is \r\n
