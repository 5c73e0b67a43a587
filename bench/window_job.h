#pragma once
// The keyed tumbling-window job that window_bench and checkpoint_bench measure:
//   generator of bids (auction id from 10,000 keys, price, event time +1 µs per record of each
//   parallel generator subtask, so all subtasks move through event time together, as the
//   partitions of a topic do)
//   -> timestamps/watermarks -> key_by(auction) -> 1 s tumbling window, count and sum -> sink.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <sys/resource.h>

#include "weir/weir.hpp"

namespace bench {

struct Bid {
  int64_t auction;
  int64_t price;
  int64_t ts;  // ms
};
WEIR_SERDE(Bid, auction, price, ts)

/// Bid i; `per_subtask` records make up each generator subtask's contiguous share of the indices.
inline Bid make_bid(int64_t i, int64_t per_subtask) {
  const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  return Bid{static_cast<int64_t>((h >> 32) % 10'000), static_cast<int64_t>(h & 0xFFFF), (i % per_subtask) / 1000};
}

struct Acc {
  int64_t count = 0;
  int64_t sum = 0;
};
WEIR_SERDE(Acc, count, sum)

struct CountSum {
  Acc create_accumulator() const { return {}; }
  Acc add(const Bid& b, Acc a) const { return {a.count + 1, a.sum + b.price}; }
  Acc get_result(const Acc& a) const { return a; }
  Acc merge(Acc a, Acc b) const { return {a.count + b.count, a.sum + b.sum}; }
};

/// CPU time (user + system) of the whole process so far, in seconds: worker threads that spin
/// count.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// Throughput of one run: records per wall-clock second and per CPU-second of the process.
struct Rate {
  double per_s = 0;
  double per_cpu_s = 0;
};

/// Runs the job over `n` bids at parallelism `p` on an environment `configure` has set up;
/// checks every bid was counted once; returns records/s and records per CPU-second and, when
/// asked, the checkpoint stats.
template <class Configure>
Rate run_window_job(int64_t n, int p, Configure&& configure, weir::CheckpointStats* stats = nullptr) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(p);
  configure(env);
  auto results = std::make_shared<std::atomic<int64_t>>(0);
  struct Sink {
    std::shared_ptr<std::atomic<int64_t>> total;
    int64_t local = 0;
    void operator()(const Acc& a) { local += a.count; }
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
  const double cpu0 = process_cpu_seconds();
  auto client = env.execute_async("window bench");
  client.wait();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = process_cpu_seconds() - cpu0;
  if (results->load() != n) {
    std::fprintf(stderr, "wrong result: %lld of %lld records counted\n", static_cast<long long>(results->load()),
                 static_cast<long long>(n));
    std::abort();
  }
  if (stats) *stats = client.get_checkpoint_stats();
  return Rate{static_cast<double>(n) / secs, static_cast<double>(n) / cpu};
}

}  // namespace bench
