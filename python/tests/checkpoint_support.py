"""For the tests that kill a job process with SIGKILL and restore it from a checkpoint."""
import os
import time


def completed_checkpoints(chk):
    """(id, folder) of each completed checkpoint under `chk` (older ones are removed as newer
    ones complete), oldest first."""
    found = []
    for root, _, files in os.walk(chk):
        name = os.path.basename(root)
        if name.startswith("chk-") and "_metadata" in files:
            found.append((int(name[4:]), root))
    return sorted(found)


def kill_after_checkpoints(proc, chk, at_least=3, also=lambda: True, timeout=120):
    """SIGKILLs `proc` once its checkpoint `at_least` (or a later one) has completed and
    `also()` holds; fails if the job ends first or nothing of the kind happens in `timeout` s."""
    deadline = time.time() + timeout
    try:
        while True:
            done = completed_checkpoints(chk)
            if done and done[-1][0] >= at_least and also():
                break
            if proc.poll() is not None:
                err = proc.stderr.read()
                raise AssertionError("the job ended before it was killed: %s"
                                     % (err.decode() if isinstance(err, bytes) else err)[-3000:])
            assert time.time() < deadline, "no checkpoint %d within %d s" % (at_least, timeout)
            time.sleep(0.05)
        proc.kill()  # SIGKILL
    finally:
        proc.wait()
