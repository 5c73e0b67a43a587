"""The ``weir`` command of the Python package: ``weir run job.py [args...]`` runs a Python job in
this interpreter; every other command goes to the engine's ``weir`` binary shipped in the
package (``weir version``, ``weir kafka-dev``, ``weir savepoint inspect``, ...)."""
import os
import runpy
import sys


def _binary():
    b = os.environ.get("WEIR_BIN")
    if b:
        return b
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "weir-bin")


def _status_line():
    """The jobs this process runs show a status line on stderr (records/s in and out, watermark
    lag, checkpoints, state, restarts): refreshed in place on a terminal, else a plain line every
    ``WEIR_STATUS`` seconds (default 10); none with ``WEIR_STATUS=off``, nor in a cluster's
    processes (``weir submit`` shows the job's own)."""
    setting = os.environ.pop("WEIR_STATUS", "")
    if os.environ.get("WEIR_TASK_DEPLOYMENT") or os.environ.get("WEIR_SUBMIT_FILES"):
        setting = "off"
    from weir import _weir
    _weir._status_line(setting)


def run_job(path, args):
    """Runs ``path`` as ``__main__`` with ``sys.argv = [path] + args``; ``pyflink`` imports
    resolve to ``weir``. Prints nothing of its own on stdout; its jobs' status line goes to
    stderr."""
    from weir import _pyflink
    _pyflink.install()
    _status_line()
    if not os.path.isfile(path):
        sys.stderr.write("weir run: no such file: %s\n" % path)
        return 2
    sys.argv = [path] + list(args)
    d = os.path.dirname(os.path.abspath(path))
    if d not in sys.path:
        sys.path.insert(0, d)
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write("%s\n" % code)
        return 1
    return 0


def _status_flags(argv):
    """``run``'s status flags before the job file (``-q``/``--quiet``, ``--status-interval N``)
    into WEIR_STATUS; returns the arguments after them, or None when one is malformed."""
    rest = list(argv)
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in ("-q", "--quiet"):
            os.environ["WEIR_STATUS"] = "off"
            continue
        value = None
        if flag == "--status-interval" and rest:
            value = rest.pop(0)
        elif flag.startswith("--status-interval="):
            value = flag.split("=", 1)[1]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            return None
        if not seconds > 0:
            return None
        if os.environ.get("WEIR_STATUS") != "off":
            os.environ["WEIR_STATUS"] = value
    return rest


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        rest = _status_flags(argv[1:])
        if rest is not None and rest and rest[0].endswith(".py"):
            return run_job(rest[0], rest[1:])
    if argv[:1] == ["run"] and len(argv) == 1:
        sys.stderr.write("usage: weir run [-q|--quiet] [--status-interval SECONDS] JOB.py [ARGS...]\n")
        return 2
    binary = _binary()
    if not os.path.exists(binary):
        sys.stderr.write("weir: the engine's binary is missing (%s); reinstall the package\n" % binary)
        return 127
    os.execv(binary, [binary] + argv)


if __name__ == "__main__":
    sys.exit(main())
