"""PyFlink's ``pyflink.datastream.connectors``: Kafka, files and number sequences, on Weir's C++
connectors; plus Weir's bad-record policies of sources (``BadRecordPolicy``)."""
from weir.datastream.connectors.base import (BadRecord, BadRecordPolicy, DeliveryGuarantee, Sink, Source,
                                             StreamTransformer, SupportsPreprocessing)
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.connectors.kafka import (FlinkKafkaConsumer, FlinkKafkaProducer, KafkaOffsetResetStrategy,
                                              KafkaOffsetsInitializer, KafkaRecordSerializationSchema, KafkaSink,
                                              KafkaSource, KafkaTopicPartition, Semantic)
from weir.datastream.connectors.file_system import (BucketAssigner, DefaultRollingPolicy, FileEnumeratorProvider,
                                                    FileSink, FileSource, FileSplitAssignerProvider,
                                                    OnCheckpointRollingPolicy, OutputFileConfig, RollingPolicy,
                                                    StreamFormat)

__all__ = [
    "BadRecord", "BadRecordPolicy", "BucketAssigner", "DefaultRollingPolicy", "DeliveryGuarantee",
    "FileEnumeratorProvider", "FileSink", "FileSource", "FileSplitAssignerProvider", "FlinkKafkaConsumer",
    "FlinkKafkaProducer", "KafkaOffsetResetStrategy", "KafkaOffsetsInitializer", "KafkaRecordSerializationSchema",
    "KafkaSink", "KafkaSource", "KafkaTopicPartition", "NumberSequenceSource", "OnCheckpointRollingPolicy",
    "OutputFileConfig", "RollingPolicy", "Semantic", "Sink", "Source", "StreamFormat", "StreamTransformer",
    "SupportsPreprocessing",
]
