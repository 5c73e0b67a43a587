#!/usr/bin/env bash
# The measurement behind the Python extension's choice of binding library: call overhead of
# nanobind vs pybind11, Python → C++ (free functions, bound methods) and C++ → Python (the
# library's call API vs PyObject_Vectorcall, on the caller's and on a worker thread), each timed
# back to back with a plain-Python equivalent in one process (robust to a noisy machine).
#   bench/python/binding_overhead/run.sh [OUT.json]
# Needs PyPI (a throw-away virtual environment with nanobind and pybind11).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check nanobind pybind11
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG"
        -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF -DPython_EXECUTABLE="$py")
cmake -S "$here/nb" -B "$work/nb" "${common[@]}" -Dnanobind_DIR="$("$py" -m nanobind --cmake_dir)" >/dev/null
cmake --build "$work/nb" -j1 >/dev/null
cmake -S "$here/pb" -B "$work/pb" "${common[@]}" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$work/pb" -j1 >/dev/null
BENCH_MODULE_PATH="$work/nb:$work/pb" "$py" "$here/bench_ab.py" "${1:-$work/out.json}"
