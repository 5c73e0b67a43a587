"""Weir: PyFlink's DataStream API on a native stream engine, in this process.

The modules mirror PyFlink's (``weir.datastream``, ``weir.common``, ...); ``weir run job.py``
and ``python -m weir job.py`` also resolve ``pyflink`` imports to them.
"""
from . import _weir  # the extension, inside the package (installed, or in a build folder)

__version__ = "0.1.0"

from weir.common.types import Row as _Row  # noqa: E402
from weir.datastream.output_tag import OutputTag as _OutputTag  # noqa: E402
from weir.datastream.functions import RuntimeContext as _RuntimeContext  # noqa: E402

_weir._set_classes(_Row, _OutputTag)
_weir._set_runtime_context_class(_RuntimeContext)
