#!/usr/bin/env bash
# Installs Weir's build and test dependencies from Debian 12 packages.
# Idempotent: prints nothing and installs nothing when everything is present. Also resolves the
# Apache Kafka broker the tests run against into the Maven cache (scripts/kafka.sh fetch).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config python3 python3-venv python3-dev
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libabsl-dev libxxhash-dev libfmt-dev libspdlog-dev libcli11-dev librocksdb-dev
  librdkafka-dev libcpp-httplib-dev nlohmann-json3-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libasio-dev iproute2
  kcat wrk curl openjdk-17-jdk-headless maven
  etcd-server etcd-client
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The project's Python virtual environment (.venv): nanobind and scikit-build-core build the
# extension, cloudpickle and pytest run it. Remade when python/requirements-dev.txt changes.
root="$(cd "$(dirname "$0")/.." && pwd)"
req="$root/python/requirements-dev.txt"
stamp="$root/.venv/.requirements"
if [ ! -x "$root/.venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
  echo "install-deps: preparing the Python virtual environment (.venv)"
  [ -x "$root/.venv/bin/python" ] || /usr/bin/python3 -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi
# PyFlink's own DataStream examples, run unchanged by the Python tests: they ship in the
# apache-flink wheel (only the wheel is fetched; PyFlink itself is not installed).
pyflink_wheels="$root/.venv/pyflink-wheel"
if ! ls "$pyflink_wheels"/apache_flink-2.3.0-*.whl >/dev/null 2>&1; then
  echo "install-deps: downloading the apache-flink 2.3.0 wheel (PyFlink's examples)"
  "$root/.venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$pyflink_wheels" apache-flink==2.3.0
fi

# The web UI (web/): its npm packages (React, Vite, TypeScript, playwright-core), installed from
# the lock file. Node.js and npm come with the machine; Debian's are installed when missing.
# Redone when web/package-lock.json changes.
if ! command -v npm >/dev/null; then
  echo "install-deps: installing nodejs npm"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
web_stamp="$root/web/node_modules/.weir-package-lock"
if [ ! -d "$root/web/node_modules" ] || ! cmp -s "$root/web/package-lock.json" "$web_stamp"; then
  echo "install-deps: installing the web UI's npm packages (web/node_modules)"
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$root/web/package-lock.json" "$web_stamp"
fi

# The Maven cache of the test peers: the Apache Kafka broker and its tools (scripts/kafka.sh).
"$(dirname "$0")/kafka.sh" fetch

# The Maven cache of the Flink side of the Nexmark comparison (bench/nexmark/compare.sh builds it
# offline): Flink 2.3.0's table planner and runtime, and the plugins that build it.
# Redone when the pom changes.
nexmark_flink="$root/bench/nexmark/flink"
if command -v mvn >/dev/null && { [ ! -f "$nexmark_flink/target/classpath.txt" ] ||
    ! cmp -s "$nexmark_flink/pom.xml" "$nexmark_flink/target/.weir-pom"; }; then
  echo "install-deps: filling the Maven cache of the Flink side of Nexmark (bench/nexmark/flink)"
  mvn -q -B -f "$nexmark_flink/pom.xml" dependency:go-offline compile dependency:build-classpath \
    -Dmdep.outputFile=target/classpath.txt
  cp "$nexmark_flink/pom.xml" "$nexmark_flink/target/.weir-pom"
fi
