// CEP throughput (not a timed test): a keyed `followed_by` pattern within 10 s over generated
// events, in event time, at parallelism 1. Prints each run (records/s, and records per
// CPU-second of the whole process: getrusage RUSAGE_SELF user+sys) and the medians. The same job
// on Flink CEP: bench/cep/flink (run.sh runs both).
// Usage: cep_bench [--records N] [--keys K] [--runs R] [--parallelism P]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "weir/cep/cep.hpp"
#include "weir/weir.hpp"

namespace {

struct Ev {
  int64_t key = 0;
  int32_t kind = 0;  // 0: "a" (start), 1: "b" (end), 2: other
  int64_t ts = 0;
};
WEIR_SERDE(Ev, key, kind, ts)

/// Event i: key spread over `keys` keys, 100 events per millisecond of event time, kinds
/// a / b / other in a fixed pseudo-random mix (a 30 %, b 30 %, other 40 %).
Ev make_event(int64_t i, int64_t keys) {
  const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  const int r = static_cast<int>((h >> 33) % 10);
  return Ev{static_cast<int64_t>((h >> 13) % static_cast<uint64_t>(keys)), r < 3 ? 0 : (r < 6 ? 1 : 2), i / 100};
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Result {
  double records_per_s, records_per_cpu_s;
  int64_t matches;
};

Result run(int64_t n, int64_t keys, int p) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p);
  auto events = env.from_generator(n, [keys](int64_t i) { return make_event(i, keys); })
                    .assign_timestamps_and_watermarks(weir::WatermarkStrategy<Ev>::for_monotonous_timestamps().with_timestamp_assigner(
                        [](const Ev& e, int64_t) { return e.ts; }));
  auto pattern = weir::cep::Pattern<Ev>::begin("a")
                     .where([](const Ev& e) { return e.kind == 0; })
                     .followed_by("b")
                     .where([](const Ev& e) { return e.kind == 1; })
                     .within(std::chrono::seconds(10));
  auto matches = std::make_shared<std::atomic<int64_t>>(0);
  weir::cep::CEP::pattern(events.key_by([](const Ev& e) { return e.key; }), pattern)
      .select([](const std::map<std::string, std::vector<Ev>>& m) { return m.at("b")[0].ts - m.at("a")[0].ts; })
      .add_sink([matches](const int64_t&) { matches->fetch_add(1, std::memory_order_relaxed); });
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  env.execute("cep bench");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  return {static_cast<double>(n) / secs, static_cast<double>(n) / cpu, matches->load()};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 10'000'000, keys = 100'000;
  int runs = 3, p = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--records")) n = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--keys")) keys = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--parallelism")) p = std::atoi(argv[i + 1]);
  }
  std::vector<double> rate, per_cpu;
  for (int r = 0; r < runs; ++r) {
    const Result res = run(n, keys, p);
    rate.push_back(res.records_per_s);
    per_cpu.push_back(res.records_per_cpu_s);
    std::printf("  run %d: %.0f records/s, %.0f records per CPU-second, %lld matches\n", r + 1, res.records_per_s,
                res.records_per_cpu_s, static_cast<long long>(res.matches));
    std::fflush(stdout);
  }
  std::printf("weir cep: %lld records, %lld keys, parallelism %d: median %.0f records/s, %.0f records per CPU-second\n",
              static_cast<long long>(n), static_cast<long long>(keys), p, median(rate), median(per_cpu));
}
