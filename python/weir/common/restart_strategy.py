"""Restart strategies (PyFlink 1.x's ``RestartStrategies``)."""
from datetime import timedelta

from weir.common.time import Duration, Time


def _ms(v):
    if isinstance(v, timedelta):
        return int(v.total_seconds() * 1000)
    if isinstance(v, (Time, Duration)):
        return v.to_milliseconds()
    return int(v)


class RestartStrategyConfiguration(object):
    def __init__(self, kind, *args):
        self._kind = kind
        self._args = args

    def get_description(self):
        return "%s%r" % (self._kind, self._args)

    def _apply(self, env):
        if self._kind == "none":
            env.set_restart_no_restart()
        elif self._kind == "fixed-delay":
            env.set_restart_fixed_delay(self._args[0], self._args[1])
        elif self._kind == "failure-rate":
            env.set_restart_failure_rate(*self._args)
        elif self._kind == "exponential-delay":
            env.set_restart_exponential_delay(*self._args)


class RestartStrategies(object):
    NoRestartStrategyConfiguration = RestartStrategyConfiguration
    FixedDelayRestartStrategyConfiguration = RestartStrategyConfiguration
    FailureRateRestartStrategyConfiguration = RestartStrategyConfiguration
    FallbackRestartStrategyConfiguration = RestartStrategyConfiguration

    @staticmethod
    def no_restart():
        return RestartStrategyConfiguration("none")

    @staticmethod
    def fall_back_restart():
        return RestartStrategyConfiguration("fallback")

    @staticmethod
    def fixed_delay_restart(restart_attempts, delay_between_attempts):
        return RestartStrategyConfiguration("fixed-delay", int(restart_attempts), _ms(delay_between_attempts))

    @staticmethod
    def failure_rate_restart(failure_rate, failure_interval, delay_interval):
        return RestartStrategyConfiguration("failure-rate", int(failure_rate), _ms(failure_interval),
                                            _ms(delay_interval))

    @staticmethod
    def exponential_delay_restart(initial_backoff, max_backoff, backoff_multiplier,
                                  reset_backoff_threshold, jitter_factor):
        return RestartStrategyConfiguration("exponential-delay", _ms(initial_backoff), _ms(max_backoff),
                                            float(backoff_multiplier), _ms(reset_backoff_threshold),
                                            float(jitter_factor))
