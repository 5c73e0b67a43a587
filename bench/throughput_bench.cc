// Throughput of the runtime, in records per second per core (not a timed test):
//   (a) chained generator -> map -> filter -> sink: no channels, direct calls
//   (b) generator -> key_by -> reduce -> sink: a hash exchange between tasks
// Usage: throughput_bench [--records N] [--parallelism P] [--runs R] [--only a|b]
// Prints each run and the median. "per core" divides by min(parallelism, worker threads).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "weir/weir.hpp"

namespace {

struct Options {
  int64_t records = 200'000'000;
  int64_t keyed_records = 50'000'000;
  int parallelism = 2;
  int runs = 5;
  std::string only;
};

/// Counts what reaches the sink, so nothing is optimised away.
struct CountingSink {
  std::shared_ptr<std::atomic<int64_t>> total = std::make_shared<std::atomic<int64_t>>(0);
  int64_t local = 0;
  template <class T>
  void operator()(const T&) { ++local; }
  void finish() { total->fetch_add(local); }
};

double run_chained(const Options& o) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(o.parallelism).set_worker_threads(o.parallelism);
  CountingSink sink;
  env.from_generator(o.records, [](int64_t i) { return i; })
      .map([](const int64_t& x) { return x * 3 + 1; })
      .filter([](const int64_t& x) { return (x & 7) != 0; })
      .add_sink(sink);
  const auto t0 = std::chrono::steady_clock::now();
  env.execute("bench a: chained map -> filter");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sink.total->load() <= 0) std::abort();
  return static_cast<double>(o.records) / secs;
}

double run_keyed(const Options& o) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(o.parallelism).set_worker_threads(o.parallelism);
  using KV = std::pair<int64_t, int64_t>;
  CountingSink sink;
  env.from_generator(o.keyed_records, [](int64_t i) { return KV{(i * 0x9E3779B97F4A7C15ll) & 0x3FFF, 1}; })
      .key_by([](const KV& kv) { return kv.first; })
      .reduce([](const KV& a, const KV& b) { return KV{a.first, a.second + b.second}; })
      .add_sink(sink);
  const auto t0 = std::chrono::steady_clock::now();
  env.execute("bench b: key_by -> reduce");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sink.total->load() != o.keyed_records) std::abort();
  return static_cast<double>(o.keyed_records) / secs;
}

void report(const char* name, const Options& o, double (*fn)(const Options&)) {
  std::vector<double> r;
  for (int i = 0; i < o.runs; ++i) {
    r.push_back(fn(o));
    std::printf("  %s run %d: %.1f M records/s (%.1f M/s per core)\n", name, i + 1, r.back() / 1e6,
                r.back() / 1e6 / o.parallelism);
  }
  std::sort(r.begin(), r.end());
  const double med = r[r.size() / 2];
  std::printf("%s: median %.1f M records/s, %.1f M records/s per core (parallelism %d, %d runs)\n", name, med / 1e6,
              med / 1e6 / o.parallelism, o.parallelism, o.runs);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--records")) o.records = o.keyed_records = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--parallelism")) o.parallelism = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) o.runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--only")) o.only = argv[i + 1];
  }
  if (o.only.empty() || o.only == "a") report("(a) chained map->filter", o, run_chained);
  if (o.only.empty() || o.only == "b") report("(b) key_by->reduce", o, run_keyed);
}
