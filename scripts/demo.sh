#!/usr/bin/env bash
# `make demo`: the seed pipeline end to end, then the clicks job, on the in-memory Kafka broker
# built into the weir binary (`weir kafka-dev`). Stops everything it started by itself.
#   1. weir kafka-dev on 127.0.0.1:$PORT (default 9092) with topics test_topic and clicks;
#   2. weir run examples/python/seed_job.py while lines are produced into test_topic: it prints
#      each line doubled; stopped after ~12 s;
#   3. weir run --ui examples/python/clicks_job.py while JSON clicks (some late) are produced:
#      5-second tumbling counts per page and the late clicks are printed, and the web UI's
#      address ("Weir UI: http://...") while it runs; stopped after ~15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
PORT=${PORT:-9092}
WEIR=$BUILD_DIR/src/cli/weir
export WEIR_PYTHON=${WEIR_PYTHON:-$PWD/.venv/bin/python}
export PYTHONUNBUFFERED=1
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

produce() {  # produce TOPIC LINE...: one message per line, with kcat
  local topic=$1; shift
  printf '%s\n' "$@" | kcat -b "127.0.0.1:$PORT" -P -t "$topic" 2>/dev/null
}

echo "== weir kafka-dev on 127.0.0.1:$PORT (topics test_topic, clicks)"
"$WEIR" kafka-dev --port "$PORT" --topic test_topic:1 --topic clicks:1 > "$work/broker.txt" 2> "$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/broker.txt" ] && break; sleep 0.1; done
[ -s "$work/broker.txt" ] || { echo "demo: kafka-dev did not start:"; cat "$work/broker.log"; exit 1; }

echo "== weir run examples/python/seed_job.py (each line read from test_topic, printed twice over)"
"$WEIR" run examples/python/seed_job.py > "$work/seed.out" 2> "$work/seed.err" &
seed=$!
pids+=($seed)
tail -f "$work/seed.out" &
pids+=($!)
# The consumer starts at the latest offsets: produce until the job prints, then a few more.
for i in $(seq 1 60); do
  produce test_topic "hello-$i"
  grep -q . "$work/seed.out" && break
  sleep 0.2
done
for w in ab Weir stream; do produce test_topic "$w"; sleep 0.5; done
sleep 2
kill "$seed" 2>/dev/null || true
wait "$seed" 2>/dev/null || true
grep -q "abab" "$work/seed.out" || { echo "demo: the seed job did not print 'abab':"; cat "$work/seed.err"; exit 1; }

echo "== weir run examples/python/clicks_job.py --bootstrap 127.0.0.1:$PORT (5 s windows per page; late clicks aside)"
now=$(( $(date +%s) * 1000 ))
base=$(( now - now % 5000 ))
clicks=()
for i in $(seq 0 19); do
  page=$([ $((i % 3)) -eq 0 ] && echo home || echo cart)
  clicks+=("{\"page\": \"$page\", \"ts\": $((base + i * 700))}")
done
clicks+=("not json")                                            # a bad record: skipped
clicks+=("{\"page\": \"home\", \"ts\": $((base + 30000))}")    # moves the watermark on
produce clicks "${clicks[@]}"
# --ui: the job's REST API and web UI while it runs (UI_ADDR, default a free port on 127.0.0.1).
"$WEIR" run --ui "${UI_ADDR:-127.0.0.1:0}" examples/python/clicks_job.py --bootstrap "127.0.0.1:$PORT" --topic clicks \
  > "$work/clicks.out" 2> "$work/clicks.err" &
job=$!
pids+=($job)
for _ in $(seq 100); do
  grep -q "^Weir UI: " "$work/clicks.err" && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
if ui=$(grep -m1 "^Weir UI: " "$work/clicks.err"); then
  echo "== ${ui} (open it while the job runs: its graph, rates, watermarks, checkpoints)"
else
  echo "demo: the clicks job did not start its web UI:"; tail -20 "$work/clicks.err"; exit 1
fi
tail -f "$work/clicks.out" &
pids+=($!)
# Once the first windows are out (the watermark has passed them), a click for one of them is late.
for _ in $(seq 150); do
  grep -q "clicks=" "$work/clicks.out" && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
produce clicks "{\"page\": \"home\", \"ts\": $((base + 100))}"
for _ in $(seq 100); do
  grep -q "late:" "$work/clicks.out" && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
sleep 1
if ! grep -q "clicks=" "$work/clicks.out" || ! grep -q "late:" "$work/clicks.out"; then
  echo "demo: the clicks job did not print its windows and the late click:"; tail -20 "$work/clicks.err"
  exit 1
fi
echo "== done"
