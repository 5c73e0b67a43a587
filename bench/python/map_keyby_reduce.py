"""Benchmark: ``map(lambda x: x * 2) → key_by(lambda x: x % 1000) → reduce(lambda a, b: a + b)``
over N integers, on Weir and (with --pyflink PYTHON) on PyFlink in the same run.

    .venv/bin/python bench/python/map_keyby_reduce.py --records 10000000 --parallelism 1 \\
        [--pyflink /path/to/venv-with-apache-flink/bin/python]

Reports records/s (wall clock) and records per CPU-second of the whole process (getrusage:
user + system of this process, or of the PyFlink process tree: its JVM and Python workers).
Weir ends the job in a discarding sink; PyFlink (which has no Python-side discarding sink) ends
it in print() with its standard output sent to /dev/null (printing runs in its JVM).
A plain Python loop calling the same three lambdas gives the interpreter's own ceiling.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_weir(n, p):
    from weir.datastream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    ds = env.from_sequence(1, n)
    ds.map(lambda x: x * 2).key_by(lambda x: x % 1000).reduce(lambda a, b: a + b)._j.discard()
    c0, t0 = cpu_self(), time.perf_counter()
    env.execute("map-keyby-reduce")
    return time.perf_counter() - t0, cpu_self() - c0


def run_pyflink(n, p):
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.datastream.connectors.number_seq import NumberSequenceSource
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    ds = env.from_source(NumberSequenceSource(1, n), WatermarkStrategy.no_watermarks(), "seq")
    ds.map(lambda x: x * 2, output_type=Types.LONG()) \
      .key_by(lambda x: x % 1000, key_type=Types.LONG()) \
      .reduce(lambda a, b: a + b).print()
    t0 = time.perf_counter()
    env.execute("map-keyby-reduce")
    return time.perf_counter() - t0


def plain_loop(n):
    f, k, r = (lambda x: x * 2), (lambda x: x % 1000), (lambda a, b: a + b)
    acc = {}
    c0, t0 = cpu_self(), time.perf_counter()
    for i in range(1, n + 1):
        v = f(i)
        key = k(v)
        prev = acc.get(key)
        acc[key] = v if prev is None else r(prev, v)
    return time.perf_counter() - t0, cpu_self() - c0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of Weir's job (medians are reported)")
    ap.add_argument("--pyflink", help="a Python with apache-flink installed: run PyFlink's same job")
    ap.add_argument("--engine", choices=["weir", "pyflink"], default="weir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    n, p = a.records, a.parallelism
    if a.engine == "pyflink":  # the child process of --pyflink
        wall = run_pyflink(n, p)
        sys.stderr.write(json.dumps({"wall": wall}) + "\n")
        return
    runs = []
    for _ in range(a.repeat):
        wall, cpu = run_weir(n, p)
        runs.append((wall, cpu))
        print("weir     %d records p=%d: %.2f s, %.0f records/s, %.0f records per CPU-second (%.2f CPU-s)"
              % (n, p, wall, n / wall, n / cpu, cpu), flush=True)
    wall = sorted(w for w, _ in runs)[len(runs) // 2]
    cpu = sorted(c for _, c in runs)[len(runs) // 2]
    if a.repeat > 1:
        print("weir     median of %d: %.0f records/s, %.0f records per CPU-second" % (a.repeat, n / wall, n / cpu))
    lw, lc = plain_loop(n)
    print("loop     plain Python, the same three lambdas: %.0f records/s" % (n / lw))
    if a.pyflink:
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(a.pyflink) + os.pathsep + env.get("PATH", "")
        env.pop("PYTHONPATH", None)
        t0 = time.perf_counter()
        proc = subprocess.run([a.pyflink, os.path.abspath(__file__), "--engine", "pyflink", "--records", str(n),
                               "--parallelism", str(p)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        total = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            sys.exit("PyFlink's run failed")
        job_wall = json.loads([line for line in proc.stderr.splitlines() if line.startswith("{")][-1])["wall"]
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        pcpu = c.ru_utime + c.ru_stime
        print("pyflink  %d records p=%d: %.2f s in execute() (%.2f s with start-up), %.0f records/s, "
              "%.0f records per CPU-second (%.2f CPU-s, the whole process tree)"
              % (n, p, job_wall, total, n / job_wall, n / pcpu, pcpu))
        print("ratio    weir / pyflink: %.1fx records/s, %.1fx records per CPU-second"
              % ((n / wall) / (n / job_wall), (n / cpu) / (n / pcpu)))


if __name__ == "__main__":
    main()
