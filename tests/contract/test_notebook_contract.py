"""The notebook API as the workspace issue writes it: `%load_ext weir.notebook`, then a stream's
`display()` or `weir.notebook.display(stream)` runs the job in the background and shows its rows;
checked here in an IPython shell (the nbclient and JupyterLab tests run it in real kernels)."""
import pytest

IPython = pytest.importorskip("IPython")


def test_load_ext_then_display_in_both_forms():
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "weir.notebook")
    ip.run_cell("""
from weir.common import Types
from weir.datastream import StreamExecutionEnvironment
import weir.notebook
env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(2)
words = ["a", "b", "a", "c", "a", "b"]
counts = env.from_collection(words, type_info=Types.STRING()).map(lambda w: (w, 1)) \\
    .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
live = counts.display()
env2 = StreamExecutionEnvironment.get_execution_environment()
live2 = weir.notebook.display(env2.from_collection([1, 2, 3], type_info=Types.LONG()))
""", store_history=False).raise_error()
    live, live2 = ip.user_ns["live"], ip.user_ns["live2"]
    assert live.wait(60) == "FINISHED", live.error
    assert {k: row[1] for k, row in live.latest.items()} == {"a": 3, "b": 2, "c": 1}
    assert live2.wait(60) == "FINISHED", live2.error
    assert sorted(live2.rows) == [1, 2, 3]
