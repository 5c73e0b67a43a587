#!/usr/bin/env bash
# Kafka pipeline benchmark on a real broker: fills a topic with N records of 100 bytes using
# Kafka's ProducerPerformance, measures Kafka's own ConsumerPerformance on it, then Weir's
# source -> map -> sink (a sink that drops the records, at_least_once and exactly_once).
#   bench/kafka_bench.sh [RECORDS] [BUILD_DIR]     (default 10000000 build/release)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-10000000}"; build="${2:-$here/build/release}"
port=39192
"$here/scripts/kafka.sh" start --port $port --dir /tmp/weir-kafka-bench >/dev/null
trap '"$here/scripts/kafka.sh" stop --port $port --dir /tmp/weir-kafka-bench' EXIT
b=127.0.0.1:$port
"$here/scripts/kafka.sh" run org.apache.kafka.tools.ProducerPerformance --topic in --num-records "$n" --record-size 100 \
  --throughput -1 --producer-props bootstrap.servers=$b linger.ms=20 batch.size=262144 | tail -1
echo "Kafka ConsumerPerformance (the broker's own consume rate):"
/usr/bin/time -f "consumer perf: %e s wall, %U+%S s cpu" "$here/scripts/kafka.sh" run org.apache.kafka.tools.ConsumerPerformance \
  --bootstrap-server $b --topic in --messages "$n" --timeout 60000 | tail -2
for mode in discard at_least_once exactly_once; do
  "$build/bench/kafka_bench" $b in "out-$mode" $mode 1
done
