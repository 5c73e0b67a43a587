#!/usr/bin/env bash
# Keyed CEP benchmark, Weir and Flink CEP in the same run: a followed_by pattern within 10 s over
# N events (default 10 M) and K keys (default 100 k), event time, parallelism 1; records/s and
# records per CPU-second of the whole process, medians of R runs (default 3).
# Usage: bench/cep/run.sh [N] [K] [R]   (from the repository root, after
#   cmake --build build/release --target cep_bench; needs java 17 and mvn for the Flink side)
set -euo pipefail
N=${1:-10000000}
K=${2:-100000}
R=${3:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CEP_BENCH:-$root/build/release/bench/cep_bench}
echo "== weir: $bin --records $N --keys $K --runs $R"
"$bin" --records "$N" --keys "$K" --runs "$R"
cd "$root/bench/cep/flink"
mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
echo "== flink $(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' pom.xml): java weir.bench.CepBench $N $K $R"
java -Xmx4g --add-opens java.base/java.util=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
  -cp "target/classes:$(cat target/classpath.txt)" weir.bench.CepBench "$N" "$K" "$R"
