# `make demo` and `make test` do everything on a fresh Debian 12 machine: install what is
# missing, configure, build, run.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)

.PHONY: all deps configure build demo test system-test bench install clean fuzz

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@test -f $(BUILD_DIR)/build.ninja || cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@BUILD_DIR=$(BUILD_DIR) scripts/demo.sh

test: build
	@cd $(BUILD_DIR) && ctest -j $(JOBS) --timeout 300 --output-on-failure -LE system

# The long system tests (real processes at scale): the control plane with 100 workers.
system-test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L system

bench: build
	$(BUILD_DIR)/bench/throughput_bench
	$(BUILD_DIR)/bench/window_bench
	$(BUILD_DIR)/bench/latency_bench

install: build
	cmake --install $(BUILD_DIR) --prefix $(or $(PREFIX),/usr/local)

# libFuzzer targets (clang): make fuzz SECONDS=300
fuzz: deps
	@cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DWEIR_BUILD_FUZZ=ON \
	  -DWEIR_BUILD_TESTS=OFF -DWEIR_BUILD_BENCH=OFF >/dev/null
	@cmake --build build/fuzz --target serde_fuzz
	@mkdir -p build/fuzz/corpus && cp -n src/serde/fuzz/corpus/* build/fuzz/corpus/ 2>/dev/null || true
	build/fuzz/src/serde/serde_fuzz -max_total_time=$(or $(SECONDS),180) build/fuzz/corpus

clean:
	rm -rf build
