"""Helpers of the Kafka suites: the broker of the ctest fixture `kafka` (WEIR_KAFKA_BOOTSTRAP),
kcat to produce and read back."""
import os
import shutil
import subprocess
import time
import uuid

import pytest

BOOTSTRAP = os.environ.get("WEIR_KAFKA_BOOTSTRAP")

needs_kafka = pytest.mark.skipif(
    not BOOTSTRAP or shutil.which("kcat") is None,
    reason="needs WEIR_KAFKA_BOOTSTRAP (the ctest fixture 'kafka', or scripts/kafka.sh start) and kcat")


def new_topic(prefix="py"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def produce(topic, lines, bootstrap=None, partition=None):
    """Produces one message per line (str or bytes; no newline inside), waits for the acks."""
    data = b"".join((l if isinstance(l, bytes) else l.encode("utf-8")) + b"\n" for l in lines)
    cmd = ["kcat", "-b", bootstrap or BOOTSTRAP, "-P", "-t", topic, "-X", "acks=all"]
    if partition is not None:
        cmd += ["-p", str(partition)]
    subprocess.run(cmd, input=data, check=True, timeout=60)


def read_back(topic, count, bootstrap=None, committed=True):
    """The values of the first `count` messages of `topic` (all partitions), read_committed."""
    cmd = ["kcat", "-b", bootstrap or BOOTSTRAP, "-C", "-t", topic, "-o", "beginning", "-c", str(count),
           "-q", "-f", "%s\n"]
    if committed:
        cmd += ["-X", "isolation.level=read_committed"]
    # The topic may not exist yet (a sink creates it with its first record): try again until it does.
    deadline = time.time() + 60
    while True:
        r = subprocess.run(cmd, capture_output=True, timeout=120)
        if r.returncode == 0:
            return r.stdout.decode("utf-8").splitlines()
        if b"Unknown topic" not in r.stderr or time.time() > deadline:
            raise AssertionError("kcat failed: %s" % r.stderr.decode())
        time.sleep(0.2)


def count_messages(topic, bootstrap=None, committed=True):
    """All committed values of `topic` now (reads to the end)."""
    cmd = ["kcat", "-b", bootstrap or BOOTSTRAP, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"]
    if committed:
        cmd += ["-X", "isolation.level=read_committed"]
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout.decode("utf-8")
    return out.splitlines()
