# The seed job: strings from Kafka's test_topic (localhost:9092), each doubled, printed.
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors import FlinkKafkaConsumer
env = StreamExecutionEnvironment.get_execution_environment()
properties = {"bootstrap.servers": "localhost:9092"}
data_stream = FlinkKafkaConsumer("test_topic", properties)
data_stream = data_stream.map(lambda x: x * 2)
data_stream = data_stream.add_sink(lambda x: print(x))
data_stream.execute("test_job")
