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


def run_job(path, args):
    """Runs ``path`` as ``__main__`` with ``sys.argv = [path] + args``; ``pyflink`` imports
    resolve to ``weir``. Prints nothing of its own."""
    from weir import _pyflink
    _pyflink.install()
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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "run" and argv[1].endswith(".py"):
        return run_job(argv[1], argv[2:])
    if argv[:1] == ["run"] and len(argv) == 1:
        sys.stderr.write("usage: weir run JOB.py [ARGS...]\n")
        return 2
    binary = _binary()
    if not os.path.exists(binary):
        sys.stderr.write("weir: the engine's binary is missing (%s); reinstall the package\n" % binary)
        return 127
    os.execv(binary, [binary] + argv)


if __name__ == "__main__":
    sys.exit(main())
