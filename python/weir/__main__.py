"""``python -m weir job.py [args...]``: runs a job file as ``__main__`` with ``pyflink`` imports
resolved to ``weir``."""
import sys

from weir.cli import main

if __name__ == "__main__":
    sys.exit(main(["run"] + sys.argv[1:]))
