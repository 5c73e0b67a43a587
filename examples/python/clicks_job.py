"""Clicks per page: JSON click events ({"page": ..., "ts": ...}, ts in epoch milliseconds) from
Kafka, counted per page in event-time tumbling windows of 5 seconds (watermarks 2 s behind the
largest timestamp); events later than that go to a side output. Both are printed as they come.

    weir run examples/python/clicks_job.py [--bootstrap localhost:9092] [--topic clicks]
"""
import argparse

from pyflink.common import Duration, Time, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import OutputTag, StreamExecutionEnvironment
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from pyflink.datastream.connectors import BadRecordPolicy
from pyflink.datastream.formats.json import JsonRowDeserializationSchema
from pyflink.datastream.functions import ProcessWindowFunction
from pyflink.datastream.window import TumblingEventTimeWindows


class ClickTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value["ts"]


class CountPerPage(ProcessWindowFunction):
    def process(self, key, context, elements):
        w = context.window()
        yield "page=%s window=[%d, %d) clicks=%d" % (key, w.start, w.end, sum(1 for _ in elements))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--topic", default="clicks")
    args, _ = parser.parse_known_args()

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    source = KafkaSource.builder() \
        .set_bootstrap_servers(args.bootstrap) \
        .set_topics(args.topic) \
        .set_group_id("clicks-job") \
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()) \
        .set_value_only_deserializer(JsonRowDeserializationSchema.builder()
                                     .type_info(Types.ROW_NAMED(["page", "ts"], [Types.STRING(), Types.LONG()]))
                                     .build()) \
        .set_bad_record_policy(BadRecordPolicy.skip()) \
        .build()
    watermarks = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(2)) \
        .with_timestamp_assigner(ClickTime())
    clicks = env.from_source(source, watermarks, "clicks")

    late = OutputTag("late-clicks", Types.ROW_NAMED(["page", "ts"], [Types.STRING(), Types.LONG()]))
    counts = clicks \
        .key_by(lambda c: c["page"], key_type=Types.STRING()) \
        .window(TumblingEventTimeWindows.of(Time.seconds(5))) \
        .side_output_late_data(late) \
        .process(CountPerPage(), Types.STRING())
    counts.print()
    counts.get_side_output(late).map(lambda c: "late: page=%s ts=%d" % (c["page"], c["ts"]), Types.STRING()).print()
    env.execute("clicks per page")


if __name__ == "__main__":
    main()
