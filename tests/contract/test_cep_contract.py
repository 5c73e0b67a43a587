"""weir.cep as the CEP issue writes it for Python: `Pattern.begin("a").where(lambda e: ...)
.next("b")...`, `CEP.pattern(stream, p).select(fn)`, timeouts with an OutputTag; the same login
case as the C++ contract, results checked."""
from weir.cep import CEP, AfterMatchSkipStrategy, Pattern
from weir.common import Duration, Time, WatermarkStrategy
from weir.common.watermark_strategy import TimestampAssigner
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.output_tag import OutputTag

LOGINS = [("alice", False, 1000), ("bob", False, 1500), ("alice", False, 2000), ("carol", False, 2100),
          ("alice", False, 3000), ("bob", False, 3500), ("carol", False, 3600), ("alice", True, 4000),
          ("bob", True, 4500), ("carol", False, 4600), ("carol", True, 130000)]


class Ts(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[2]


def logins(env):
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(Ts())
    return env.from_collection(LOGINS).assign_timestamps_and_watermarks(strategy).key_by(lambda e: e[0])


def test_the_login_pattern_with_select_and_timeouts():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    p = Pattern.begin("fails", AfterMatchSkipStrategy.skip_past_last_event()) \
        .where(lambda e: not e[1]).times(3).consecutive() \
        .next("success").where(lambda e: e[1]) \
        .within(Time.minutes(1))
    timed_out = OutputTag("timed-out")
    alerts = CEP.pattern(logins(env), p).select(
        timed_out, lambda m, ts: "%s timed out at %d" % (m["fails"][0][0], ts), lambda m: m["success"][0][0])
    with alerts.execute_and_collect() as it:
        matched = sorted(it)
    assert matched == ["alice"]


def test_timeouts_go_to_the_output_tag():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    p = Pattern.begin("fails").where(lambda e: not e[1]).times(3).consecutive() \
        .followed_by("success").where(lambda e: e[1]).within(Time.minutes(1))
    timed_out = OutputTag("timed-out")
    alerts = CEP.pattern(logins(env), p).select(
        timed_out, lambda m, ts: "%s timed out at %d" % (m["fails"][0][0], ts), lambda m: m["success"][0][0])
    with alerts.get_side_output(timed_out).execute_and_collect() as it:
        got = sorted(it)
    assert "carol timed out at 62100" in got
    assert all(g.startswith("carol") for g in got)
