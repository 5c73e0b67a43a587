"""A Python job with keyed state survives `kill -9`: restarted from its newest checkpoint in a new
process, its final sums per key are those of a sequential computation (no input lost or counted
twice in the state, keys found again in the other process)."""
import os
import signal
import subprocess
import sys
import time

import pytest

JOB = os.path.join(os.path.dirname(__file__), "jobs", "keyed_sum_job.py")


def run(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "weir", JOB] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def newest_checkpoint_id(d):
    """The id of the newest completed checkpoint (older ones are removed as newer complete)."""
    n = 0
    for root, _, files in os.walk(d):
        name = os.path.basename(root)
        if name.startswith("chk-") and "_metadata" in files:
            n = max(n, int(name[4:]))
    return n


def final_sums(path):
    last = {}
    with open(path) as f:
        for line in f:
            k, s, c = line.split()
            s, c = int(s), int(c)
            if c >= last.get(k, (0, 0))[1]:
                last[k] = (s, c)
    return last


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_kill_9_and_restore_from_the_newest_checkpoint(tmp_path, parallelism):
    n = 20000
    ckpt, out = tmp_path / "ckpt", tmp_path / "out.txt"
    job = run([n, ckpt, out, parallelism])
    deadline = time.time() + 60
    while newest_checkpoint_id(ckpt) < 3:
        assert job.poll() is None, job.communicate()[1][-3000:]
        assert time.time() < deadline, "no checkpoint within 60 s"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    lines_before = sum(1 for _ in open(out))
    assert lines_before < n, "the job finished before it was killed; make it slower"

    job = run([n, ckpt, out, parallelism])
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err[-3000:]

    expected = {}
    for x in range(1, n + 1):
        k = "k%d" % (x % 7)
        s, c = expected.get(k, (0, 0))
        expected[k] = (s + x, c + 1)
    assert final_sums(out) == expected
