// One channel, one producer thread, one consumer thread: batches of 1024 records through a
// remote channel (two DataPlanes on loopback, standing for two processes) and, for comparison,
// through a LocalChannel. Reports records/s and records per CPU-second of the whole process
// (getrusage RUSAGE_SELF, user + sys), median of the runs.
//
//   channel_bench [--records N] [--runs R] [--type int64|string100|all] [--mode remote|local|all]
//                 [--capacity BYTES]
//
// Both ends poll (the producer when the channel is full, the consumer when its gate is empty)
// with a 20 µs sleep: there is no task scheduler here to wake them.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "network/data_plane.h"
#include "runtime/channel.h"
#include "runtime/task.h"
#include "runtime/worker_pool.h"
#include "weir/runtime/internal/logical_graph.hpp"

using namespace weir;
using runtime::Batch;
using runtime::Event;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

constexpr std::size_t kBatch = 1024;

template <class T>
T make_value(uint64_t i);
template <>
int64_t make_value<int64_t>(uint64_t i) {
  return static_cast<int64_t>(i);
}
template <>
std::string make_value<std::string>(uint64_t i) {
  std::string s(100, 'a' + static_cast<char>(i % 26));
  std::memcpy(s.data(), &i, sizeof i);
  return s;
}

struct Result {
  double records_per_s;
  double records_per_cpu_s;
};

template <class T>
Result run_once(bool remote, uint64_t records, std::size_t capacity) {
  runtime::WorkerPool pool(0);
  runtime::Task producer_task(nullptr, &pool, runtime::TaskInfo{});
  runtime::Task consumer_task(nullptr, &pool, runtime::TaskInfo{});
  runtime::ChannelStats stats;
  std::unique_ptr<network::DataPlane> a, b;
  std::unique_ptr<runtime::OutputChannel> out;
  std::unique_ptr<runtime::InputChannel> in;
  std::unique_ptr<runtime::LocalChannel> local;
  runtime::OutputChannel* out_ch;
  if (remote) {
    a = std::make_unique<network::DataPlane>(network::DataPlaneOptions{});
    b = std::make_unique<network::DataPlane>(network::DataPlaneOptions{});
    network::ChannelId id{"bench", 0, 0};
    in = b->open_input(id, 0, &consumer_task.gate, detail::type_ops<T>(), capacity, &stats);
    out = a->open_output(id, b->address(), capacity, std::function<void()>{}, &stats);
    out_ch = out.get();
  } else {
    local = std::make_unique<runtime::LocalChannel>(capacity, &producer_task, &consumer_task.gate, 0, &stats);
    out_ch = local.get();
  }
  // Prepared values: the benchmark measures the channel, not making records.
  std::vector<T> values;
  for (std::size_t i = 0; i < kBatch; ++i) values.push_back(make_value<T>(i));

  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  std::thread consumer([&] {
    uint64_t got = 0;
    uint64_t check = 0;
    Event e;
    for (;;) {
      if (consumer_task.gate.poll(e) < 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        continue;
      }
      if (e.kind == Event::Kind::kEndOfInput) break;
      const auto& bt = static_cast<const Batch<T>&>(*e.batch);
      got += bt.values.size();
      if constexpr (std::is_same_v<T, int64_t>) check += static_cast<uint64_t>(bt.values.back());
    }
    if (got != records) {
      std::fprintf(stderr, "consumer got %llu records of %llu\n", static_cast<unsigned long long>(got),
                   static_cast<unsigned long long>(records));
      std::abort();
    }
    (void)check;
  });
  for (uint64_t sent = 0; sent < records; sent += kBatch) {
    while (!out_ch->producer_available()) std::this_thread::sleep_for(std::chrono::microseconds(20));
    auto bt = std::make_unique<Batch<T>>(kBatch);
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(kBatch, records - sent));
    for (std::size_t i = 0; i < n; ++i) bt->append(values[i], static_cast<int64_t>(sent + i));
    Event e;
    e.batch = std::move(bt);
    out_ch->push(std::move(e));
  }
  out_ch->push(Event::end_of_input());
  consumer.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  pool.stop();
  return {static_cast<double>(records) / wall, static_cast<double>(records) / cpu};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class T>
void bench(const char* type, bool remote, uint64_t records, int runs, std::size_t capacity) {
  std::vector<double> rps, rpc;
  for (int r = 0; r < runs; ++r) {
    const auto res = run_once<T>(remote, records, capacity);
    rps.push_back(res.records_per_s);
    rpc.push_back(res.records_per_cpu_s);
  }
  std::printf("%-9s %-6s records=%llu runs=%d  median %.2f M records/s, %.2f M records/CPU-s  (min %.2f, max %.2f M/s)\n",
              type, remote ? "remote" : "local", static_cast<unsigned long long>(records), runs, median(rps) / 1e6,
              median(rpc) / 1e6, *std::min_element(rps.begin(), rps.end()) / 1e6,
              *std::max_element(rps.begin(), rps.end()) / 1e6);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 0;
  int runs = 5;
  std::string type = "all", mode = "all";
  std::size_t capacity = 256 * 1024;  // ExecutionConfig's default channel capacity
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--records") records = std::stoull(argv[i + 1]);
    else if (k == "--runs") runs = std::stoi(argv[i + 1]);
    else if (k == "--type") type = argv[i + 1];
    else if (k == "--mode") mode = argv[i + 1];
    else if (k == "--capacity") capacity = std::stoull(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::printf("command:");
  for (int i = 0; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\n");
  for (bool remote : {true, false}) {
    if (mode != "all" && (mode == "remote") != remote) continue;
    if (type == "all" || type == "int64") bench<int64_t>("int64", remote, records ? records : 20'000'000, runs, capacity);
    if (type == "all" || type == "string100") {
      bench<std::string>("string100", remote, records ? records : 5'000'000, runs, capacity);
    }
  }
  return 0;
}
