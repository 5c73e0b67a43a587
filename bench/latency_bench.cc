// End-to-end latency under a steady trickle (not a timed test): a generator paced at a fixed
// rate → map → key_by → reduce → sink. Each record carries its creation time (steady clock);
// the sink records its age. Prints p50/p99/p999 of the age, the records/s reached, and records
// per CPU-second of the whole process (getrusage).
// Usage: latency_bench [--rates 10000,100000,1000000] [--parallelism 1,2,4] [--seconds S]
//                      [--buffer-timeout-us U (-1: only full batches)] [--workers W (0: p + 1)]
// The generator waits inside its function until each record is due (sleeping, so that a
// shared machine's other work does not preempt a spinning thread), so its task never runs dry:
// the case where partly filled batches only leave by the buffer timeout.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

namespace {

struct Rec {
  int64_t key = 0;
  int64_t created_ns = 0;  ///< steady clock, when the generator made the record
  int64_t value = 0;
};

}  // namespace
WEIR_SERDE(Rec, key, created_ns, value)

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// Gathers the ages the sink subtasks saw (each keeps its own until it finishes).
struct Ages {
  std::mutex mu;
  std::vector<int64_t> all;
};

struct AgeSink {
  std::shared_ptr<Ages> ages;
  int64_t skip_before_ns;  ///< records made before this are warm-up
  std::size_t reserve;
  std::vector<int64_t> local;
  void operator()(const Rec& r) {
    if (local.capacity() == 0) local.reserve(reserve);  // no reallocation while measuring
    if (r.created_ns >= skip_before_ns) local.push_back(now_ns() - r.created_ns);
  }
  void finish() {
    std::lock_guard lock(ages->mu);
    ages->all.insert(ages->all.end(), local.begin(), local.end());
  }
};

struct Result {
  double p50_us, p99_us, p999_us, records_per_s, records_per_cpu_s;
  std::size_t measured;
};

Result run(int64_t rate, int p, double seconds, int64_t buffer_timeout_us, int workers) {
  const int64_t per_subtask = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(rate) * seconds) / p);
  const int64_t n = per_subtask * p;
  const int64_t gap_ns = 1'000'000'000LL * p / rate;  // between two records of one subtask
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(workers > 0 ? workers : p + 1);
  if (buffer_timeout_us != -2) env.set_buffer_timeout(std::chrono::microseconds(buffer_timeout_us));
  const int64_t start = now_ns() + 50'000'000;  // every subtask starts pacing at once, after set-up
  const int64_t warmup_end = start + static_cast<int64_t>(seconds * 0.1 * 1e9);
  auto ages = std::make_shared<Ages>();
  env.from_generator(n,
                     [start, gap_ns, per_subtask](int64_t i) {
                       // Subtask k makes indices [k * per_subtask, (k + 1) * per_subtask).
                       const int64_t due = start + (i % per_subtask) * gap_ns;
                       // Sleeps (never spins) until the record is due; a sleep that overshoots
                       // makes the records due meanwhile at once, so the rate holds on average.
                       const int64_t t = now_ns();
                       if (t < due) std::this_thread::sleep_for(std::chrono::nanoseconds(due - t));
                       return Rec{i % 1024, now_ns(), 1};
                     })
      .map([](const Rec& r) { return Rec{r.key, r.created_ns, r.value * 2}; })
      .key_by([](const Rec& r) { return r.key; })
      .reduce([](const Rec& a, const Rec& b) { return Rec{b.key, b.created_ns, a.value + b.value}; })
      .add_sink(AgeSink{ages, warmup_end, static_cast<std::size_t>(n), {}});
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  env.execute("latency");
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  auto& v = ages->all;
  std::sort(v.begin(), v.end());
  auto pct = [&](double q) {
    if (v.empty()) return 0.0;
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]) / 1e3;
  };
  return Result{pct(0.50), pct(0.99), pct(0.999), static_cast<double>(n) / wall, static_cast<double>(n) / cpu, v.size()};
}

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoll(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> rates{10'000, 100'000, 1'000'000};
  std::vector<int64_t> parallelisms{1, 2, 4};
  double seconds = 2.0;
  int64_t buffer_timeout_us = -2;  // the default
  int workers = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rates")) rates = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--parallelism")) parallelisms = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--buffer-timeout-us")) buffer_timeout_us = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--workers")) workers = std::atoi(argv[i + 1]);
  }
  std::printf("%10s %3s %10s %10s %10s %14s %16s\n", "rate/s", "p", "p50 us", "p99 us", "p999 us", "records/s", "records/cpu-s");
  for (int64_t rate : rates) {
    for (int64_t p : parallelisms) {
      const Result r = run(rate, static_cast<int>(p), seconds, buffer_timeout_us, workers);
      std::printf("%10lld %3lld %10.1f %10.1f %10.1f %14.0f %16.0f\n", static_cast<long long>(rate), static_cast<long long>(p),
                  r.p50_us, r.p99_us, r.p999_us, r.records_per_s, r.records_per_cpu_s);
      std::fflush(stdout);
    }
  }
}
