"""PyFlink's own DataStream examples (from the apache-flink wheel that scripts/install-deps.sh
downloads) run unchanged under `python -m weir` and print what PyFlink printed
(pyflink_expected/). Lines are compared as a multiset: the order across parallel subtasks is
not fixed in either engine, and the `N> ` prefix of keyed output names the subtask a key landed
on, which differs (Weir hashes its own key encoding, PyFlink a Java object)."""
import glob
import os
import re
import subprocess
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
EXAMPLES = ["basic_operations", "event_time_timer", "process_json_data", "state_access", "word_count",
            "windowing/session_with_dynamic_gap_window", "windowing/session_with_gap_window",
            "windowing/sliding_time_window", "windowing/tumbling_count_window",
            "windowing/tumbling_time_window"]


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    wheels = glob.glob(os.path.join(ROOT, ".venv", "pyflink-wheel", "apache_flink-*.whl"))
    assert wheels, "the apache-flink wheel is missing: run scripts/install-deps.sh"
    out = tmp_path_factory.mktemp("pyflink-examples")
    with zipfile.ZipFile(wheels[0]) as z:
        for name in z.namelist():
            if name.startswith("pyflink/examples/datastream/") and name.endswith(".py"):
                z.extract(name, out)
    return out / "pyflink" / "examples" / "datastream"


def normalise(text):
    return sorted(re.sub(r"^\d+> ", "", line) for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("name", EXAMPLES)
def test_pyflink_example_prints_what_pyflink_prints(examples, name, tmp_path):
    path = examples / (name + ".py")
    r = subprocess.run([sys.executable, "-m", "weir", str(path)], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    with open(os.path.join(HERE, "pyflink_expected", name.replace("/", "_") + ".out")) as f:
        expected = f.read()
    assert normalise(r.stdout) == normalise(expected)
