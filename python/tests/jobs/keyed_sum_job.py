"""A job for the checkpoint tests: running sums per key over 1..N, with keyed state in a
KeyedProcessFunction, checkpoints every 50 ms, and each output line appended to a file. It
resumes from the newest checkpoint in its folder when there is one.

    python -m weir keyed_sum_job.py N CHECKPOINT_DIR OUTPUT_FILE PARALLELISM
"""
import os
import sys
import time

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from pyflink.datastream.state import ValueStateDescriptor


def newest_snapshot(d):
    best, best_id = None, -1
    for root, dirs, files in os.walk(d):
        name = os.path.basename(root)
        if "_metadata" in files and name.startswith("chk-"):
            n = int(name[4:])
            if n > best_id:
                best, best_id = root, n
    return best


class RunningSum(KeyedProcessFunction):
    def open(self, ctx):
        self.sum = ctx.get_state(ValueStateDescriptor("sum", Types.LONG()))
        self.seen = ctx.get_state(ValueStateDescriptor("seen", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value, ctx):
        s = (self.sum.value() or 0) + value
        self.sum.update(s)
        seen = self.seen.value() or {"count": 0}
        seen["count"] += 1
        self.seen.update(seen)
        yield "%s %d %d" % (ctx.get_current_key(), s, seen["count"])


class AppendLines(object):
    def __init__(self, path):
        self.path = path
        self.f = None

    def __call__(self, line):
        if self.f is None:
            self.f = open(self.path, "a", buffering=1)
        self.f.write(line + "\n")


def slow(x):
    if x % 10 == 0:
        time.sleep(0.001)
    return x


def main():
    n, ckpt, out, p = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    env.enable_checkpointing(50)
    env.get_checkpoint_config().set_checkpoint_storage_dir(ckpt)
    snap = newest_snapshot(ckpt)
    if snap:
        env.set_savepoint_restore(snap)
    env.from_sequence(1, n).map(slow).uid("slow") \
        .key_by(lambda x: "k%d" % (x % 7)).process(RunningSum()).uid("sums") \
        .add_sink(AppendLines(out))
    env.execute("keyed sums")


if __name__ == "__main__":
    main()
