"""A job that fails, for the web UI's browser tests: a map raises on record 50 of 1..100 (a
Python traceback in the job's exceptions); no restarts.

    weir run failing_job.py
"""
from pyflink.common import RestartStrategies
from pyflink.datastream import StreamExecutionEnvironment


def check(x):
    if x == 50:
        raise ValueError("record 50 is not welcome here")
    return x


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_restart_strategy(RestartStrategies.no_restart())
    env.from_sequence(1, 100).map(check).name("check").add_sink(lambda v: None).name("discard")
    env.execute("failing job")


if __name__ == "__main__":
    main()
