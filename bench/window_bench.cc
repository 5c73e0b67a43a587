// Keyed tumbling-window throughput (records/s per core), not a timed test: the job of
// window_job.h at parallelism 1 and 2, plus a hand-written single-threaded loop of the same work.
// Usage: window_bench [--records N] [--runs R]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "window_job.h"

namespace {

using bench::Acc;
using bench::Bid;
using bench::make_bid;

double run_job(int64_t n, int p) { return bench::run_window_job(n, p, [](weir::StreamExecutionEnvironment&) {}); }

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
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--parallelism")) {
      parallelisms = {std::atoi(argv[i + 1])};
      loop_baseline = false;
    }
    if (!std::strcmp(argv[i], "--records")) n = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  if (loop_baseline) {
    std::vector<double> loop;
    for (int r = 0; r < runs; ++r) loop.push_back(run_loop(n));
    std::printf("hand-written loop: median %.1f M records/s (1 core)\n", median(loop) / 1e6);
  }
  for (int p : parallelisms) {
    std::vector<double> v;
    for (int r = 0; r < runs; ++r) {
      v.push_back(run_job(n, p));
      std::printf("  parallelism %d run %d: %.1f M records/s\n", p, r + 1, v.back() / 1e6);
    }
    const double m = median(v);
    std::printf("keyed tumbling window, parallelism %d: median %.1f M records/s, %.1f M records/s per core\n", p, m / 1e6,
                m / 1e6 / p);
  }
}
