"""The workspace served from this process: Weir's REST API (Flink's paths), Prometheus
``/metrics`` and the web UI, listing every job this process runs.

    >>> from weir import workspace
    >>> ui = workspace.serve()          # 127.0.0.1, a free port
    >>> ui.url                          # open it: the token is in the fragment
    'http://127.0.0.1:40123/#token=...'

Jobs started afterwards with ``env.execute_async()`` (or ``execute()`` on another thread) show in
it while they run and after they end. The server stops with ``ui.stop()`` or when the process
exits.
"""
from weir import _weir

_current = None


def serve(bind="127.0.0.1:0", token=None, web_root=None):
    """Starts serving the workspace on ``bind`` (``host:port``; port 0 picks a free one) and
    returns the server (``.address``, ``.url``, ``.token``, ``.stop()``). ``token`` is what
    changing routes need (cancel, savepoint); a random one when not given. Binds to 127.0.0.1
    unless told otherwise."""
    global _current
    server = _weir._serve_workspace(bind, token or "", web_root or "")
    _current = server
    return server


def current():
    """The server ``serve`` started last in this process, or None."""
    return _current
