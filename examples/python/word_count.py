"""Word count in PyFlink's DataStream API: `weir run examples/python/word_count.py [FILE...]`.

Counts the words of the files given (or of a few built-in lines) and prints the final count of
each word, as a bounded job in BATCH mode."""
import sys

from pyflink.common import Types
from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

LINES = [
    "the quick brown fox jumps over the lazy dog",
    "the dog barks and the fox runs",
    "a quick brown dog",
]


def main(paths):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.set_parallelism(1)
    lines = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            lines.extend(line.rstrip("\n") for line in f)
    ds = env.from_collection(lines or LINES, type_info=Types.STRING())
    ds.flat_map(lambda line: line.lower().split(), output_type=Types.STRING()) \
      .map(lambda w: (w, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
      .key_by(lambda t: t[0]) \
      .reduce(lambda a, b: (a[0], a[1] + b[1])) \
      .print()
    env.execute("word count")


if __name__ == "__main__":
    main(sys.argv[1:])
