"""PyFlink's ``pyflink.datastream.connectors.file_system``: FileSource (text lines) and FileSink
(row format, exactly-once with checkpoints), on Weir's C++ file connector.

FileSource: each file is a split read by one subtask; positions are in checkpoints (a restore
reads on, nothing twice). FileSink: part files ``<prefix>-<subtask>-<run>-<n><suffix>`` in the
base path, written hidden (``.``-prefixed) and made visible when the checkpoint that covers
them completes (or when the input ends without checkpoints)."""
from weir import _weir
from weir.common.serialization import Encoder
from weir.common.time import Duration, _millis
from weir.datastream.connectors.base import (BadRecordPolicy, Sink, Source, _check_max_bytes, _check_policy,
                                             _finish_stream, _strategy_args)

__all__ = ["BucketAssigner", "DefaultRollingPolicy", "FileEnumeratorProvider", "FileSink", "FileSource",
           "FileSourceBuilder", "FileSplitAssignerProvider", "OnCheckpointRollingPolicy", "OutputFileConfig",
           "RollingPolicy", "StreamFormat", "BulkFormat"]


class FileEnumeratorProvider(object):
    @staticmethod
    def default_splittable_file_enumerator():
        return FileEnumeratorProvider()

    @staticmethod
    def default_non_splittable_file_enumerator():
        return FileEnumeratorProvider()


class FileSplitAssignerProvider(object):
    @staticmethod
    def locality_aware_split_assigner():
        return FileSplitAssignerProvider()


class StreamFormat(object):
    def __init__(self, charset):
        self._charset = charset

    @staticmethod
    def text_line_format(charset_name="UTF-8"):
        """Every line of the files is a ``str`` record (without its line break)."""
        return StreamFormat(charset_name)


class BulkFormat(object):
    pass


class FileSourceBuilder(object):
    def __init__(self, fmt, paths):
        self._format = fmt
        self._paths = paths
        self._monitor_ms = 0
        self._policy = BadRecordPolicy.fail()
        self._max_record_bytes = 0

    def monitor_continuously(self, discovery_interval):
        ms = _millis(discovery_interval, "monitor_continuously", (Duration,))
        if ms <= 0:
            raise ValueError("monitor_continuously: the interval must be positive")
        self._monitor_ms = ms
        return self

    def process_static_file_set(self):
        self._monitor_ms = 0
        return self

    def set_file_enumerator(self, file_enumerator):
        return self

    def set_split_assigner(self, split_assigner):
        return self

    def set_bad_record_policy(self, policy):
        """Weir: what happens to lines above the size limit (default ``BadRecordPolicy.fail()``)."""
        self._policy = _check_policy(policy, "set_bad_record_policy")
        return self

    def set_max_record_bytes(self, max_record_bytes):
        """Weir: the longest line read (default 1 MiB); longer lines are bad records."""
        self._max_record_bytes = _check_max_bytes(max_record_bytes, "set_max_record_bytes")
        return self

    def build(self):
        return FileSource(self)


class FileSource(Source):
    def __init__(self, builder):
        self._paths = list(builder._paths)
        self._charset = builder._format._charset
        self._monitor_ms = builder._monitor_ms
        self._policy = builder._policy
        self._max_record_bytes = builder._max_record_bytes

    @staticmethod
    def for_record_stream_format(stream_format, *paths):
        if not isinstance(stream_format, StreamFormat):
            raise TypeError("for_record_stream_format: expected StreamFormat.text_line_format(), not %r"
                            % (stream_format,))
        if len(paths) == 1 and isinstance(paths[0], (list, tuple)):
            paths = tuple(paths[0])
        if not paths:
            raise ValueError("for_record_stream_format: give at least one path")
        import os
        return FileSourceBuilder(stream_format, [os.fspath(p) for p in paths])

    @staticmethod
    def for_bulk_file_format(bulk_format, *paths):
        raise ValueError("FileSource.for_bulk_file_format: Weir reads text lines only; use "
                         "for_record_stream_format(StreamFormat.text_line_format(), ...)")

    def _weir_source(self, env, watermark_strategy, source_name):
        cs = self._charset.upper().replace("_", "-")
        if cs in ("UTF-8", "UTF8"):
            mode, convert = "str", None
        else:
            charset = self._charset
            mode, convert = "call_bytes", (lambda b: b.decode(charset, "replace"))
        c = {"paths": self._paths, "monitor_ms": int(self._monitor_ms), "policy": self._policy._args()[0],
             "policy_tag": self._policy._args()[1], "max_record_bytes": int(self._max_record_bytes),
             "name": str(source_name), "conversion": mode, "convert": convert}
        assigner = _strategy_args(c, watermark_strategy)
        from weir.common.typeinfo import Types
        return _finish_stream(env, _weir.file_source(env._j, c), watermark_strategy, assigner, self._policy,
                              Types.STRING())


class BucketAssigner(object):
    @staticmethod
    def base_path_bucket_assigner():
        return BucketAssigner()

    @staticmethod
    def date_time_bucket_assigner(format_str="yyyy-MM-dd--HH", timezone_id=None):
        raise ValueError("FileSink: Weir writes into the base path only (BucketAssigner.base_path_bucket_assigner())")


class RollingPolicy(object):
    def __init__(self, spec):
        self._spec = spec

    @staticmethod
    def default_rolling_policy(part_size=1024 * 1024 * 128, rollover_interval=60 * 1000, inactivity_interval=60 * 1000):
        return DefaultRollingPolicy(("default", int(part_size), int(rollover_interval), int(inactivity_interval)))

    @staticmethod
    def on_checkpoint_rolling_policy():
        return OnCheckpointRollingPolicy(("on_checkpoint",))


class DefaultRollingPolicy(RollingPolicy):
    pass


class OnCheckpointRollingPolicy(RollingPolicy):
    pass


class OutputFileConfig(object):
    def __init__(self, part_prefix, part_suffix):
        self._prefix = part_prefix
        self._suffix = part_suffix

    @staticmethod
    def builder():
        return OutputFileConfig.OutputFileConfigBuilder()

    def get_part_prefix(self):
        return self._prefix

    def get_part_suffix(self):
        return self._suffix

    class OutputFileConfigBuilder(object):
        def __init__(self):
            self._prefix = "part"
            self._suffix = ""

        def with_part_prefix(self, prefix):
            self._prefix = prefix
            return self

        def with_part_suffix(self, suffix):
            self._suffix = suffix
            return self

        def build(self):
            if not self._prefix or self._prefix.startswith("."):
                raise ValueError("OutputFileConfig: the part prefix must not be empty or start with '.'")
            return OutputFileConfig(self._prefix, self._suffix)


class FileSink(Sink):
    def __init__(self, base_path, encoder, rolling, file_config):
        self._base_path = base_path
        self._encoder = encoder
        self._rolling = rolling
        self._config = file_config

    def get_transformer(self):
        return None

    @staticmethod
    def for_row_format(base_path, encoder):
        if not isinstance(encoder, Encoder):
            raise TypeError("for_row_format: expected Encoder.simple_string_encoder(), not %r" % (encoder,))
        import os
        return FileSink.RowFormatBuilder(os.fspath(base_path), encoder)

    @staticmethod
    def for_bulk_format(base_path, writer_factory):
        raise ValueError("FileSink.for_bulk_format: Weir writes row formats only; use for_row_format")

    class BaseBuilder(object):
        def with_bucket_check_interval(self, interval):
            return self

        def with_bucket_assigner(self, bucket_assigner):
            if not isinstance(bucket_assigner, BucketAssigner):
                raise TypeError("with_bucket_assigner: expected a BucketAssigner, not %r" % (bucket_assigner,))
            return self

        def with_output_file_config(self, output_file_config):
            if not isinstance(output_file_config, OutputFileConfig):
                raise TypeError("with_output_file_config: expected OutputFileConfig.builder()...build(), not %r"
                                % (output_file_config,))
            self._file_config = output_file_config
            return self

        def enable_compact(self, strategy, compactor):
            raise ValueError("FileSink: compaction is not supported by Weir")

        def disable_compact(self):
            return self

        def with_rolling_policy(self, rolling_policy):
            if not isinstance(rolling_policy, RollingPolicy):
                raise TypeError("with_rolling_policy: expected RollingPolicy.default_rolling_policy(...) or "
                                "on_checkpoint_rolling_policy(), not %r" % (rolling_policy,))
            self._rolling = rolling_policy
            return self

        def build(self):
            return FileSink(self._base_path, self._encoder, self._rolling._spec, self._file_config)

    class RowFormatBuilder(BaseBuilder):
        def __init__(self, base_path, encoder):
            self._base_path = base_path
            self._encoder = encoder
            self._rolling = RollingPolicy.default_rolling_policy()
            self._file_config = OutputFileConfig("part", "")

    def _weir_sink(self, stream):
        from weir.datastream.data_stream import DataStreamSink
        c = {"base_path": self._base_path, "encode": self._encoder.encode, "prefix": self._config._prefix,
             "suffix": self._config._suffix, "rolling": self._rolling, "name": "FileSink"}
        return DataStreamSink(_weir.file_sink(stream._j, c), stream._env)
