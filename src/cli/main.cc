// The `weir` command line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "weir/weir.hpp"

namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

struct Click {
  int64_t user = 0;
  int64_t page = 0;
  bool operator==(const Click&) const = default;
};
WEIR_SERDE(Click, user, page);

/// Runs a job to its end while printing a live records/s line; Ctrl-C cancels it cleanly.
int watch(weir::JobClient& client, const char* what) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last = start;
  uint64_t last_count = 0;
  auto fut = client.get_job_execution_result();
  while (fut.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (g_interrupted.load()) {
      std::fprintf(stderr, "\ncanceling...\n");
      client.cancel();
      g_interrupted.store(false);
    }
    const auto now = clock::now();
    if (now - last >= std::chrono::milliseconds(500)) {
      uint64_t count = 0;
      for (const auto& m : client.metrics()) count += m.records_out;
      const double secs = std::chrono::duration<double>(now - last).count();
      std::fprintf(stderr, "\r%s: %12llu records  %8.2f M records/s   ", what,
                   static_cast<unsigned long long>(count), (count - last_count) / secs / 1e6);
      last = now;
      last_count = count;
    }
  }
  std::fprintf(stderr, "\n");
  try {
    auto result = client.wait();
    std::fprintf(stderr, "job '%s' finished in %lld ms\n", result.get_job_name().c_str(),
                 static_cast<long long>(result.get_net_runtime()));
    return 0;
  } catch (const weir::JobFailure& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

int run_demo(int64_t records, int parallelism, int64_t users) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(parallelism);
  // A keyed running count: clicks per user, generated deterministically from the index.
  auto counts = env.from_generator(records, [users](int64_t i) {
                     const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
                     return Click{static_cast<int64_t>((h >> 17) % static_cast<uint64_t>(users)), i % 100};
                   })
                    .name("clicks")
                    .map([](const Click& c) { return std::pair<int64_t, int64_t>{c.user, 1}; })
                    .name("to-count")
                    .key_by([](const std::pair<int64_t, int64_t>& p) { return p.first; })
                    .reduce([](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
                      return std::pair<int64_t, int64_t>{a.first, a.second + b.second};
                    })
                    .name("count-per-user");
  // Keep the last running count per user; print the top users at the end.
  struct Latest {
    std::shared_ptr<std::map<int64_t, int64_t>> all = std::make_shared<std::map<int64_t, int64_t>>();
    std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
    std::map<int64_t, int64_t> mine;
    void operator()(const std::pair<int64_t, int64_t>& p) { mine[p.first] = p.second; }
    void finish() {
      std::lock_guard lock(*mu);
      for (auto& [k, v] : mine) (*all)[k] = v;
    }
  };
  Latest latest;
  auto all = latest.all;
  counts.add_sink(latest).name("latest-count");

  std::fprintf(stderr, "weir demo: %lld clicks of %lld users, keyed running count, parallelism %d\n",
               static_cast<long long>(records), static_cast<long long>(users), parallelism);
  std::fprintf(stderr, "%s\n", env.get_execution_plan().c_str());
  auto client = env.execute_async("weir demo: clicks per user");
  const int rc = watch(client, "clicks");
  if (rc != 0) return rc;
  std::vector<std::pair<int64_t, int64_t>> top(all->begin(), all->end());
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  int64_t total = 0;
  for (auto& [u, c] : top) total += c;
  std::printf("top users by clicks:\n");
  for (std::size_t i = 0; i < std::min<std::size_t>(5, top.size()); ++i) {
    std::printf("  user %6lld  %lld clicks\n", static_cast<long long>(top[i].first), static_cast<long long>(top[i].second));
  }
  std::printf("users: %zu, clicks counted: %lld of %lld\n", top.size(), static_cast<long long>(total),
              static_cast<long long>(records));
  return total == records ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Weir: stream processing with Flink's model, without a JVM"};
  app.require_subcommand(1);

  auto* demo = app.add_subcommand("demo", "Run a built-in job on generated data (a keyed running count)");
  int64_t records = 50'000'000;
  int parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t users = 10'000;
  demo->add_option("-n,--records", records, "Number of generated records")->check(CLI::PositiveNumber);
  demo->add_option("-p,--parallelism", parallelism, "Parallelism")->check(CLI::PositiveNumber);
  demo->add_option("-u,--users", users, "Number of distinct keys")->check(CLI::PositiveNumber);

  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  try {
    if (app.got_subcommand("version")) {
      std::printf("weir 0.1.0\n");
      return 0;
    }
    if (app.got_subcommand("demo")) return run_demo(records, parallelism, users);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir: %s\n", e.what());
    return 1;
  }
  return 0;
}
