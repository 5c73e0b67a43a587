"""PyFlink's ``pyflink.datastream``: environments, streams, functions, state, windows."""
from weir.datastream.data_stream import (CloseableIterator, ConnectedStreams, DataStream, DataStreamSink,
                                         KeyedStream)
from weir.datastream.functions import (AggregateFunction, AllWindowFunction, CoFlatMapFunction, CoMapFunction,
                                       CoProcessFunction, FilterFunction, FlatMapFunction, KeyedCoProcessFunction,
                                       KeyedProcessFunction, KeySelector, MapFunction, ProcessAllWindowFunction,
                                       ProcessFunction, ProcessWindowFunction, ReduceFunction, RuntimeContext,
                                       SinkFunction, SourceFunction, TimeDomain, TimerService, WindowFunction)
from weir.datastream.output_tag import OutputTag
from weir.datastream.state import StateTtlConfig
from weir.datastream.stream_execution_environment import (CheckpointConfig, CheckpointingMode,
                                                          ExternalizedCheckpointCleanup, JobClient,
                                                          RuntimeExecutionMode, StreamExecutionEnvironment,
                                                          TimeCharacteristic)
from weir.datastream.state import (EmbeddedRocksDBStateBackend, FsStateBackend, HashMapStateBackend,
                                   MemoryStateBackend, StateBackend)
from weir.common.restart_strategy import RestartStrategies
from weir.datastream.window import *  # noqa: F401,F403
from weir.datastream import window as _window

__all__ = [
    "AggregateFunction", "AllWindowFunction", "CheckpointConfig", "CheckpointingMode", "CloseableIterator",
    "CoFlatMapFunction", "CoMapFunction", "CoProcessFunction", "ConnectedStreams", "DataStream", "DataStreamSink",
    "EmbeddedRocksDBStateBackend", "ExternalizedCheckpointCleanup", "FilterFunction", "FlatMapFunction",
    "FsStateBackend", "HashMapStateBackend", "JobClient", "KeySelector", "KeyedCoProcessFunction",
    "KeyedProcessFunction", "KeyedStream", "MapFunction", "MemoryStateBackend", "OutputTag",
    "ProcessAllWindowFunction", "ProcessFunction", "ProcessWindowFunction", "ReduceFunction", "RestartStrategies",
    "RuntimeContext", "RuntimeExecutionMode", "SinkFunction", "SourceFunction", "StateBackend", "StateTtlConfig",
    "StreamExecutionEnvironment", "TimeCharacteristic", "TimeDomain", "TimerService", "WindowFunction",
] + list(getattr(_window, "__all__", []))
