"""A Python job with keyed state survives `kill -9`: restarted from its newest checkpoint in a new
process, its final sums per key are those of a sequential computation (no input lost or counted
twice in the state, keys found again in the other process)."""
import os
import subprocess
import sys

import pytest

from checkpoint_support import kill_after_checkpoints

JOB = os.path.join(os.path.dirname(__file__), "jobs", "keyed_sum_job.py")


def run(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "weir", JOB] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


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
    kill_after_checkpoints(run([n, ckpt, out, parallelism]), ckpt, at_least=3, timeout=60)
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
