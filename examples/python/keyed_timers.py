"""Event-time timers and keyed state: `weir run examples/python/keyed_timers.py`.

Sessions of activity per user: each click extends the user's session; when no click comes for
10 seconds of event time, the session closes and its click count is printed. Clicks may come
out of order by up to 2 seconds."""
from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from pyflink.datastream.state import ValueStateDescriptor

GAP = 10_000


class ClickTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[1]


class Sessions(KeyedProcessFunction):
    def open(self, runtime_context):
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.INT()))
        self.end = runtime_context.get_state(ValueStateDescriptor("end", Types.LONG()))

    def process_element(self, value, ctx):
        end = self.end.value()
        if end is not None:
            ctx.timer_service().delete_event_time_timer(end)
            if ctx.timestamp() >= end:
                # the session ended before this click, even if the watermark has not said so yet
                yield self.closed(ctx.get_current_key(), end)
                end = None
        new_end = max(end or 0, ctx.timestamp() + GAP)
        self.end.update(new_end)
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(new_end)

    def on_timer(self, timestamp, ctx):
        yield self.closed(ctx.get_current_key(), timestamp)

    def closed(self, user, end):
        line = "session of %s ended at %d: %d clicks" % (user, end, self.count.value())
        self.count.clear()
        self.end.clear()
        return line


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    clicks = [("ann", 1_000), ("bob", 2_000), ("ann", 4_000), ("ann", 3_000), ("ann", 30_000),
              ("bob", 40_000), ("bob", 45_000), ("ann", 60_000)]
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(2)) \
        .with_timestamp_assigner(ClickTime())
    env.from_collection(clicks, Types.TUPLE([Types.STRING(), Types.LONG()])) \
        .assign_timestamps_and_watermarks(strategy) \
        .key_by(lambda c: c[0]) \
        .process(Sessions(), Types.STRING()) \
        .print()
    env.execute("sessions")


if __name__ == "__main__":
    main()
