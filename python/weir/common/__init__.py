"""PyFlink's ``pyflink.common``: types, rows, time, watermark strategies, configuration."""
from weir.common.configuration import Configuration
from weir.common.restart_strategy import RestartStrategies, RestartStrategyConfiguration
from weir.common.serialization import (ByteArraySchema, DeserializationSchema, Encoder,
                                       SerializationSchema, SimpleStringSchema)
from weir.common.time import Duration, Instant, Time
from weir.common.typeinfo import (BasicTypeInfo, PickledBytesTypeInfo, RowTypeInfo, TupleTypeInfo,
                                  TypeInformation, Types)
from weir.common.types import Row, RowKind
from weir.common.watermark_strategy import TimestampAssigner, WatermarkStrategy


class JobExecutionException(Exception):
    """A job failed: the message names the operator and subtask and holds the Python traceback;
    ``__cause__`` is the exception the user function raised, when one did."""


class JobExecutionResult(object):
    def __init__(self, job_id, job_name, net_runtime):
        self._job_id = job_id
        self._job_name = job_name
        self._net_runtime = net_runtime

    def get_job_id(self):
        return JobID(self._job_id)

    def get_job_name(self):
        return self._job_name

    def get_net_runtime(self):
        return self._net_runtime

    def is_job_execution_result(self):
        return True

    def get_job_execution_result(self):
        return self

    def get_accumulator_result(self, name):
        return None

    def get_all_accumulator_results(self):
        return {}

    def __repr__(self):
        return "JobExecutionResult(%s, %s ms)" % (self._job_id, self._net_runtime)


class JobID(object):
    def __init__(self, s):
        self._s = s

    def to_hex_string(self):
        return self._s

    def __str__(self):
        return self._s

    def __eq__(self, other):
        return isinstance(other, JobID) and other._s == self._s

    def __hash__(self):
        return hash(self._s)


class JobStatus(object):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"
    RESTARTING = "RESTARTING"


class ExecutionConfig(object):
    """The environment's execution settings (PyFlink's ``env.get_config()``)."""

    def __init__(self, env):
        self._env = env
        self._params = {}

    def set_parallelism(self, parallelism):
        self._env.set_parallelism(parallelism)
        return self

    def get_parallelism(self):
        return self._env.get_parallelism()

    def set_max_parallelism(self, max_parallelism):
        self._env.set_max_parallelism(max_parallelism)
        return self

    def get_max_parallelism(self):
        return self._env.get_max_parallelism()

    def set_auto_watermark_interval(self, interval):
        self._env._j.set_auto_watermark_interval(int(interval))
        return self

    def get_auto_watermark_interval(self):
        return self._env._j.get_auto_watermark_interval()

    def set_global_job_parameters(self, params):
        self._params = dict(params)
        return self

    def get_global_job_parameters(self):
        return dict(self._params)

    def set_restart_strategy(self, restart_strategy_configuration):
        self._env.set_restart_strategy(restart_strategy_configuration)
        return self

    def enable_object_reuse(self):
        return self

    def disable_object_reuse(self):
        return self

    def disable_generic_types(self):
        return self

    def enable_closure_cleaner(self):
        return self

    def disable_closure_cleaner(self):
        return self


__all__ = [
    "ByteArraySchema", "Configuration", "DeserializationSchema", "Duration", "Encoder", "ExecutionConfig",
    "Instant", "JobExecutionException", "JobExecutionResult", "JobID", "JobStatus", "RestartStrategies",
    "RestartStrategyConfiguration", "Row", "RowKind", "SerializationSchema", "SimpleStringSchema", "Time",
    "TimestampAssigner", "TypeInformation", "Types", "WatermarkStrategy", "BasicTypeInfo",
    "PickledBytesTypeInfo", "RowTypeInfo", "TupleTypeInfo",
]
