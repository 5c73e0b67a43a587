"""A slow job for the web UI's browser tests: the numbers 1..N at RATE records/s on average
(swinging by half, so the rates move), keyed running counts, formatted after a rebalance,
checkpoints every 500 ms, and a sink that drops the results. It runs for about N/RATE seconds
unless cancelled.

    weir run slow_job.py [N] [RATE] [CHECKPOINT_DIR]

N is 1000000 and RATE 200 by default; the checkpoints go to CHECKPOINT_DIR, else to
$SLOW_JOB_CHECKPOINT_DIR, else to a new temporary folder.
"""
import math
import os
import sys
import tempfile
import time

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from pyflink.datastream.state import ValueStateDescriptor


class Throttle(object):
    """Passes records on at a rate that swings between 0.5 and 1.5 times `rate` per second (per
    subtask) over a 4-second period, so the UI's rates visibly move."""

    def __init__(self, rate):
        self.rate = rate
        self.start = None
        self.count = 0

    def _due(self, t):
        # The integral of rate * (1 + 0.5 * cos(2 pi t / 4)).
        return self.rate * (t + 0.5 * 4 / (2 * math.pi) * math.sin(2 * math.pi * t / 4))

    def __call__(self, x):
        if self.start is None:
            self.start = time.monotonic()
        self.count += 1
        while self._due(time.monotonic() - self.start) < self.count:
            time.sleep(0.002)
        return x


class RunningCount(KeyedProcessFunction):
    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, value, ctx):
        c = (self.count.value() or 0) + 1
        self.count.update(c)
        yield (ctx.get_current_key(), c)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0
    ckpt = (sys.argv[3] if len(sys.argv) > 3 else os.environ.get("SLOW_JOB_CHECKPOINT_DIR")
            or tempfile.mkdtemp(prefix="weir-slow-job-"))
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(500)
    env.get_checkpoint_config().set_checkpoint_storage_dir(ckpt)
    env.from_sequence(1, n).map(Throttle(rate)).name("throttle") \
        .key_by(lambda x: x % 8).process(RunningCount()).name("running counts") \
        .rebalance().map(lambda kc: "%s %d" % kc).name("format") \
        .add_sink(lambda v: None).name("discard")
    env.execute("slow counts")


if __name__ == "__main__":
    main()
