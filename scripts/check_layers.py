#!/usr/bin/env python3
"""Fails when a library file includes a header of a layer above its own.

The layers, bottom to top, are listed in docs/architecture.md. A file may include headers of
its own module and of modules in lower layers; tests, benchmarks and examples may include
anything. Usage: check_layers.py [--expect-wrong-way] [REPO_ROOT]
(--expect-wrong-way: succeed only when an include going up is found; the check's own test.)
"""
import os
import re
import sys

# (layer, module, path prefixes). Lower layers first. Modules in one layer do not include
# each other.
LAYERS = [
    (0, "serde", ["include/weir/serde/", "src/serde/"]),
    (1, "common", ["include/weir/common/", "src/common/"]),
    (2, "state", ["include/weir/state/", "src/state/"]),
    (3, "time", ["include/weir/time/", "src/time/"]),
    (4, "runtime-api", ["include/weir/runtime/"]),
    (5, "checkpoint", ["src/checkpoint/"]),
    (5, "graph", ["src/graph/"]),
    (6, "runtime", ["src/runtime/"]),
    (7, "api", ["include/weir/api/", "src/api/"]),
    (7, "network", ["src/network/"]),
    (8, "windows", ["include/weir/windows/", "src/windows/"]),
    (8, "cep", ["include/weir/cep/", "src/cep/"]),
    (8, "connectors", ["include/weir/connectors/", "src/connectors/"]),
    (8, "testing", ["include/weir/testing/", "src/testing/"]),
    (9, "umbrella", ["include/weir/weir.hpp"]),
    (10, "rest", ["src/rest/"]),
    (11, "cluster", ["src/cluster/"]),
    (12, "cli", ["src/cli/"]),
]
EXEMPT = re.compile(r"(^|/)(tests|fuzz|bench|examples)/")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    for layer, name, prefixes in LAYERS:
        for p in prefixes:
            if path == p or path.startswith(p):
                return layer, name
    return None


def resolve(inc, including_file):
    """Repository path of a quoted include, or None for headers outside the library."""
    if inc.startswith("weir/"):
        return "include/" + inc
    first = inc.split("/", 1)[0]
    if os.path.isdir(os.path.join(ROOT, "src", first)):
        return "src/" + inc
    here = os.path.dirname(including_file)
    return os.path.normpath(os.path.join(here, inc))


def main():
    problems = []
    checked = 0
    for top in ("include", "src"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".h", ".hpp", ".cc", ".cpp")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, f), ROOT)
                if EXEMPT.search(path):
                    continue
                src = module_of(path)
                if src is None:
                    problems.append(f"{path}: in no layer; add its folder to scripts/check_layers.py and docs/architecture.md")
                    continue
                checked += 1
                text = open(os.path.join(ROOT, path), encoding="utf-8").read()
                for inc in INCLUDE.findall(text):
                    target = resolve(inc, path)
                    dst = module_of(target) if target else None
                    if dst is None:
                        continue
                    if dst[1] == src[1] or dst[0] < src[0]:
                        continue
                    problems.append(f"{path}: includes \"{inc}\" ({dst[1]}, layer {dst[0]}) from {src[1]} (layer {src[0]})")
    for p in problems:
        print(p)
    if EXPECT_WRONG_WAY:
        return 0 if any("includes" in p for p in problems) else 1
    if problems:
        print(f"{len(problems)} include(s) go the wrong way; see docs/architecture.md for the layers")
        return 1
    print(f"layers: {checked} files checked, every include goes down")
    return 0


ARGS = [a for a in sys.argv[1:] if a != "--expect-wrong-way"]
EXPECT_WRONG_WAY = "--expect-wrong-way" in sys.argv[1:]
ROOT = os.path.abspath(ARGS[0] if ARGS else os.path.join(os.path.dirname(__file__), ".."))
sys.exit(main())
