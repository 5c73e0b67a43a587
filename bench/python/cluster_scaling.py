"""Benchmark: the Python job of map_keyby_reduce.py (``map(lambda x: x * 2) → key_by(lambda x:
x % 1000) → reduce(lambda a, b: a + b)`` over N integers) with `weir run --workers K job.py`,
K = 1 and 2: a local cluster whose K worker processes each run their share in their own
interpreter (parallelism K), so a Python job uses K cores. Interleaved, `--repeat` times.

    .venv/bin/python bench/python/cluster_scaling.py --records 20000000 --repeat 3 [--weir build/release/src/cli/weir]

Reports records/s (wall clock of `weir run`, start-up included) and records per CPU-second of the
whole process tree (getrusage of the children: coordinator, workers, their Python processes).
As a job file (run by `weir run`): cluster_scaling.py --job N.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def job(n):
    from weir.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_sequence(1, n).map(lambda x: x * 2).key_by(lambda x: x % 1000) \
        .reduce(lambda a, b: a + b).add_sink(lambda x: None)
    env.execute("map-keyby-reduce on workers")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(weir, workers, n):
    env = dict(os.environ)
    env.setdefault("WEIR_PYTHON", sys.executable)
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run([weir, "run", "--workers", str(workers), os.path.abspath(__file__), "--job", str(n)], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return n / wall, n / (children_cpu() - c0)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--job":
        job(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--weir", default="build/release/src/cli/weir")
    a = ap.parse_args()
    rates = {1: [], 2: []}
    cpus = {1: [], 2: []}
    for _ in range(a.repeat):
        for k in (1, 2):
            r, c = run(a.weir, k, a.records)
            rates[k].append(r)
            cpus[k].append(c)
            print("workers=%d: %.2f M rec/s, %.2f M rec/CPU-s" % (k, r / 1e6, c / 1e6), flush=True)
    m1, m2 = statistics.median(rates[1]), statistics.median(rates[2])
    print("median: 1 worker %.2f M rec/s (%.2f M/CPU-s), 2 workers %.2f M rec/s (%.2f M/CPU-s): %.2fx" %
          (m1 / 1e6, statistics.median(cpus[1]) / 1e6, m2 / 1e6, statistics.median(cpus[2]) / 1e6, m2 / m1))


if __name__ == "__main__":
    main()
