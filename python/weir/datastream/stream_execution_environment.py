"""StreamExecutionEnvironment (PyFlink's ``pyflink.datastream``): where a job is declared and
run. Jobs run in this process, on the engine's task threads."""
from enum import Enum

from weir import _weir
from weir.common import ExecutionConfig, JobExecutionResult
from weir.common.configuration import Configuration, parse_duration_ms
from weir.common.restart_strategy import RestartStrategyConfiguration
from weir.common.typeinfo import _check_type_info
from weir.datastream.data_stream import DataStream, _check_int


class RuntimeExecutionMode(Enum):
    STREAMING = 0
    BATCH = 1
    AUTOMATIC = 2


class CheckpointingMode(Enum):
    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1


class TimeCharacteristic(Enum):
    ProcessingTime = 0
    IngestionTime = 1
    EventTime = 2


class ExternalizedCheckpointCleanup(Enum):
    DELETE_ON_CANCELLATION = 0
    RETAIN_ON_CANCELLATION = 1
    NO_EXTERNALIZED_CHECKPOINTS = 2


class CheckpointConfig(object):
    """Checkpoint settings of an environment (``env.get_checkpoint_config()``)."""

    def __init__(self, env):
        self._env = env

    def _j(self):
        return self._env._j

    def set_checkpoint_interval(self, checkpoint_interval):
        self._j().enable_checkpointing(int(checkpoint_interval), self._j().is_exactly_once())
        return self

    def get_checkpoint_interval(self):
        return self._j().get_checkpoint_interval() if self._j().is_checkpointing_enabled() else -1

    def is_checkpointing_enabled(self):
        return self._j().is_checkpointing_enabled()

    def set_checkpointing_mode(self, checkpointing_mode):
        self._j().set_exactly_once(checkpointing_mode == CheckpointingMode.EXACTLY_ONCE)
        return self

    def get_checkpointing_mode(self):
        return CheckpointingMode.EXACTLY_ONCE if self._j().is_exactly_once() else CheckpointingMode.AT_LEAST_ONCE

    def set_checkpoint_timeout(self, checkpoint_timeout):
        self._j().set_checkpoint_timeout(int(checkpoint_timeout))
        return self

    def set_min_pause_between_checkpoints(self, min_pause_between_checkpoints):
        self._j().set_min_pause_between_checkpoints(int(min_pause_between_checkpoints))
        return self

    def set_max_concurrent_checkpoints(self, max_concurrent_checkpoints):
        self._j().set_max_concurrent_checkpoints(int(max_concurrent_checkpoints))
        return self

    def set_tolerable_checkpoint_failure_number(self, number):
        self._j().set_tolerable_checkpoint_failure_number(int(number))
        return self

    def enable_unaligned_checkpoints(self, enabled=True):
        self._j().enable_unaligned_checkpoints(bool(enabled))
        return self

    def disable_unaligned_checkpoints(self):
        return self.enable_unaligned_checkpoints(False)

    def set_checkpoint_storage_dir(self, checkpoint_path):
        self._j().set_checkpoint_storage(str(checkpoint_path))
        return self

    def set_checkpoint_storage(self, storage):
        path = getattr(storage, "_path", storage)
        return self.set_checkpoint_storage_dir(path)

    def get_checkpoint_storage(self):
        return self._j().get_checkpoint_storage()

    def set_externalized_checkpoint_cleanup(self, cleanup_mode):
        return self

    def enable_externalized_checkpoints(self, cleanup_mode):
        return self

    def set_force_unaligned_checkpoints(self, force=True):
        return self


_current = None


class StreamExecutionEnvironment(object):
    """The context a job is declared in and run from."""

    def __init__(self, configuration=None):
        global _current
        self._j = _weir.Environment()
        self._batch = False
        self._config = ExecutionConfig(self)
        self._checkpoint_config = CheckpointConfig(self)
        if configuration is not None:
            self.configure(configuration)
        _current = self

    @staticmethod
    def get_execution_environment(configuration=None):
        return StreamExecutionEnvironment(configuration)

    # ---- settings ------------------------------------------------------------------------------

    def get_config(self):
        return self._config

    def set_parallelism(self, parallelism):
        _check_int(parallelism, "set_parallelism", 1)
        self._j.set_parallelism(parallelism)
        return self

    def get_parallelism(self):
        return self._j.get_parallelism()

    def set_max_parallelism(self, max_parallelism):
        _check_int(max_parallelism, "set_max_parallelism", 1)
        self._j.set_max_parallelism(max_parallelism)
        return self

    def get_max_parallelism(self):
        return self._j.get_max_parallelism()

    def set_clock(self, clock):
        """Weir: the processing-time clock of this environment's jobs, e.g. a
        ``weir.testing.ManualClock`` that a test advances by hand."""
        if not isinstance(clock, _weir.ManualClock):
            raise TypeError("set_clock: expected a weir.testing.ManualClock, not %r" % (clock,))
        self._j.set_clock(clock)
        return self

    def set_worker_threads(self, threads):
        """Weir: the threads that run this environment's tasks (default 1). Python functions of
        all tasks share one interpreter lock, so more threads only help functions that release it
        while they wait (I/O in the function, ``time.sleep``)."""
        _check_int(threads, "set_worker_threads", 1)
        self._j.set_worker_threads(threads)
        return self

    def set_runtime_mode(self, execution_mode):
        if not isinstance(execution_mode, RuntimeExecutionMode):
            raise TypeError("set_runtime_mode: expected a RuntimeExecutionMode, not %r" % (execution_mode,))
        self._batch = execution_mode == RuntimeExecutionMode.BATCH
        return self

    def set_buffer_timeout(self, timeout_millis):
        self._j.set_buffer_timeout(int(timeout_millis))
        return self

    def get_buffer_timeout(self):
        return 0

    def disable_operator_chaining(self):
        self._j.disable_operator_chaining()
        return self

    def set_stream_time_characteristic(self, characteristic):
        return self

    def enable_checkpointing(self, interval, mode=None):
        _check_int(interval, "enable_checkpointing", 10)
        exactly_once = mode is None or mode == CheckpointingMode.EXACTLY_ONCE
        self._j.enable_checkpointing(interval, exactly_once)
        return self

    def get_checkpoint_config(self):
        return self._checkpoint_config

    def get_checkpoint_interval(self):
        return self._checkpoint_config.get_checkpoint_interval()

    def get_checkpointing_mode(self):
        return self._checkpoint_config.get_checkpointing_mode()

    def set_restart_strategy(self, restart_strategy_configuration):
        if not isinstance(restart_strategy_configuration, RestartStrategyConfiguration):
            raise TypeError("set_restart_strategy: expected RestartStrategies.*(...), not %r"
                            % (restart_strategy_configuration,))
        restart_strategy_configuration._apply(self._j)
        return self

    def get_restart_strategy(self):
        return None

    def set_state_backend(self, state_backend):
        from weir.datastream.state import EmbeddedRocksDBStateBackend
        if isinstance(state_backend, EmbeddedRocksDBStateBackend):
            import tempfile
            self._j.set_state_backend_rocksdb(state_backend._path or tempfile.mkdtemp(prefix="weir-rocksdb-"))
        else:
            self._j.set_state_backend_heap()
        if getattr(state_backend, "_uri", None):
            self._j.set_checkpoint_storage(state_backend._uri)
        return self

    def set_savepoint_restore(self, path, allow_non_restored_state=False):
        """Weir: start the next job from a savepoint or retained checkpoint folder."""
        self._j.set_savepoint_restore(str(path), bool(allow_non_restored_state))
        return self

    def configure(self, configuration):
        """Applies Flink configuration keys: parallelism.default, pipeline.max-parallelism,
        execution.runtime-mode, execution.checkpointing.*, restart-strategy.*,
        state.checkpoints.dir, execution.savepoint.path, pipeline.auto-watermark-interval."""
        if not isinstance(configuration, Configuration):
            raise TypeError("configure: expected a Configuration, not %r" % (configuration,))
        c = configuration
        if c.contains_key("parallelism.default"):
            self.set_parallelism(c.get_integer("parallelism.default"))
        if c.contains_key("pipeline.max-parallelism"):
            self.set_max_parallelism(c.get_integer("pipeline.max-parallelism"))
        if c.contains_key("execution.runtime-mode"):
            mode = c.get_string("execution.runtime-mode").upper()
            if mode not in RuntimeExecutionMode.__members__:
                raise ValueError("execution.runtime-mode: %r is not STREAMING, BATCH or AUTOMATIC" % mode)
            self.set_runtime_mode(RuntimeExecutionMode[mode])
        if c.contains_key("pipeline.auto-watermark-interval"):
            self._j.set_auto_watermark_interval(
                parse_duration_ms(c.get_string("pipeline.auto-watermark-interval"), "pipeline.auto-watermark-interval"))
        for key in ("execution.checkpointing.interval", "execution.checkpointing.interval-during-backlog"):
            if c.contains_key(key) and key.endswith("interval"):
                mode = c.get_string("execution.checkpointing.mode", "EXACTLY_ONCE").upper()
                self._j.enable_checkpointing(parse_duration_ms(c.get_string(key), key), mode == "EXACTLY_ONCE")
        for key in ("state.checkpoints.dir", "execution.checkpointing.dir"):
            if c.contains_key(key):
                self._j.set_checkpoint_storage(c.get_string(key))
        if c.contains_key("execution.savepoint.path"):
            self.set_savepoint_restore(c.get_string("execution.savepoint.path"),
                                       c.get_boolean("execution.savepoint.ignore-unclaimed-state", False))
        if c.contains_key("restart-strategy.type") or c.contains_key("restart-strategy"):
            self._configure_restart(c)
        return self

    def _configure_restart(self, c):
        kind = (c.get_string("restart-strategy.type") or c.get_string("restart-strategy")).lower().replace("_", "-")

        def ms(key, default):
            v = c.get_string(key)
            return default if v is None else parse_duration_ms(v, key)
        if kind in ("none", "off", "disable"):
            self._j.set_restart_no_restart()
        elif kind in ("fixed-delay", "fixeddelay"):
            self._j.set_restart_fixed_delay(c.get_integer("restart-strategy.fixed-delay.attempts", 1),
                                            ms("restart-strategy.fixed-delay.delay", 1000))
        elif kind in ("failure-rate", "failurerate"):
            self._j.set_restart_failure_rate(
                c.get_integer("restart-strategy.failure-rate.max-failures-per-interval", 1),
                ms("restart-strategy.failure-rate.failure-rate-interval", 60000),
                ms("restart-strategy.failure-rate.delay", 1000))
        elif kind in ("exponential-delay", "exponentialdelay"):
            self._j.set_restart_exponential_delay(
                ms("restart-strategy.exponential-delay.initial-backoff", 1000),
                ms("restart-strategy.exponential-delay.max-backoff", 60000),
                c.get_float("restart-strategy.exponential-delay.backoff-multiplier", 1.5),
                ms("restart-strategy.exponential-delay.reset-backoff-threshold", 3600000),
                c.get_float("restart-strategy.exponential-delay.jitter-factor", 0.1))
        else:
            raise ValueError("restart-strategy.type: unknown strategy %r (none, fixed-delay, failure-rate, "
                             "exponential-delay)" % kind)

    # Dependencies are this process's Python packages: these are accepted and do nothing.
    def add_python_file(self, file_path):
        import sys
        import os
        d = os.path.dirname(os.path.abspath(file_path)) if os.path.isfile(file_path) else file_path
        if d not in sys.path:
            sys.path.append(d)

    def add_jars(self, *jars_path):
        pass

    def add_classpaths(self, *classpaths):
        pass

    def set_python_requirements(self, requirements_file_path, requirements_cache_dir=None):
        pass

    def add_python_archive(self, archive_path, target_dir=None):
        pass

    def set_python_executable(self, python_exec):
        pass

    def register_type(self, type_class_name):
        pass

    def is_chaining_enabled(self):
        return True

    # ---- sources -------------------------------------------------------------------------------

    def from_collection(self, collection, type_info=None):
        """The elements, in order, from one subtask. A list or tuple is replayed after a
        restart (Weir's extension); other iterables are read once, when the job is built."""
        type_info = _check_type_info(type_info, "from_collection")
        items = list(collection)
        if type_info is not None:
            conv = type_info._converter()
            for i, v in enumerate(items):
                try:
                    type_info.check(v)
                    if conv is not None:
                        items[i] = conv(v)
                except TypeError as e:
                    raise TypeError("from_collection: %s; give values of the type or another type_info" % e) from None
        return DataStream(self._j.from_collection(items), self, type_info)

    def from_elements(self, *elements):
        return self.from_collection(list(elements))

    def from_source(self, source, watermark_strategy, source_name, type_info=None):
        from weir.common.watermark_strategy import WatermarkStrategy
        if not isinstance(watermark_strategy, WatermarkStrategy):
            raise TypeError("from_source: expected a WatermarkStrategy, not %r" % (watermark_strategy,))
        if not hasattr(source, "_weir_source"):
            raise TypeError("from_source: expected a Source such as KafkaSource, FileSource or "
                            "NumberSequenceSource, not %r" % (source,))
        stream = source._weir_source(self, watermark_strategy, source_name)
        if type_info is not None:
            stream._type = _check_type_info(type_info, "from_source")
        return stream

    def add_source(self, source_func, source_name="Custom Source", type_info=None):
        if not hasattr(source_func, "_weir_add_source"):
            raise TypeError("add_source: expected a connector's SourceFunction such as FlinkKafkaConsumer, not %r "
                            "(Python sources: use from_collection, or from_source with KafkaSource, FileSource "
                            "or NumberSequenceSource)" % (source_func,))
        stream = source_func._weir_add_source(self, source_name)
        if type_info is not None:
            stream._type = _check_type_info(type_info, "add_source")
        return stream

    def from_sequence(self, start, end):
        return DataStream(self._j.from_sequence(int(start), int(end)), self, None)

    def read_text_file(self, file_path, charset_name="UTF-8"):
        from weir.datastream.connectors.file_system import FileSource, StreamFormat
        from weir.common.watermark_strategy import WatermarkStrategy
        src = FileSource.for_record_stream_format(StreamFormat.text_line_format(charset_name), file_path).build()
        return self.from_source(src, WatermarkStrategy.no_watermarks(), "Text File Source " + str(file_path))

    # ---- running -------------------------------------------------------------------------------

    def execute(self, job_name=None):
        """Runs every declared sink's pipeline in this process and returns when the job ends.
        A failure raises ``JobExecutionException`` with the user's exception as its cause."""
        r = self._j.execute(job_name or "Weir Streaming Job")
        return JobExecutionResult(r["job_id"], r["job_name"], r["net_runtime"])

    def execute_async(self, job_name="Weir Streaming Job"):
        return JobClient(self._j.execute_async(job_name or "Weir Streaming Job"))

    def get_execution_plan(self):
        return self._j.get_execution_plan()

    def close(self):
        pass


class JobClient(object):
    """A running job (``execute_async``)."""

    def __init__(self, j):
        self._j = j

    def get_job_id(self):
        from weir.common import JobID
        return JobID(self._j.get_job_id())

    def get_job_status(self):
        return _Completed(self._j.get_job_status())

    def cancel(self):
        self._j.cancel()
        return _Completed(None)

    def stop_with_savepoint(self, advance_to_end_of_event_time=False, savepoint_directory=None, *args):
        return _Completed(self._j.stop_with_savepoint(savepoint_directory))

    def trigger_savepoint(self, savepoint_directory=None, *args):
        return _Completed(self._j.trigger_savepoint(savepoint_directory))

    def get_job_execution_result(self):
        return _Pending(self._j)

    def wait(self):
        r = self._j.wait()
        return JobExecutionResult(r["job_id"], r["job_name"], r["net_runtime"])

    def metrics(self):
        """Weir: per task subtask, records in/out and the operators' metrics."""
        return self._j.metrics()

    def restart_count(self):
        return self._j.restart_count()


class _Completed(object):
    """A completed future (PyFlink's JobClient returns futures with ``result()``)."""

    def __init__(self, value):
        self._value = value

    def result(self, timeout=None):
        return self._value

    def done(self):
        return True


class _Pending(object):
    def __init__(self, j):
        self._j = j

    def result(self, timeout=None):
        r = self._j.wait()
        return JobExecutionResult(r["job_id"], r["job_name"], r["net_runtime"])

    def done(self):
        return self._j.done()


def _current_environment():
    """The environment a connector used as a stream binds to: the last one made."""
    return _current if _current is not None else StreamExecutionEnvironment.get_execution_environment()
