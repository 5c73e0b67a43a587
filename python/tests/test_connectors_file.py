"""FileSource (text lines) and FileSink (row format, exactly-once with checkpoints), compared
with the expected lines, at parallelism 1, 2, 4; a job killed with SIGKILL and restarted from its
last checkpoint loses and duplicates nothing."""
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from checkpoint_support import completed_checkpoints, kill_after_checkpoints
from weir.common import Duration, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import OutputTag, StreamExecutionEnvironment
from weir.datastream.connectors import BadRecordPolicy
from weir.datastream.connectors.file_system import (FileSink, FileSource, OutputFileConfig, RollingPolicy,
                                                    StreamFormat)

from conftest import collect


def visible_lines(folder):
    lines = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            lines.extend(f.read().splitlines())
    return lines


def write_files(folder, n_files, n_lines):
    os.makedirs(folder, exist_ok=True)
    expected = []
    for f in range(n_files):
        lines = ["file%d-line%d" % (f, i) for i in range(n_lines)]
        with open(os.path.join(folder, "in-%d.txt" % f), "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        expected += lines
    return expected


def test_file_source_lines(env, tmp_path):
    expected = write_files(str(tmp_path / "in"), 5, 200)
    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(tmp_path / "in")) \
        .process_static_file_set().build()
    out = collect(env.from_source(src, WatermarkStrategy.no_watermarks(), "files").map(lambda s: s[::-1]))
    assert Counter(out) == Counter(s[::-1] for s in expected)


def test_read_text_file_and_several_paths(env, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("x\ny\n", encoding="utf-8")
    b.write_text("ü\n\nz", encoding="utf-8")
    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(a), str(b)).build()
    assert sorted(collect(env.from_source(src, WatermarkStrategy.no_watermarks(), "two"))) == sorted(
        ["x", "y", "ü", "", "z"])
    assert sorted(collect(env.read_text_file(str(a)))) == ["x", "y"]


def test_long_lines_follow_the_bad_record_policy(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("short\n" + "x" * 100 + "\nok\n", encoding="utf-8")
    env = StreamExecutionEnvironment.get_execution_environment()
    tag = OutputTag("too-long")
    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(f)) \
        .set_max_record_bytes(50).set_bad_record_policy(BadRecordPolicy.dead_letter(tag)).build()
    s = env.from_source(src, WatermarkStrategy.no_watermarks(), "long")
    letters = s.get_side_output(tag).map(lambda b: b.origin)
    q_main = s.map(lambda x: ("main", x))
    out = collect(q_main.union(letters.map(lambda o: ("bad", o))))
    assert sorted(x for k, x in out if k == "main") == ["ok", "short"]
    bad = [x for k, x in out if k == "bad"]
    assert len(bad) == 1 and "line 2" in bad[0]


def test_file_sink_without_checkpoints(env, tmp_path):
    data = ["r%d" % i for i in range(1000)]
    sink = FileSink.for_row_format(str(tmp_path / "out"), Encoder.simple_string_encoder()) \
        .with_output_file_config(OutputFileConfig.builder().with_part_prefix("pre").with_part_suffix(".txt").build()) \
        .with_rolling_policy(RollingPolicy.default_rolling_policy(part_size=1000)) \
        .build()
    env.from_collection(data).map(lambda x: x + "!").sink_to(sink)
    env.execute("sink")
    names = [n for n in os.listdir(str(tmp_path / "out")) if not n.startswith(".")]
    assert names and all(n.startswith("pre-") and n.endswith(".txt") for n in names)
    assert Counter(visible_lines(str(tmp_path / "out"))) == Counter(x + "!" for x in data)


JOB = textwrap.dedent("""
    import sys, time
    from weir.common import WatermarkStrategy
    from weir.common.serialization import Encoder
    from weir.datastream import StreamExecutionEnvironment
    from weir.datastream.connectors.file_system import FileSink, FileSource, StreamFormat
    inp, out, chk, p, restore = sys.argv[1:6]
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(int(p))
    env.enable_checkpointing(100)
    env.get_checkpoint_config().set_checkpoint_storage_dir(chk)
    if restore != "-":
        env.set_savepoint_restore(restore)

    def paced(x):
        time.sleep(0.001)  # pacing only, so that the job is still running when it is killed
        return x.upper()

    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), inp).build()
    env.from_source(src, WatermarkStrategy.no_watermarks(), "in").map(paced) \\
        .sink_to(FileSink.for_row_format(out, Encoder.simple_string_encoder()).build())
    env.execute("exactly once files")
""")


@pytest.mark.parametrize("p", [1, 2, 4])
def test_file_sink_exactly_once_after_kill(tmp_path, p):
    expected = write_files(str(tmp_path / "in"), 4, 1500)
    job = tmp_path / "job.py"
    job.write_text(JOB, encoding="utf-8")
    out, chk = str(tmp_path / "out"), str(tmp_path / "chk")
    os.makedirs(out)
    args = [sys.executable, str(job), str(tmp_path / "in"), out, chk, str(p)]
    first = subprocess.Popen(args + ["-"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_after_checkpoints(first, chk, at_least=3, also=lambda: bool(visible_lines(out)))
    assert len(visible_lines(out)) < len(expected), "the job had written everything before the kill"
    latest = completed_checkpoints(chk)[-1][1]
    second = subprocess.run(args + [latest], capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr.decode()
    got = visible_lines(out)
    assert Counter(got) == Counter(x.upper() for x in expected)
    assert not [n for n in os.listdir(out) if n.startswith(".")], "hidden part files left behind"


def test_timestamp_assigner_of_the_watermark_strategy(env, tmp_path):
    from weir.datastream import ProcessFunction

    class Stamp(ProcessFunction):
        def process_element(self, value, ctx):
            yield value, ctx.timestamp()

    f = tmp_path / "ts.txt"
    f.write_text("\n".join(str(1000 + i) for i in range(100)) + "\n", encoding="utf-8")
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1)) \
        .with_timestamp_assigner(lambda v, ts: int(v) * 2)
    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(f)).build()
    out = collect(env.from_source(src, strategy, "ts").process(Stamp()))
    assert sorted(out) == [(str(1000 + i), (1000 + i) * 2) for i in range(100)]
