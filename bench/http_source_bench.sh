#!/usr/bin/env bash
# Drives bench/http_source_bench with wrk on 127.0.0.1: POST bodies of JSON lines
# (RECORDS_PER_REQUEST records each) to /ingest/bench, and prints wrk's figures and the Weir
# process's (records/s, records per CPU-second, RSS).
#   1. capacity: the source -> a counting sink, as fast as it goes;
#   2. overload: the same with a downstream throttled to half the measured rate (the offered
#      load is about twice the capacity): requests beyond the queue are answered 429 and the
#      process's memory stays flat.
# Usage: bench/http_source_bench.sh [build dir, default build/release]
# Environment: DURATION (s, default 10), CONNECTIONS (16), WRK_THREADS (1), RECORDS_PER_REQUEST
# (100), THREADS (server threads, 16), CAPACITY_QUEUE (records, 4096: above what the connections
# have in flight, so the capacity run sees no 429), QUEUE (records, 1024, the source's default:
# below it, so the overload run does), THROTTLE (records/s for the overload run; default half the
# capacity run's rate), ONLY (capacity|overload).
# A 429 needs more records in flight than the queue holds (connections x records per request >
# queue): each connection has one request at a time, and a handler holds its request until taken.
set -euo pipefail
BUILD=${1:-build/release}
BIN=$BUILD/bench/http_source_bench
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
WRK_THREADS=${WRK_THREADS:-1}
RECORDS_PER_REQUEST=${RECORDS_PER_REQUEST:-100}
THREADS=${THREADS:-16}
QUEUE=${QUEUE:-1024}
CAPACITY_QUEUE=${CAPACITY_QUEUE:-4096}
ONLY=${ONLY:-}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN is missing: cmake --build $BUILD --target http_source_bench" >&2; exit 1; }

WORK=$(mktemp -d)
BENCH_PID=
cleanup() {
  if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then kill -TERM "$BENCH_PID"; wait "$BENCH_PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local lines = {}
for i = 1, $RECORDS_PER_REQUEST do
  lines[i] = string.format('{"user":"u%d","item":%d,"action":"click","price":%d.5,"ts":%d}', i % 97, i * 7, i % 50, 1700000000000 + i)
end
wrk.body = table.concat(lines, "\n") .. "\n"
LUA

# run NAME [bench options...]: one bench process, one wrk run against it.
run() {
  local name=$1; shift
  local log="$WORK/$name.log"
  "$BIN" --threads "$THREADS" "$@" > "$log" 2> "$WORK/$name.err" &
  BENCH_PID=$!
  local port=
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "the bench did not start:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  echo "== $name: wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s -s post.lua http://127.0.0.1:$port/ingest/bench" \
       "($RECORDS_PER_REQUEST records per request; bench: $BIN --threads $THREADS $*)"
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s -s "$WORK/post.lua" "http://127.0.0.1:$port/ingest/bench" | tee "$WORK/$name.wrk"
  kill -INT "$BENCH_PID"
  wait "$BENCH_PID"
  BENCH_PID=
  echo "-- Weir process:"
  grep -v '^PORT' "$log"
  echo
}

if [ "$ONLY" != overload ]; then
  run capacity --queue "$CAPACITY_QUEUE"
fi
if [ "$ONLY" != capacity ]; then
  if [ -z "${THROTTLE:-}" ]; then
    rate=$(sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p' "$WORK/capacity.log" 2>/dev/null | head -1)
    [ -n "$rate" ] || { echo "set THROTTLE (records/s) for the overload run" >&2; exit 1; }
    THROTTLE=$((rate / 2))
  fi
  run overload --queue "$QUEUE" --throttle "$THROTTLE"
fi
