#!/usr/bin/env python3
"""Cluster mode against embedded, per CPU-second: window_bench's job and a keyed reduce, each
run embedded (one process, parallelism 2) and on a local cluster of a coordinator and 2 workers
of one slot (parallelism 2: every shuffled record crosses processes half the time), interleaved,
`--runs` times. CPU is every process's (getrusage of the children: coordinator, workers, their
task processes, the submitting program), wall time is the submitting command's.

    bench/cluster/run.py [--build build/release] [--records 20000000] [--runs 3] [--jobs window,reduce]
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def check_counts(out, n):
    with open(os.path.join(out, "counts")) as f:
        total = sum(int(x) for x in f.read().split())
    if total != n:
        raise SystemExit("wrong result: %d of %d records accounted for" % (total, n))


def embedded(job, mode, n, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    c0, t0 = children_cpu(), time.monotonic()
    subprocess.run([job, mode, str(n), "2", out], check=True)
    wall, cpu = time.monotonic() - t0, children_cpu() - c0
    check_counts(out, n)
    return n / wall, n / cpu


def on_cluster(weir, job, mode, n, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    c0 = children_cpu()
    coord = subprocess.Popen([weir, "coordinator", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    address = coord.stdout.readline().strip()
    workers = [subprocess.Popen([weir, "worker", "--coordinator", address, "--slots", "1", "--id", "w%d" % i,
                                 "--work-dir", os.path.join(out, "w%d" % i)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    for w in workers:
        for line in w.stderr:
            if "registered with the coordinator" in line:
                break
    t0 = time.monotonic()
    subprocess.run([weir, "submit", "--coordinator", address, job, mode, str(n), "2", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    for p in workers + [coord]:
        p.terminate()
    for p in workers + [coord]:
        p.wait()
    cpu = children_cpu() - c0
    check_counts(out, n)
    return n / wall, n / cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--records", type=int, default=20_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", default="window,reduce")
    a = ap.parse_args()
    weir = os.path.join(a.build, "src/cli/weir")
    job = os.path.join(a.build, "bench/cluster_bench_job")
    tmp = tempfile.mkdtemp(prefix="weir-cluster-bench-")
    try:
        for mode in a.jobs.split(","):
            e_rate, e_cpu, c_rate, c_cpu = [], [], [], []
            for _ in range(a.runs):
                r, c = embedded(job, mode, a.records, tmp)
                e_rate.append(r)
                e_cpu.append(c)
                r, c = on_cluster(weir, job, mode, a.records, tmp)
                c_rate.append(r)
                c_cpu.append(c)
            em, ec = statistics.median(e_rate), statistics.median(e_cpu)
            cm, cc = statistics.median(c_rate), statistics.median(c_cpu)
            print("%-7s embedded p=2: %6.2f M rec/s, %6.2f M rec/CPU-s | 2 workers p=2: %6.2f M rec/s, %6.2f M rec/CPU-s "
                  "| per CPU-s ratio %.2f" % (mode, em / 1e6, ec / 1e6, cm / 1e6, cc / 1e6, cc / ec), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
