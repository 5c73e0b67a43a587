"""Processing time under a manual clock (weir.testing.ManualClock): state time-to-live and
processing-time timers and windows, moved by hand and so deterministic. The source is a file
source watching its folder, so the job stays up while the test moves the clock."""
import time

import pytest

from weir.common import Time, Types, WatermarkStrategy
from weir.common.time import Duration
from weir.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from weir.datastream.connectors.file_system import FileSource, StreamFormat
from weir.datastream.functions import ProcessWindowFunction
from weir.datastream.state import StateTtlConfig, ValueStateDescriptor
from weir.datastream.window import TumblingProcessingTimeWindows
from weir.testing import ManualClock


def lines_source(env, folder, lines):
    (folder / "in.txt").write_text("".join(l + "\n" for l in lines))
    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(folder)) \
        .monitor_continuously(Duration.of_seconds(3600)).build()
    return env.from_source(src, WatermarkStrategy.no_watermarks(), "lines")


def take(it, n):
    return [next(it) for _ in range(n)]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_state_time_to_live_follows_the_processing_time_clock(tmp_path, parallelism):
    class Remember(KeyedProcessFunction):
        def open(self, ctx):
            ttl = StateTtlConfig.new_builder(Time.milliseconds(100)).build()
            d = ValueStateDescriptor("seen", Types.STRING())
            d.enable_time_to_live(ttl)
            self.seen = ctx.get_state(d)

        def process_element(self, value, ctx):
            self.seen.update(value)
            now = ctx.timer_service().current_processing_time()
            ctx.timer_service().register_processing_time_timer(now + 50)
            ctx.timer_service().register_processing_time_timer(now + 150)
            yield ("written", value, now)

        def on_timer(self, timestamp, ctx):
            yield ("read", ctx.get_current_key(), timestamp, self.seen.value())

    clock = ManualClock(1000)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.set_clock(clock)
    out = lines_source(env, tmp_path, ["a", "b"]).key_by(lambda v: v).process(Remember())
    with out.execute_and_collect() as it:
        assert sorted(take(it, 2)) == [("written", "a", 1000), ("written", "b", 1000)]
        clock.advance(60)   # 1060: the first timers fire, the state (written at 1000) lives until 1100
        assert sorted(take(it, 2)) == [("read", "a", 1050, "a"), ("read", "b", 1050, "b")]
        clock.advance(100)  # 1160: expired, never returned
        assert sorted(take(it, 2)) == [("read", "a", 1150, None), ("read", "b", 1150, None)]


def test_processing_time_windows_fire_when_the_clock_passes_their_end(tmp_path):
    class Count(ProcessWindowFunction):
        def process(self, key, context, elements):
            w = context.window()
            yield (key, w.start, w.end, len(list(elements)))

    clock = ManualClock(0)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.set_clock(clock)
    out = lines_source(env, tmp_path, ["x", "y", "x", "x"]).key_by(lambda v: v) \
        .window(TumblingProcessingTimeWindows.of(Time.milliseconds(100))).process(Count())
    with out.execute_and_collect() as it:
        # The four lines are in the window operator (assigned at time 0) before the clock moves.
        deadline = time.time() + 60
        while sum(m["records_in"] for task, m in it._client.metrics().items() if task.startswith("Window")) < 4:
            assert time.time() < deadline, it._client.metrics()
            time.sleep(0.01)
        clock.advance(50)   # nothing fires before the window's end
        clock.advance(60)   # 110: the window [0, 100) fires
        assert sorted(take(it, 2)) == [("x", 0, 100, 3), ("y", 0, 100, 1)]
