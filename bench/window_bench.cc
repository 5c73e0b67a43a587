// Keyed tumbling-window throughput (records/s and records per CPU-second of the whole process,
// getrusage user + sys), not a timed test: the job of window_job.h at parallelism 1 and 2, plus
// a hand-written single-threaded loop of the same work.
// Usage: window_bench [--records N] [--runs R] [--parallelism P] [--rocksdb DIR]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "window_job.h"

namespace {

using bench::Acc;
using bench::Bid;
using bench::make_bid;

bench::Rate run_job(int64_t n, int p, const std::string& rocksdb_dir) {
  auto r = bench::run_window_job(n, p, [&](weir::StreamExecutionEnvironment& env) {
    if (!rocksdb_dir.empty()) env.set_state_backend(weir::StateBackend::rocksdb(rocksdb_dir + "/db"));
  });
  if (!rocksdb_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(rocksdb_dir, ec);
  }
  return r;
}

/// The same work as a plain loop: per (auction, window) count and sum, emitted when the window ends.
double run_loop(int64_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  absl::flat_hash_map<int64_t, Acc> open;
  int64_t window = 0, counted = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Bid b = make_bid(i, n);
    const int64_t w = b.ts / 1000;
    if (w != window) {
      for (auto& [k, a] : open) counted += a.count;
      open.clear();
      window = w;
    }
    auto& a = open[b.auction];
    a.count += 1;
    a.sum += b.price;
  }
  for (auto& [k, a] : open) counted += a.count;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (counted != n) std::abort();
  return static_cast<double>(n) / secs;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 100'000'000;
  int runs = 5;
  std::vector<int> parallelisms{1, 2};
  bool loop_baseline = true;
  std::string rocksdb_dir;  // empty: heap state
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--parallelism")) {
      parallelisms = {std::atoi(argv[i + 1])};
      loop_baseline = false;
    }
    if (!std::strcmp(argv[i], "--records")) n = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rocksdb")) {
      rocksdb_dir = argv[i + 1];
      loop_baseline = false;
    }
  }
  std::printf("window_bench --records %lld --runs %d%s%s\n", static_cast<long long>(n), runs,
              rocksdb_dir.empty() ? "" : " --rocksdb ", rocksdb_dir.c_str());
  if (loop_baseline) {
    std::vector<double> loop;
    for (int r = 0; r < runs; ++r) loop.push_back(run_loop(n));
    std::printf("hand-written loop: median %.1f M records/s (1 core)\n", median(loop) / 1e6);
  }
  for (int p : parallelisms) {
    std::vector<double> v, cpu;
    for (int r = 0; r < runs; ++r) {
      const auto rate = run_job(n, p, rocksdb_dir);
      v.push_back(rate.per_s);
      cpu.push_back(rate.per_cpu_s);
      std::printf("  parallelism %d run %d: %.2f M records/s, %.2f M records per CPU-second\n", p, r + 1, v.back() / 1e6,
                  cpu.back() / 1e6);
      std::fflush(stdout);
    }
    const double m = median(v);
    std::printf("keyed tumbling window%s, parallelism %d: median %.2f M records/s (%.2f M per core), median %.2f M "
                "records per CPU-second\n",
                rocksdb_dir.empty() ? "" : " (RocksDB state)", p, m / 1e6, m / 1e6 / p, median(cpu) / 1e6);
  }
}
