"""Kafka exactly-once on a cluster of real processes: a Python job reads a topic and writes
another with Kafka transactions, submitted with `weir submit` to a coordinator and three
workers; one worker running part of the job is killed with SIGKILL mid-stream. The committed
output holds every record exactly once (read_committed, counted)."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from kafka_support import BOOTSTRAP, count_messages, needs_kafka, new_topic, produce, read_back

pytestmark = [needs_kafka, pytest.mark.skipif(not os.environ.get("WEIR_BIN"), reason="needs the weir binary (WEIR_BIN)")]

JOB = textwrap.dedent("""
    import sys, time
    from weir.common import WatermarkStrategy
    from weir.common.serialization import SimpleStringSchema
    from weir.datastream import StreamExecutionEnvironment
    from weir.datastream.connectors import DeliveryGuarantee
    from weir.datastream.connectors.kafka import (KafkaOffsetsInitializer, KafkaRecordSerializationSchema, KafkaSink,
                                                  KafkaSource)
    bootstrap, src, dst = sys.argv[1:4]
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(100)

    def paced(x):
        time.sleep(0.002)  # pacing only, so that the job is still running when a worker is killed
        return x.upper()

    source = KafkaSource.builder().set_bootstrap_servers(bootstrap).set_topics(src) \\
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()).set_bounded(KafkaOffsetsInitializer.latest()) \\
        .set_value_only_deserializer(SimpleStringSchema()).build()
    sink = KafkaSink.builder().set_bootstrap_servers(bootstrap) \\
        .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(dst)
                               .set_value_serialization_schema(SimpleStringSchema()).build()) \\
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE).set_transactional_id_prefix("cluster-" + dst).build()
    env.from_source(source, WatermarkStrategy.no_watermarks(), "in").uid("in").map(paced).uid("upper") \\
        .sink_to(sink).uid("out")
    env.execute("exactly once kafka on a cluster")
""")


def test_kafka_exactly_once_on_a_cluster_survives_kill_9_of_a_worker(tmp_path):
    weir = os.environ["WEIR_BIN"]
    env = dict(os.environ)
    env["WEIR_PYTHON"] = sys.executable
    src, dst = new_topic(), new_topic()
    lines = ["k%d" % i for i in range(3000)]
    produce(src, lines, partition=None)
    procs = []
    try:
        coord = subprocess.Popen([weir, "coordinator", "--bind", "127.0.0.1:0", "--checkpoint-dir", str(tmp_path / "ck"),
                                  "--heartbeat-interval", "200", "--heartbeat-timeout", "1500"],
                                 stdout=subprocess.PIPE, stderr=open(tmp_path / "coord.log", "w"), text=True, env=env)
        procs.append(coord)
        address = coord.stdout.readline().strip()
        workers = []
        for i in range(3):
            w = subprocess.Popen([weir, "worker", "--coordinator", address, "--slots", "1", "--id", "w%d" % i,
                                  "--work-dir", str(tmp_path / ("w%d" % i))],
                                 stdout=open(tmp_path / ("w%d.log" % i), "w"), stderr=subprocess.STDOUT, env=env)
            procs.append(w)
            workers.append(w)
        deadline = time.time() + 30
        while time.time() < deadline and not all(
                "registered with the coordinator" in (tmp_path / ("w%d.log" % i)).read_text() for i in range(3)):
            time.sleep(0.05)
        job = tmp_path / "job.py"
        job.write_text(JOB)
        submit = subprocess.Popen([weir, "submit", "--coordinator", address, str(job), BOOTSTRAP, src, dst],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        procs.append(submit)
        # Kill w0 (it holds slot 0) once checkpoints have completed and some output is committed.
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = subprocess.run([weir, "list", "--coordinator", address, "--json"], capture_output=True, text=True)
            if '"checkpoints":' in listed.stdout and '"checkpoints":0' not in listed.stdout and \
                    '"checkpoints":1,' not in listed.stdout and '"checkpoints":2,' not in listed.stdout:
                break
            time.sleep(0.05)
        assert submit.poll() is None, "the job ended before the kill"
        workers[0].send_signal(signal.SIGKILL)
        out, err = submit.communicate(timeout=240)
        assert submit.returncode == 0, err + (tmp_path / "coord.log").read_text()
        assert "attempt 1 runs" in (tmp_path / "coord.log").read_text()
        got = read_back(dst, len(lines))
        assert Counter(got) == Counter(x.upper() for x in lines)
        assert len(count_messages(dst)) == len(lines), "duplicates in the committed output"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
