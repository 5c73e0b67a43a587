"""Helpers of the notebook tests: a kernelspec for this interpreter (in a temporary
JUPYTER_PATH) whose kernels import the `weir` package of this build, and notebook execution with
nbclient."""
import json
import os
import shutil
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples", "notebooks")
KERNEL = "weir-test-python"


def _has(*modules):
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in modules)


needs_jupyter = pytest.mark.skipif(
    not _has("nbclient", "nbformat", "ipykernel", "ipywidgets"),
    reason="needs nbclient, nbformat, ipykernel and ipywidgets (python/requirements-dev.txt)")


def weir_pythonpath():
    """The folder that holds the imported `weir` package (the build's)."""
    import weir
    return os.path.dirname(os.path.dirname(os.path.abspath(weir.__file__)))


def install_kernelspec(base, extra_env=None):
    """Writes a kernelspec named KERNEL under base/kernels and returns the JUPYTER_PATH entry.
    Its kernels run this interpreter with PYTHONPATH reaching this build's `weir` package."""
    d = os.path.join(base, "kernels", KERNEL)
    os.makedirs(d, exist_ok=True)
    env = {"PYTHONPATH": os.pathsep.join(p for p in [weir_pythonpath(), os.environ.get("PYTHONPATH")] if p),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra_env or {})
    with open(os.path.join(d, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                   "display_name": "Weir test (this build)", "language": "python", "env": env}, f)
    return base


def execute_notebook(nb, cwd, timeout=240, extra_env=None, jupyter_dir=None):
    """Executes `nb` (nbformat node) with nbclient in a kernel of this build; returns it with
    its outputs."""
    import nbclient
    base = install_kernelspec(jupyter_dir or os.path.join(cwd, ".jupyter-path"), extra_env)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = base + (os.pathsep + old if old else "")
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, allow_errors=False,
                                         store_widget_state=True, resources={"metadata": {"path": cwd}})
        client.execute()
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    return nb


def stream_text(cell):
    """The text a cell printed (stdout)."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def widget_views(cell):
    """The widget model ids a cell displayed."""
    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data:
            out.append(data["application/vnd.jupyter.widget-view+json"]["model_id"])
    return out


def copy_example(name, dest):
    shutil.copy(os.path.join(EXAMPLES, name), os.path.join(dest, name))
    return os.path.join(dest, name)
