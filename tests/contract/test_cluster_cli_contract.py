"""The cluster commands exactly as the cluster issue writes them: `weir coordinator [--bind ADDR]
[--checkpoint-dir DIR]`, `weir worker --coordinator HOST:PORT [--slots N] [--bind ADDR]`,
`weir submit [--coordinator HOST:PORT] [--parallelism N] [--detached] JOB [ARGS...]`, `weir list`,
`weir savepoint JOB_ID DIR`, `weir stop JOB_ID --savepoint DIR`, `weir cancel JOB_ID`,
`weir run --workers N job` (ports are ephemeral here: `--bind 127.0.0.1:0`, and the client commands
find the coordinator through WEIR_COORDINATOR, their documented default)."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_BIN"), reason="needs the weir binary (WEIR_BIN)")

SLOW_JOB = textwrap.dedent("""
    import sys, time
    from pyflink.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(100)
    def slow(x):
        time.sleep(0.001)
        return x
    env.from_sequence(0, int(sys.argv[1])).map(slow).uid("slow").add_sink(lambda x: None)
    env.execute("contract job")
""")


def weir(*args, env=None, timeout=60):
    return subprocess.run([os.environ["WEIR_BIN"]] + list(args), capture_output=True, text=True, timeout=timeout, env=env)


def test_the_cluster_commands_as_written(tmp_path):
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    procs = []
    try:
        coord = subprocess.Popen([os.environ["WEIR_BIN"], "coordinator", "--bind", "127.0.0.1:0", "--checkpoint-dir",
                                  str(tmp_path / "ck")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        procs.append(coord)
        address = coord.stdout.readline().strip()
        worker_log = tmp_path / "worker.log"
        procs.append(subprocess.Popen([os.environ["WEIR_BIN"], "worker", "--coordinator", address, "--slots", "2",
                                       "--bind", "127.0.0.1"], stdout=open(worker_log, "w"), stderr=subprocess.STDOUT, env=env))
        deadline = time.time() + 30
        while "registered with the coordinator" not in worker_log.read_text() and time.time() < deadline:
            time.sleep(0.05)
        env["WEIR_COORDINATOR"] = address
        job = tmp_path / "job.py"
        job.write_text(SLOW_JOB)
        r = weir("submit", "--coordinator", address, "--parallelism", "2", "--detached", str(job), "100000", env=env)
        assert r.returncode == 0, r.stderr
        job_id = r.stdout.split("Job submitted: ")[1].split()[0]
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = weir("list", env=env)
            if job_id in listed.stdout and "RUNNING" in listed.stdout:
                break
            time.sleep(0.1)
        assert job_id in listed.stdout and "RUNNING" in listed.stdout, listed.stdout + listed.stderr
        r = weir("savepoint", job_id, str(tmp_path / "sp"), env=env, timeout=120)
        assert r.returncode == 0 and "Savepoint completed" in r.stdout, r.stdout + r.stderr
        assert (tmp_path / "sp" / "_metadata").exists()
        r = weir("stop", job_id, "--savepoint", str(tmp_path / "sp2"), env=env, timeout=120)
        assert r.returncode == 0 and "FINISHED" in r.stdout, r.stdout + r.stderr
        r = weir("submit", "--detached", str(job), "100000", env=env)
        assert r.returncode == 0, r.stderr
        second = r.stdout.split("Job submitted: ")[1].split()[0]
        r = weir("cancel", second, env=env)
        assert r.returncode == 0 and "CANCELED" in r.stdout, r.stdout + r.stderr
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_weir_run_with_workers_as_written(tmp_path):
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    job = tmp_path / "job.py"
    job.write_text(textwrap.dedent("""
        from pyflink.datastream import StreamExecutionEnvironment
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_sequence(1, 1000).map(lambda x: x * 2).add_sink(lambda x: None)
        env.execute("run on workers")
    """))
    r = weir("run", "--workers", "2", str(job), env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
