"""Interleaved A/B harness (robust to load from other processes on the shared host).
Both modules are loaded in one process; for every case each repeat times nb, pb and the
pure-Python reference back to back, so all see the same background load.
Usage (run.sh builds the modules and calls it): python bench_ab.py out.json, with the built
modules' folders in BENCH_MODULE_PATH (colon-separated)."""
import json, os, statistics, sys, timeit
sys.path[:0] = [p for p in os.environ.get("BENCH_MODULE_PATH", "").split(":") if p]
import nbbench, pbbench  # noqa

N, NT, NT_FRESH, REPEAT = 10_000_000, 1_000_000, 100_000, 5
PYDEFS = ("import time\n"
          "def noop(): pass\n"
          "def ident(o): return o\n"
          "class Ctx:\n"
          "    def __init__(self): self.items = []\n"
          "    def timestamp(self): return time.monotonic_ns()\n"
          "    def collect(self, o): self.items.append(o)\n"
          "def call_n(f, n):\n"
          "    for i in range(n): f(i)\n"
          "def call_n_sum(f, n):\n"
          "    s = 0\n"
          "    for i in range(n): s += f(i)\n"
          "    return s\n")
def imp(lib):
    if lib == "py":
        return PYDEFS
    m = {"nb": "nbbench", "pb": "pbbench"}[lib]
    return (f"from {m} import noop, ident, Ctx, call_n, call_n_raw, thread_call_n, "
            f"thread_call_n_batch, thread_call_n_persist\n")

# (case, stmt, extra setup, number-of-timeit-loops, calls-per-timed-unit, libs)
F = "f = lambda x: x * 2\n"
CASES = [
    ("empty_loop", "pass", "", N, 1, ["py"]),
    ("noop", "noop()", "", N, 1, ["nb", "pb", "py"]),
    ("ident", "ident(o)", "o = object()\n", N, 1, ["nb", "pb", "py"]),
    ("Ctx.timestamp", "c.timestamp()", "c = Ctx()\n", N, 1, ["nb", "pb", "py"]),
    ("Ctx.collect", "c.collect(o)", "c = Ctx(); o = object()\n", N, 1, ["nb", "pb", "py"]),
    ("call_n", "call_n(f, n)", F + f"n = {N}\n", 1, N, ["nb", "pb", "py"]),
    ("call_n_raw", "call_n_raw(f, n)", F + f"n = {N}\n", 1, N, ["nb", "pb"]),
    ("py loop s+=f(i)", "call_n_sum(f, n)", F + f"n = {N}\n", 1, N, ["py"]),
    ("thread_call_n_batch", "thread_call_n_batch(f, n)", F + f"n = {NT}\n", 1, NT, ["nb", "pb"]),
    ("thread_call_n_persist", "thread_call_n_persist(f, n)", F + f"n = {NT}\n", 1, NT, ["nb", "pb"]),
    ("thread_call_n", "thread_call_n(f, n)", F + f"n = {NT_FRESH}\n", 1, NT_FRESH, ["nb", "pb"]),
]
res = {"loadavg_start": os.getloadavg()}
for case, stmt, setup, number, per, libs in CASES:
    samples = {lib: [] for lib in libs}
    for lib in libs:  # correctness check + warm-up
        if case.startswith(("call_n", "thread", "py loop")):
            ns = {}; exec(imp(lib) + setup, ns); r = eval(stmt, ns)
            assert r is None or r == ns["n"] * (ns["n"] - 1), (case, lib, r)
    for _ in range(REPEAT):
        for lib in libs:
            t = timeit.timeit(stmt, imp(lib) + setup, number=number)
            samples[lib].append(t / (number * per) * 1e9)
    res[case] = {lib: {"median_ns": statistics.median(s), "min_ns": min(s), "samples_ns": s}
                 for lib, s in samples.items()}
    print(f"{case:22s} " + "  ".join(f"{lib}: med {v['median_ns']:8.2f} min {v['min_ns']:8.2f}"
                                      for lib, v in res[case].items()), flush=True)
res["loadavg_end"] = os.getloadavg()
print("loadavg start", res["loadavg_start"], "end", res["loadavg_end"])
with open(sys.argv[1], "w") as fh:
    json.dump(res, fh, indent=1)
