"""NumberSequenceSource at parallelism 1, 2, 4."""
import pytest

from weir.common import WatermarkStrategy
from weir.datastream.connectors import NumberSequenceSource
from weir.datastream.connectors.number_seq import NumberSequenceSource as FromModule

from conftest import collect


def test_number_sequence(env):
    s = env.from_source(NumberSequenceSource(1, 1000), WatermarkStrategy.no_watermarks(), "seq")
    out = collect(s.map(lambda x: x * 3))
    assert sorted(out) == [x * 3 for x in range(1, 1001)]
    assert all(type(x) is int for x in out)


def test_single_number_and_negative_range(env):
    assert collect(env.from_source(FromModule(5, 5), WatermarkStrategy.no_watermarks(), "one")) == [5]
    assert sorted(collect(env.from_source(FromModule(-3, 2), WatermarkStrategy.for_monotonous_timestamps(),
                                          "neg"))) == [-3, -2, -1, 0, 1, 2]


def test_wrong_arguments():
    with pytest.raises(ValueError, match="below"):
        NumberSequenceSource(5, 1)
    with pytest.raises(TypeError, match="int"):
        NumberSequenceSource(1.5, 3)
