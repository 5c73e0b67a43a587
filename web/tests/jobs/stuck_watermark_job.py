"""A job whose event-time watermark is stuck, for the web UI's browser tests: "clicks" (numbers
stamped with the wall clock as they are read, about 100 records/s per subtask) and "orders" (a file source watching
an empty folder: it never emits, and no idleness is configured) feed one-second event-time
windows. The windows' input watermark stays at the orders' (none): the watermarks page shows the
orders' subtasks holding it back.

    weir run stuck_watermark_job.py EMPTY_DIR [PARALLELISM] [N]
"""
import sys
import time

from pyflink.common import Duration, Time, WatermarkStrategy
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.datastream.connectors.number_seq import NumberSequenceSource
from pyflink.datastream.window import TumblingEventTimeWindows


def main():
    empty_dir = sys.argv[1]
    p = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000000
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)

    def slow(x):
        time.sleep(0.01)
        return x

    clicks = env.from_source(
        NumberSequenceSource(1, n),
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, ts: int(time.time() * 1000)),
        "clicks").map(slow).name("pace")
    orders = env.from_source(
        FileSource.for_record_stream_format(StreamFormat.text_line_format(), empty_dir)
        .monitor_continuously(Duration.of_millis(500)).build(),
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda line, ts: int(line)),
        "orders").map(int).name("parse")
    clicks.union(orders).key_by(lambda x: x % 4) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1))).reduce(lambda a, b: a + b).name("sums") \
        .add_sink(lambda v: None).name("discard")
    env.execute("stuck watermark")


if __name__ == "__main__":
    main()
