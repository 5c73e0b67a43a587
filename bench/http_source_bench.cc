// The HTTP ingestion source under load: HttpSource -> (optionally throttled map) -> counting
// sink, driven from outside by wrk (see bench/http_source_bench.sh). Not a timed test.
//
// Usage: http_source_bench [--port P] [--threads N] [--queue RECORDS] [--throttle RECORDS_PER_S]
//                          [--parallelism P]
// Prints "PORT <p>" once the server listens, then runs until SIGINT/SIGTERM,
// ends the source (handle->finish()) and prints: records and requests taken, 429s, the rate
// between the first and the last record, records per CPU-second of the whole process
// (getrusage RUSAGE_SELF user+sys), the resident set sampled every 100 ms and its peak
// (ru_maxrss).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weir/connectors/http.hpp"
#include "weir/weir.hpp"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
long peak_rss_kb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}
long rss_kb() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Counts records; the first and last time one arrived.
struct Counts {
  std::atomic<int64_t> records{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> first_ns{0};
  std::atomic<int64_t> last_ns{0};
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0, threads = 16, parallelism = 1;
  std::size_t queue = 1024;
  double throttle = 0;  // records/s through the map; 0: none
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--port") port = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--queue") queue = static_cast<std::size_t>(std::atoll(argv[i + 1]));
    else if (a == "--throttle") throttle = std::atof(argv[i + 1]);
    else if (a == "--parallelism") parallelism = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);

  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(parallelism).set_worker_threads(std::max(1, parallelism));
  weir::HttpSource src("bench");
  src.set_port(port).set_threads(threads).set_queue_capacity(queue);
  auto handle = src.handle();
  auto counts = std::make_shared<Counts>();
  auto stream = weir::http_source_stream(env, src);
  if (throttle > 0) {
    // A downstream that takes at most `throttle` records/s (sleeps in the source's task: the
    // map is chained to it), so the source's queue fills and requests get 429.
    stream = stream.map([throttle, next = int64_t{0}](const std::string& s) mutable {
      const int64_t gap = static_cast<int64_t>(1e9 / throttle);
      int64_t t = now_ns();
      if (next == 0) next = t;
      if (t < next) std::this_thread::sleep_for(std::chrono::nanoseconds(next - t));
      next += gap;
      return s;
    });
  }
  stream.add_sink([counts](const std::string& s) {
    // The clock every 100th record (a record per request of the script's bodies): reading it
    // per record would cost more than the source.
    const int64_t n = counts->records.fetch_add(1, std::memory_order_relaxed);
    if (n % 100 == 0) {
      const int64_t t = now_ns();
      if (n == 0) counts->first_ns.store(t);
      counts->last_ns.store(t, std::memory_order_relaxed);
    }
    counts->bytes.fetch_add(static_cast<int64_t>(s.size()), std::memory_order_relaxed);
  });

  const double cpu0 = cpu_seconds();
  auto client = env.execute_async("http source bench");
  const int bound = handle->wait_for_port();
  if (bound == 0) {
    std::fprintf(stderr, "the source did not bind\n");
    client.cancel();
    try { client.wait(); } catch (const std::exception& e) { std::fprintf(stderr, "%s\n", e.what()); }
    return 1;
  }
  std::printf("PORT %d\n", bound);
  std::fflush(stdout);

  // RSS every 100 ms while records flow.
  std::vector<long> rss_samples;
  std::mutex rss_mu;
  std::thread sampler([&] {
    while (!g_stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (counts->records.load() > 0) {
        std::lock_guard lock(rss_mu);
        rss_samples.push_back(rss_kb());
      }
    }
  });
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sampler.join();
  // Let the rest of the job drain (it has records of requests already answered 200).
  handle->finish();
  const auto metrics = client.metrics();
  try {
    client.wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "job failed: %s\n", e.what());
    return 1;
  }
  const double cpu = cpu_seconds() - cpu0;

  auto metric = [&](const std::string& name) {
    int64_t v = 0;
    for (const auto& m : metrics) {
      auto it = m.operator_metrics.find("HTTP Source." + name);
      if (it != m.operator_metrics.end()) v += it->second;
    }
    return v;
  };
  const int64_t records = counts->records.load();
  const double secs = std::max(1e-9, static_cast<double>(counts->last_ns.load() - counts->first_ns.load()) / 1e9);
  const int64_t accepted = metric("requests_accepted");
  std::printf("records %lld, requests accepted %lld, rejected 429 %lld, 503 %lld, body bytes %lld\n",
              static_cast<long long>(records), static_cast<long long>(accepted),
              static_cast<long long>(metric("rejected_requests_429")), static_cast<long long>(metric("rejected_requests_503")),
              static_cast<long long>(metric("bytes")));
  std::printf("window %.2f s (first to last record): %.0f records/s, %.0f accepted requests/s\n", secs,
              static_cast<double>(records) / secs, static_cast<double>(accepted) / secs);
  std::printf("process CPU %.2f s: %.0f records per CPU-second\n", cpu, static_cast<double>(records) / cpu);
  {
    std::lock_guard lock(rss_mu);
    if (!rss_samples.empty()) {
      const auto n = rss_samples.size();
      std::printf("RSS (KiB) at 10%%/50%%/90%%/100%% of the run: %ld %ld %ld %ld; min %ld max %ld over %zu samples\n",
                  rss_samples[n / 10], rss_samples[n / 2], rss_samples[n * 9 / 10], rss_samples[n - 1],
                  *std::min_element(rss_samples.begin(), rss_samples.end()),
                  *std::max_element(rss_samples.begin(), rss_samples.end()), n);
    }
  }
  std::printf("peak RSS (ru_maxrss) %ld KiB\n", peak_rss_kb());
  return 0;
}
