#!/usr/bin/env bash
# Installs Weir's build and test dependencies from Debian 12 packages.
# Idempotent: prints nothing and installs nothing when everything is present. Also resolves the
# Apache Kafka broker the tests run against into the Maven cache (scripts/kafka.sh fetch).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config python3
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libabsl-dev libxxhash-dev libfmt-dev libspdlog-dev libcli11-dev librocksdb-dev
  librdkafka-dev libcpp-httplib-dev nlohmann-json3-dev
  kcat wrk curl openjdk-17-jdk-headless maven
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

# The Maven cache of the test peers: the Apache Kafka broker and its tools (scripts/kafka.sh).
"$(dirname "$0")/kafka.sh" fetch
