"""Runs one Nexmark query of queries.py on Weir's Python API.

    python bench/nexmark/python/run.py --query qN --events N --parallelism P [--rate R] [--seed S]
        prints one line, as weir-nexmark does: events per CPU-second (resource.getrusage of this
        whole process, every thread, user + system) measured around the job's execution
    python bench/nexmark/python/run.py --query qN --events N --parallelism P --check FILE
        writes the query's final result table to FILE (its rows as lines, sorted)

The `weir` package is taken from the environment (PYTHONPATH, an install) or else from this
checkout's build/release/python.
"""
import argparse
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import weir  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "build", "release", "python"))

from weir.datastream import StreamExecutionEnvironment  # noqa: E402
from weir.nexmark import DEFAULT_RATE  # noqa: E402

import queries  # noqa: E402


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv=None):
    ap = argparse.ArgumentParser(description="Nexmark on Weir's Python API")
    ap.add_argument("--query", required=True, choices=sorted(queries.QUERIES))
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--parallelism", "-p", type=int, default=1)
    ap.add_argument("--rate", type=float, default=DEFAULT_RATE, help="events per second of event time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", metavar="FILE", help="write the final result table to FILE")
    a = ap.parse_args(argv)
    if a.events < 0 or a.parallelism < 1 or not a.rate > 0:
        ap.error("--events must be >= 0, --parallelism >= 1, --rate > 0")

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(a.parallelism)
    rows = queries.QUERIES[a.query](queries.events(env, a.events, a.rate, a.seed))

    if a.check:
        with rows.execute_and_collect("nexmark " + a.query) as it:
            lines = sorted(queries.format_row(r) for r in it)
        with open(a.check, "w") as f:
            for line in lines:
                f.write(line + "\n")
        return 0

    count = [0]

    def sink(_row):
        count[0] += 1

    rows.add_sink(sink).name("nexmark-sink")
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    env.execute("nexmark " + a.query)
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    print("python %s events=%d parallelism=%d seconds=%.3f cpu_seconds=%.3f events_per_second=%.0f "
          "events_per_cpu_second=%.0f rows=%d"
          % (a.query, a.events, a.parallelism, wall, cpu, a.events / wall, a.events / cpu, count[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
