"""`weir run job.py args...` and `python -m weir job.py args...`: the file runs as __main__ with
its arguments, `pyflink` imports resolve to `weir`, nothing else is printed on stdout, and the
exit status is the job's."""
import os
import subprocess
import sys
import textwrap
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
