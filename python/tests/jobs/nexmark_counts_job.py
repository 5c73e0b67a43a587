"""A job for the Nexmark source's checkpoint test: per event type, the running count of events
and sum of their dateTime in keyed state over NexmarkSource(N events at 1,000 events/s, seed 7),
checkpoints every 50 ms, each output line appended to a file. It resumes from the newest
checkpoint in its folder when there is one.

    python -m weir nexmark_counts_job.py N CHECKPOINT_DIR OUTPUT_FILE PARALLELISM
"""
import sys
import time

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from pyflink.datastream.state import ValueStateDescriptor

from keyed_sum_job import AppendLines, newest_snapshot
from weir.nexmark import NexmarkSource


class Counts(KeyedProcessFunction):
    def open(self, ctx):
        self.state = ctx.get_state(ValueStateDescriptor("counts", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, e, ctx):
        count, total = self.state.value() or (0, 0)
        count, total = count + 1, total + e.dateTime
        self.state.update((count, total))
        yield "%d %d %d" % (e.event_type, total, count)


def slow(e):
    if e.dateTime % 10 == 0:
        time.sleep(0.001)
    return e


def main():
    n, ckpt, out, p = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    env.enable_checkpointing(50)
    env.get_checkpoint_config().set_checkpoint_storage_dir(ckpt)
    snap = newest_snapshot(ckpt)
    if snap:
        env.set_savepoint_restore(snap)
    env.from_source(NexmarkSource(events=n, rate=1000, seed=7), NexmarkSource.watermark_strategy(), "nexmark") \
        .uid("nexmark").map(slow).uid("slow") \
        .key_by(lambda e: e.event_type).process(Counts()).uid("counts") \
        .add_sink(AppendLines(out))
    env.execute("nexmark counts")


if __name__ == "__main__":
    main()
