import pytest

from weir.datastream import StreamExecutionEnvironment


@pytest.fixture(params=[1, 2, 4], ids=lambda p: "p%d" % p)
def env(request):
    e = StreamExecutionEnvironment.get_execution_environment()
    e.set_parallelism(request.param)
    return e


def collect(stream):
    with stream.execute_and_collect() as it:
        return list(it)
