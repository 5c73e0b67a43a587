"""Live views of jobs that run on a cluster of real processes (a coordinator with its REST API
and a worker): `weir.notebook.configure(coordinator=...)`, then `display()` — the pipeline's
calls are replayed in the worker's process, the rows come back to this process over TCP and are
checked against a sequential computation; the job is in the coordinator's web UI job list."""
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

import weir.notebook
from weir.common import Types
from weir.datastream import StreamExecutionEnvironment

pytestmark = pytest.mark.skipif(not os.environ.get("WEIR_BIN"), reason="needs the weir binary (WEIR_BIN)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    log = open(tmp / "coordinator.log", "w")
    procs = [subprocess.Popen([os.environ["WEIR_BIN"], "coordinator", "--bind", "127.0.0.1:0", "--rest", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=log, text=True, env=env)]
    try:
        address = procs[0].stdout.readline().strip()
        deadline = time.time() + 30
        ui = None
        while time.time() < deadline and ui is None:
            for line in (tmp / "coordinator.log").read_text().splitlines():
                if line.startswith("Weir UI: "):
                    ui = line.split(" ", 2)[2].split("/#")[0]
            time.sleep(0.05)
        wlog = tmp / "worker.log"
        procs.append(subprocess.Popen([os.environ["WEIR_BIN"], "worker", "--coordinator", address, "--slots", "2",
                                       "--work-dir", str(tmp / "w")], stdout=open(wlog, "w"), stderr=subprocess.STDOUT,
                                      env=env))
        while time.time() < deadline and "registered with the coordinator" not in wlog.read_text():
            time.sleep(0.05)
        weir.notebook.configure(coordinator=address)
        yield address, ui
    finally:
        weir.notebook.configure(coordinator="")
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.parametrize("p", [1, 2])
def test_a_live_view_of_a_cluster_job_gets_every_row(cluster, p):
    address, ui = cluster
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    data = list(range(2000))
    offset = 7  # a value the pipeline's function closes over: pickled with it

    sums = env.from_collection(data, type_info=Types.LONG()) \
        .map(lambda v: (v % 5, v + offset)) \
        .key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
    live = weir.notebook.display(sums, job_name="cluster view p%d" % p)
    assert live.wait(120) == "FINISHED", live.error
    expected = {k: sum(v + offset for v in data if v % 5 == k) for k in range(5)}
    assert {k: row[1] for k, row in live.latest.items()} == expected
    assert live.received == len(data)  # one running sum per record
    # The job ran on the cluster: the coordinator's UI lists it, finished.
    with urllib.request.urlopen(ui + "/jobs/overview", timeout=30) as r:
        jobs = json.loads(r.read())["jobs"]
    assert [j["state"] for j in jobs if j["name"] == "cluster view p%d" % p] == ["FINISHED"]


def test_an_environment_runs_one_cluster_job(cluster):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    first = weir.notebook.display(env.from_collection([1, 2, 3], type_info=Types.LONG()))
    assert first.wait(120) == "FINISHED"
    assert sorted(first.rows) == [1, 2, 3]
    with pytest.raises(RuntimeError, match="an environment runs one job"):
        weir.notebook.display(env.from_collection([4], type_info=Types.LONG()))


def test_a_value_that_cannot_be_pickled_is_refused_with_the_reason(cluster):
    import threading
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    lock = threading.Lock()

    def with_lock(v):
        with lock:
            return v
    s = env.from_collection([1, 2], type_info=Types.LONG()).map(with_lock)
    with pytest.raises(RuntimeError, match="cannot be pickled"):
        weir.notebook.display(s)
