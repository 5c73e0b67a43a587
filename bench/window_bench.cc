// Keyed tumbling-window throughput (records/s per core), not a timed test:
//   generator of bids (auction id from 10,000 keys, price, event time +1 µs per record of each
//   parallel generator subtask, so all subtasks move through event time together, as the
//   partitions of a topic do)
//   -> timestamps/watermarks -> key_by(auction) -> 1 s tumbling window, count and sum -> sink
// at parallelism 1 and 2, plus a hand-written single-threaded loop of the same work.
// Usage: window_bench [--records N] [--runs R]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/weir.hpp"

namespace {

struct Bid {
  int64_t auction;
  int64_t price;
  int64_t ts;  // ms
};

/// Bid i; `per_subtask` records make up each generator subtask's contiguous share of the indices.
Bid make_bid(int64_t i, int64_t per_subtask) {
  const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  return Bid{static_cast<int64_t>((h >> 32) % 10'000), static_cast<int64_t>(h & 0xFFFF), (i % per_subtask) / 1000};
}

struct CountSum {
  struct Acc {
    int64_t count = 0;
    int64_t sum = 0;
  };
  Acc create_accumulator() const { return {}; }
  Acc add(const Bid& b, Acc a) const { return {a.count + 1, a.sum + b.price}; }
  Acc get_result(const Acc& a) const { return a; }
  Acc merge(Acc a, Acc b) const { return {a.count + b.count, a.sum + b.sum}; }
};

double run_job(int64_t n, int p) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(p);
  auto results = std::make_shared<std::atomic<int64_t>>(0);
  struct Sink {
    std::shared_ptr<std::atomic<int64_t>> total;
    int64_t local = 0;
    void operator()(const CountSum::Acc& a) { local += a.count; }
    void finish() { total->fetch_add(local); }
  };
  const int64_t per_subtask = (n + p - 1) / p;
  env.from_generator(n, [per_subtask](int64_t i) { return make_bid(i, per_subtask); })
      .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Bid>::for_monotonous_timestamps().with_timestamp_assigner(
          [](const Bid& b, int64_t) { return b.ts; }))
      .key_by([](const Bid& b) { return b.auction; })
      .window(weir::TumblingEventTimeWindows::of(std::chrono::seconds(1)))
      .aggregate(CountSum{})
      .add_sink(Sink{results});
  const auto t0 = std::chrono::steady_clock::now();
  env.execute("window bench");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (results->load() != n) {
    std::fprintf(stderr, "wrong result: %lld of %lld records counted\n", static_cast<long long>(results->load()), static_cast<long long>(n));
    std::abort();
  }
  return static_cast<double>(n) / secs;
}

/// The same work as a plain loop: per (auction, window) count and sum, emitted when the window ends.
double run_loop(int64_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  absl::flat_hash_map<int64_t, CountSum::Acc> open;
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
