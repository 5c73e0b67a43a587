#!/usr/bin/env bash
# A real Apache Kafka broker for tests and benchmarks: one KRaft node (broker and controller)
# on 127.0.0.1, resolved from Maven Central into the local Maven cache.
#
#   scripts/kafka.sh fetch                         resolve the jars (install-deps runs it)
#   scripts/kafka.sh start [--port 9092] [--dir DIR]   format DIR, start, wait, print HOST:PORT
#   scripts/kafka.sh stop [--dir DIR]              stop the broker started with DIR
#   scripts/kafka.sh run CLASS [ARGS...]           run a Kafka tool class on the broker's classpath
#                                                  (org.apache.kafka.tools.ProducerPerformance, ...)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${WEIR_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir-kafka}"
cp_file="$cache/classpath.txt"

classpath() {
  if [ ! -s "$cp_file" ] || [ "$here/kafka/pom.xml" -nt "$cp_file" ]; then
    mkdir -p "$cache"
    mvn -q -B -f "$here/kafka/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp_file.tmp" >"$cache/mvn.log" 2>&1 \
      || { echo "kafka.sh: resolving Kafka with Maven failed; see $cache/mvn.log" >&2; tail -20 "$cache/mvn.log" >&2; exit 1; }
    mv "$cp_file.tmp" "$cp_file"
  fi
  cat "$cp_file"
}

cmd="${1:-}"; shift || true
port=9092
dir=""
if [ "$cmd" = start ] || [ "$cmd" = stop ]; then
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --dir) dir="$2"; shift 2 ;;
      *) echo "kafka.sh: unknown option $1" >&2; exit 2 ;;
    esac
  done
fi
[ -n "$dir" ] || dir="${TMPDIR:-/tmp}/weir-kafka-$port"

case "$cmd" in
  fetch)
    classpath >/dev/null
    ;;
  run)
    cls="$1"; shift
    exec java -Xmx512m -cp "$(classpath)" -Dlog4j2.configurationFile="$here/kafka/log4j2.xml" "$cls" "$@"
    ;;
  start)
    cp="$(classpath)"
    if [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
      echo "kafka.sh: a broker started with $dir is running (pid $(cat "$dir/broker.pid")); stop it first" >&2
      exit 1
    fi
    rm -rf "$dir"; mkdir -p "$dir/data"
    controller=$((port + 1))
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# 2 hours (as Flink's own Kafka test setup): Flink's default transaction timeout of 1 hour is accepted.
transaction.max.timeout.ms=7200000
log.flush.interval.messages=9223372036854775807
PROPS
    java -cp "$cp" kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
      || { echo "kafka.sh: formatting $dir failed:" >&2; cat "$dir/format.log" >&2; exit 1; }
    nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Dlog4j2.configurationFile="$here/kafka/log4j2.xml" \
      -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/broker.log" 2>&1 </dev/null &
    echo $! >"$dir/broker.pid"
    for _ in $(seq 1 120); do
      if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
        echo "kafka.sh: the broker exited; its log:" >&2; tail -30 "$dir/broker.log" >&2; exit 1
      fi
      if kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1; then echo "127.0.0.1:$port"; exit 0; fi
      sleep 0.5
    done
    echo "kafka.sh: the broker did not answer on 127.0.0.1:$port within 60 s; its log: $dir/broker.log" >&2
    kill "$(cat "$dir/broker.pid")" 2>/dev/null || true
    exit 1
    ;;
  stop)
    if [ -f "$dir/broker.pid" ]; then
      pid="$(cat "$dir/broker.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/broker.pid"
    fi
    ;;
  *)
    echo "usage: scripts/kafka.sh fetch | start [--port P] [--dir DIR] | stop [--port P] [--dir DIR] | run CLASS [ARGS]" >&2
    exit 2
    ;;
esac
