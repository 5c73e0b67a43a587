#!/usr/bin/env bash
# Nexmark on Weir and on Flink side by side: events per CPU-second (the whole process, every
# thread) and p99 latency per query, medians of NEXMARK_RUNS runs of each engine interleaved, and
# whether both engines' final result tables agree.
#
# Usage (from anywhere; installs what it needs with scripts/install-deps.sh, then builds offline):
#   bench/nexmark/compare.sh [qN ...]        every query when none is named
# Environment: NEXMARK_EVENTS (10,000,000), NEXMARK_PARALLELISM (2), NEXMARK_RUNS (3),
#   NEXMARK_FLINK_HEAP (the Flink JVM's -Xmx, 8g), NEXMARK_FLINK_OPTS (more options to Flink's
#   driver, e.g. --suite-tuning), NEXMARK_WEIR (the weir-nexmark binary; default
#   build/release/bench/nexmark/weir-nexmark, built when missing).
# Before measuring, the first million events of seed 0 must hash the same on both sides.
# The check runs: --check on 100,000 events at 1,000 events per second of event time (Weir at
# the parallelism of the runs, Flink at 1: see below); q12
# depends on processing time (n/a). Prints a markdown table (also to build/nexmark/compare.md),
# last line "min ratio R" (Weir's events/CPU-s over Flink's, the smallest over the queries both
# engines ran).
set -euo pipefail

EVENTS=${NEXMARK_EVENTS:-10000000}
P=${NEXMARK_PARALLELISM:-2}
RUNS=${NEXMARK_RUNS:-3}
HEAP=${NEXMARK_FLINK_HEAP:-8g}
FLINK_OPTS=${NEXMARK_FLINK_OPTS:-}
CHECK_EVENTS=100000
CHECK_RATE=1000
ALL="q0 q1 q2 q3 q4 q5 q7 q8 q9 q10 q11 q12 q13 q14 q15 q16 q17 q18 q19 q20 q21 q22"

root=$(cd "$(dirname "$0")/../.." && pwd)
weir=${NEXMARK_WEIR:-$root/build/release/bench/nexmark/weir-nexmark}
flink_dir=$root/bench/nexmark/flink
out_dir=$root/build/nexmark
mkdir -p "$out_dir"

die() { echo "compare.sh: $*" >&2; exit 1; }

queries=("$@")
[ ${#queries[@]} -gt 0 ] || read -r -a queries <<<"$ALL"
for q in "${queries[@]}"; do
  [[ " $ALL " == *" $q "* ]] || die "unknown query '$q' (one of: $ALL)"
done

# --- install and build what is missing ---
# Debian packages (a JDK, Maven), the Maven cache of the Flink side and the rest of what the
# project needs: nothing when all is there.
"$root/scripts/install-deps.sh" >&2
if [ ! -x "$weir" ]; then
  echo "compare.sh: building weir-nexmark" >&2
  [ -f "$root/build/release/build.ninja" ] || (cd "$root" && cmake --preset release >&2)
  (cd "$root" && nice -n 10 cmake --build build/release --target weir-nexmark -j2 >&2)
fi
command -v mvn >/dev/null || die "mvn is not installed (scripts/install-deps.sh installs it)"
command -v java >/dev/null || die "java is not installed (scripts/install-deps.sh installs it)"
echo "compare.sh: building the Flink side (Maven, offline)" >&2
mvn -q -B -o -f "$flink_dir/pom.xml" compile dependency:build-classpath \
  -Dmdep.outputFile="$flink_dir/target/classpath.txt" >&2 \
  || die "the Flink side did not build offline: run scripts/install-deps.sh (fills the Maven cache) first"
java_opts=(-Xmx"$HEAP" -XX:+UseParallelGC
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED)
flink() {
  java "${java_opts[@]}" -cp "$flink_dir/target/classes:$(cat "$flink_dir/target/classpath.txt")" \
    weir.nexmark.Main "$@"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/nexmark-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the same events on both sides ---
wh=$("$weir" --events 1000000 --json-lines - | sha256sum | cut -d' ' -f1)
fh=$(flink --events 1000000 --json-lines - | sha256sum | cut -d' ' -f1)
if [ "$wh" != "$fh" ]; then
  die "the generators differ: the first million events (seed 0) hash $wh on Weir and $fh on Flink; \
compare 'weir-nexmark --events N --json-lines -' with the Flink side's '--json-lines -' to find the first different event"
fi
echo "compare.sh: the first million events hash the same on both sides ($wh)" >&2

known=$("$weir" --list | awk '{print $1}')
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
cell() { local s=${1//|/\\|}; [ ${#s} -le 100 ] || s="${s:0:100}…"; printf '%s' "$s"; }

table="| query | Weir events/CPU-s | Flink events/CPU-s | ratio | Weir p99 ms | Flink p99 ms | results equal |
|---|---|---|---|---|---|---|"
min_ratio=""
for q in "${queries[@]}"; do
  has_weir=0
  grep -qx "$q" <<<"$known" && has_weir=1
  w_eps=() f_eps=() w_p99=() f_p99=()
  for r in $(seq 1 "$RUNS"); do
    if [ $has_weir = 1 ]; then
      echo "compare.sh: $q run $r: weir-nexmark --query $q --events $EVENTS -p $P --work-dir $work" >&2
      if line=$("$weir" --query "$q" --events "$EVENTS" -p "$P" --work-dir "$work"); then
        echo "$line" >&2
        w_eps+=("$(field events_per_cpu_second "$line")") w_p99+=("$(field p99_latency_ms "$line")")
      else
        echo "compare.sh: $q: Weir failed" >&2
      fi
    fi
    echo "compare.sh: $q run $r: flink --query $q --events $EVENTS --parallelism $P --work-dir $work $FLINK_OPTS" >&2
    # shellcheck disable=SC2086
    if line=$(flink --query "$q" --events "$EVENTS" --parallelism "$P" --work-dir "$work" $FLINK_OPTS); then
      echo "$line" >&2
      f_eps+=("$(field events_per_cpu_second "$line")") f_p99+=("$(field p99_latency_ms "$line")")
    else
      echo "compare.sh: $q: Flink failed" >&2
    fi
  done
  fe=$(echo "${f_eps[*]:-}" | median) fp=$(echo "${f_p99[*]:-}" | median)
  [ ${#f_eps[@]} -gt 0 ] || fe="failed"
  if [ $has_weir = 0 ]; then
    table+="
| $q | Weir does not know $q | $fe | - | - | $fp | - |"
    continue
  fi
  we=$(echo "${w_eps[*]:-}" | median) wp=$(echo "${w_p99[*]:-}" | median)
  [ ${#w_eps[@]} -gt 0 ] || we="failed"
  ratio="-"
  if [[ $we =~ ^[0-9.e+]+$ && $fe =~ ^[0-9.e+]+$ ]]; then
    ratio=$(awk -v a="$we" -v b="$fe" 'BEGIN {printf "%.2f", a / b}')
    if [ -z "$min_ratio" ] || awk -v a="$ratio" -v b="$min_ratio" 'BEGIN {exit !(a < b)}'; then min_ratio=$ratio; fi
  fi
  # the check run: the final tables of both engines
  if [ "$q" = q12 ]; then
    equal="n/a (processing time)"
  else
    wc_ok=1 fc_ok=1
    "$weir" --query "$q" --events $CHECK_EVENTS --rate $CHECK_RATE -p "$P" --work-dir "$work" \
      --check "$work/$q.weir" >&2 || wc_ok=0
    # shellcheck disable=SC2086
    # Flink at parallelism 1: its Top-N breaks ties by arrival, which a single source makes the
    # events' order (Weir's Top-N breaks them by event time, then arrival, at any parallelism).
    flink --query "$q" --events $CHECK_EVENTS --rate $CHECK_RATE --parallelism 1 --work-dir "$work" \
      --check "$work/$q.flink" $FLINK_OPTS >&2 || fc_ok=0
    if [ $wc_ok = 0 ] || [ $fc_ok = 0 ]; then
      equal="check run failed"
    elif cmp -s "$work/$q.weir" "$work/$q.flink"; then
      equal="equal ($(wc -l <"$work/$q.weir") rows)"
    else
      first=$(diff "$work/$q.weir" "$work/$q.flink" | grep -m1 '^[<>]' || true)
      [[ $first == \<* ]] && first="only Weir: ${first:2}" || first="only Flink: ${first:2}"
      equal="DIFFERENT (Weir $(wc -l <"$work/$q.weir") rows, Flink $(wc -l <"$work/$q.flink"); $(cell "$first"))"
    fi
  fi
  table+="
| $q | $we | $fe | $ratio | $wp | $fp | $equal |"
done
summary="min ratio ${min_ratio:--}"
{
  echo "Nexmark, $EVENTS events, parallelism $P, medians of $RUNS runs ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "$table"
  echo
  echo "$summary"
} >"$out_dir/compare.md"
echo "$table"
echo "$summary"
