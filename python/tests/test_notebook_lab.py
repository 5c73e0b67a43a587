"""The example notebook in JupyterLab, in headless Chromium driven by playwright-core: all
cells run, and the live table of the counts changes between two reads while the job runs,
then the view says FINISHED. Saves a screenshot of the live view (the test's output folder;
docs/images/notebook-live.png when that is missing or WEIR_UPDATE_DOCS_IMAGES=1)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from notebook_support import KERNEL, REPO, copy_example, install_kernelspec, needs_jupyter, weir_pythonpath

CHROMIUM = os.environ.get("WEIR_CHROMIUM", "/usr/bin/chromium")


def _playwright_core():
    """playwright-core from web/node_modules (the web UI's dev dependencies), else the folder
    WEIR_PLAYWRIGHT_CORE names (a package folder, or a prefix holding node_modules/)."""
    candidates = [os.path.join(REPO, "web", "node_modules", "playwright-core")]
    override = os.environ.get("WEIR_PLAYWRIGHT_CORE")
    if override:
        candidates += [override, os.path.join(override, "node_modules", "playwright-core")]
    for c in candidates:
        try:
            with open(os.path.join(c, "package.json")) as f:
                if json.load(f).get("name") == "playwright-core":
                    return c
        except (OSError, ValueError):
            pass
    return None


def _has_workspace():
    try:
        import weir.workspace  # noqa: F401
        return True
    except ImportError:
        return False


def _has_lab():
    import importlib.util
    return importlib.util.find_spec("jupyterlab") is not None


pytestmark = [
    needs_jupyter,
    pytest.mark.skipif(not _has_lab(), reason="needs jupyterlab (python/requirements-dev.txt)"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Debian's chromium (apt-get install chromium)"),
    pytest.mark.skipif(shutil.which("node") is None, reason="needs node"),
    pytest.mark.skipif(_playwright_core() is None,
                       reason="needs playwright-core in web/node_modules or WEIR_PLAYWRIGHT_CORE"),
]


def _output_dir():
    build = os.path.dirname(weir_pythonpath())  # build/<preset>
    d = os.path.join(build, "test-output", "notebook")
    if not os.access(build, os.W_OK):
        d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "weir-test-output", "notebook")
    os.makedirs(d, exist_ok=True)
    return d


def _start_lab(root, env, log):
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", "--port=0",
           "--ServerApp.port_retries=0", "--IdentityProvider.token=" + env["LAB_TOKEN"],
           "--ServerApp.root_dir=" + root, "--LabApp.expose_app_in_browser=True",
           "--LabApp.extension_manager=readonly", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _server_url(runtime_dir, proc, timeout=90):
    """The server's URL from the jpserver-PID.json it writes once it listens."""
    path = os.path.join(runtime_dir, "jpserver-%d.json" % proc.pid)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("jupyter lab exited with %s" % proc.returncode)
        if os.path.isfile(path):
            try:
                with open(path) as f:
                    return json.load(f)["url"]
            except (ValueError, KeyError):
                pass  # being written
        time.sleep(0.1)
    raise AssertionError("jupyter lab did not start within %d s" % timeout)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_clicks_notebook_updates_live_in_jupyterlab(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    nb_path = copy_example("clicks.ipynb", str(root))
    with open(nb_path) as f:
        nb = json.load(f)
    nb["metadata"]["kernelspec"] = {"name": KERNEL, "display_name": "Weir test (this build)", "language": "python"}
    with open(nb_path, "w") as f:
        json.dump(nb, f)
    jupyter = tmp_path / "jupyter"
    # No news pop-up over the notebook.
    settings = jupyter / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = dict(os.environ)
    env.pop("WEIR_KAFKA_BOOTSTRAP", None)  # the notebook's own weir kafka-dev
    env.pop("WEIR_COORDINATOR", None)
    env.update({
        "JUPYTER_PATH": install_kernelspec(str(jupyter / "path")),
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces"),
        "CLICKS_SPEED": "3",  # about 20 s of clicks: long enough to watch
        "WEIR_NOTEBOOK_UI": "127.0.0.1:0",  # the web UI in the kernel: the view links to it
        "LAB_TOKEN": uuid.uuid4().hex,
    })
    out_dir = _output_dir()
    shot = os.path.join(out_dir, "notebook-live.png")
    with open(tmp_path / "lab.log", "wb") as log:
        lab = _start_lab(str(root), env, log)
        try:
            url = _server_url(env["JUPYTER_RUNTIME_DIR"], lab)
            assert url.startswith("http://127.0.0.1:")
            drv = dict(env, PLAYWRIGHT_CORE=_playwright_core(), CHROMIUM=CHROMIUM, LAB_URL=url,
                       NOTEBOOK="clicks.ipynb", SCREENSHOT=shot)
            r = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "jupyterlab_live.js")], env=drv,
                               capture_output=True, text=True, timeout=200)
        finally:
            _stop(lab)
    if r.returncode != 0:
        with open(tmp_path / "lab.log", errors="replace") as f:
            raise AssertionError("browser driver failed:\n%s\n--- jupyter lab log ---\n%s" % (r.stderr, f.read()[-4000:]))
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    first, second = seen["reads"]
    assert first and second and first != second, "the table did not change: %s" % json.dumps(seen)
    assert seen["states"][0] in ("RUNNING", "FINISHED")
    assert seen["states"][-1] == "FINISHED"
    # The final table: one row per page, each with a count.
    lines = [l.split("\t") for l in seen["final"].splitlines()]
    assert sorted(l[0] for l in lines) == ["/cart", "/checkout", "/help", "/home", "/search"], seen["final"]
    assert all(int(l[2]) > 0 for l in lines)
    assert seen["bars"] == 5
    assert seen["checked"]
    if _has_workspace():
        assert seen["ui_link"].startswith("http://127.0.0.1:"), seen["ui_link"]
    assert os.path.getsize(shot) > 10000
    docs = os.path.join(REPO, "docs", "images", "notebook-live.png")
    if os.environ.get("WEIR_UPDATE_DOCS_IMAGES") == "1" or not os.path.exists(docs):
        os.makedirs(os.path.dirname(docs), exist_ok=True)
        shutil.copy(shot, docs)
