// Checkpoint cost (not a timed test):
//  1. The keyed tumbling-window job of window_bench with a checkpoint every second, on the heap
//     and on the RocksDB backend, as a ratio to the same job without checkpoints.
//  2. The duration of a checkpoint of about 1 GB of RocksDB state (1 M keys x 1 KiB), the
//     first (full) one and an incremental one after 5% of the keys changed.
// Throughput is records/s and records per CPU-second of the whole process (getrusage user + sys).
// Usage: checkpoint_bench [--heap-records N] [--rocksdb-records N] [--runs R] [--parallelism P]
//                         [--big-keys K] [--skip-throughput] [--skip-big] [--dir D]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "window_job.h"

namespace {

struct Result {
  double records_per_s = 0;
  double records_per_cpu_s = 0;
  int64_t checkpoints = 0;
  int64_t last_duration_ms = 0;
};

Result run_window_job(int64_t n, int p, bool rocksdb, bool checkpoints, const std::string& dir) {
  weir::CheckpointStats stats;
  const bench::Rate rate = bench::run_window_job(
      n, p,
      [&](weir::StreamExecutionEnvironment& env) {
        if (rocksdb) env.set_state_backend(weir::StateBackend::rocksdb(dir + "/db"));
        if (checkpoints) {
          env.enable_checkpointing(1000);
          env.set_checkpoint_storage(dir + "/checkpoints");
        }
      },
      &stats);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return Result{rate.per_s, rate.per_cpu_s, stats.completed, stats.last_duration_ms};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void throughput(const char* backend, int64_t n, int p, int runs, const std::string& dir) {
  const bool rocks = std::strcmp(backend, "rocksdb") == 0;
  std::vector<double> off, on, off_cpu, on_cpu;
  for (int r = 0; r < runs; ++r) {
    // Interleaved, so drift on a shared machine hits both alike.
    const auto a = run_window_job(n, p, rocks, false, dir);
    const auto b = run_window_job(n, p, rocks, true, dir);
    off.push_back(a.records_per_s);
    on.push_back(b.records_per_s);
    off_cpu.push_back(a.records_per_cpu_s);
    on_cpu.push_back(b.records_per_cpu_s);
    std::printf("  %s run %d: %.2f M/s (%.2f M/CPU-s) without, %.2f M/s (%.2f M/CPU-s) with checkpoints (%lld taken, "
                "last %lld ms), ratio %.2f (per CPU-s %.2f)\n",
                backend, r + 1, a.records_per_s / 1e6, a.records_per_cpu_s / 1e6, b.records_per_s / 1e6,
                b.records_per_cpu_s / 1e6, static_cast<long long>(b.checkpoints), static_cast<long long>(b.last_duration_ms),
                b.records_per_s / a.records_per_s, b.records_per_cpu_s / a.records_per_cpu_s);
    std::fflush(stdout);
  }
  const double m_off = median(off), m_on = median(on);
  const double c_off = median(off_cpu), c_on = median(on_cpu);
  std::printf("%s, parallelism %d, %lld records: median %.2f M records/s per core without checkpoints, %.2f with a "
              "checkpoint every second: ratio %.2f\n",
              backend, p, static_cast<long long>(n), m_off / 1e6 / p, m_on / 1e6 / p, m_on / m_off);
  std::printf("%s, parallelism %d: median %.2f M records per CPU-second without checkpoints, %.2f with: ratio %.2f "
              "(checkpoint cost %.1f%% of CPU)\n",
              backend, p, c_off / 1e6, c_on / 1e6, c_on / c_off, (1.0 - c_on / c_off) * 100.0);
  std::fflush(stdout);
}

// ---- 1 GB of RocksDB state -------------------------------------------------------------------

struct Put {
  int64_t key;
  int64_t version;
};
WEIR_SERDE(Put, key, version)

std::string value_of(int64_t key, int64_t version) {
  std::string s(1024, '\0');
  uint64_t x = static_cast<uint64_t>(key * 31 + version) * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

struct Keep : weir::KeyedProcessFunction<int64_t, Put, int64_t> {
  weir::ValueState<std::string> v;
  void open(weir::RuntimeContext& rc) override { v = rc.get_state(weir::ValueStateDescriptor<std::string>("v")); }
  void process_element(const Put& p, Context&, weir::Collector<int64_t>&) override { v.update(value_of(p.key, p.version)); }
};

/// Emits `keys` puts, then waits for `*phase` to allow 5% more (new versions), then ends.
class Puts final : public weir::Source<Put> {
 public:
  Puts(int64_t keys, std::shared_ptr<std::atomic<int>> phase) : keys_(keys), phase_(std::move(phase)) {}
  int num_splits(int p) const override { return p; }
  std::unique_ptr<weir::SplitReader<Put>> create_reader(int split, int n) const override {
    struct Reader final : weir::SplitReader<Put> {
      int64_t next, end, update_next, update_end;
      std::shared_ptr<std::atomic<int>> phase;
      Status read(std::size_t max, weir::SourceOutput<Put>& out) override {
        std::size_t i = 0;
        for (; i < max && next < end; ++i) out.collect(Put{next++, 0}, weir::kNoTimestamp);
        if (next < end) return Status::kMoreAvailable;
        if (phase->load() < 1) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          return Status::kMoreAvailable;
        }
        for (; i < max && update_next < update_end; ++i) {
          out.collect(Put{update_next, 1}, weir::kNoTimestamp);
          update_next += 20;  // every 20th key: 5%
        }
        if (update_next < update_end) return Status::kMoreAvailable;
        if (phase->load() < 2) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          return Status::kMoreAvailable;
        }
        return Status::kEndOfSplit;
      }
    };
    auto r = std::make_unique<Reader>();
    r->next = keys_ * split / n;
    r->end = keys_ * (split + 1) / n;
    r->update_next = r->next;
    r->update_end = r->end;
    r->phase = phase_;
    return r;
  }

 private:
  int64_t keys_;
  std::shared_ptr<std::atomic<int>> phase_;
};

void big_state(int64_t keys, int p, const std::string& dir) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(p);
  env.set_state_backend(weir::StateBackend::rocksdb(dir + "/db"));
  env.enable_checkpointing(24 * 3600 * 1000);  // on demand only
  env.set_checkpoint_storage(dir + "/checkpoints");
  env.get_checkpoint_config().set_max_retained_checkpoints(2);
  auto phase = std::make_shared<std::atomic<int>>(0);
  env.from_source(Puts(keys, phase), weir::WatermarkStrategy<Put>::no_watermarks(), "puts")
      .key_by([](const Put& p) { return p.key; })
      .process(Keep{})
      .add_sink([](int64_t) {});
  auto client = env.execute_async("big state");
  auto keyed_in = [&] {
    uint64_t in = 0;
    for (const auto& m : client.metrics()) {
      if (m.task_name.find("Keyed") != std::string::npos) in += m.records_in;
    }
    return in;
  };
  const auto t_load = std::chrono::steady_clock::now();
  while (keyed_in() < static_cast<uint64_t>(keys)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  uint64_t disk = 0;
  for (const auto& m : client.metrics()) disk += m.state_disk_bytes;
  auto t0 = std::chrono::steady_clock::now();
  const std::string first = client.trigger_checkpoint().get();
  const double first_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto s1 = client.get_checkpoint_stats();
  phase->store(1);
  while (keyed_in() < static_cast<uint64_t>(keys + keys / 20)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  t0 = std::chrono::steady_clock::now();
  client.trigger_checkpoint().get();
  const double second_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto s2 = client.get_checkpoint_stats();
  phase->store(2);
  client.wait();
  std::printf("RocksDB state: %lld keys x 1 KiB loaded in %.1f s (%.0f MiB of live SST files after the load, sampled)\n",
              static_cast<long long>(keys), load_s, disk / 1048576.0);
  std::printf("  first checkpoint (full): %.2f s, %.0f MiB written\n", first_s, s1.last_size_bytes / 1048576.0);
  std::printf("  after 5%% of the keys changed (incremental): %.2f s, %.0f MiB written\n", second_s,
              s2.last_size_bytes / 1048576.0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t heap_n = 200'000'000, rocks_n = 20'000'000, big_keys = 1'000'000;
  int runs = 3, p = 1;
  bool do_throughput = true, do_big = true;
  std::string dir = (std::filesystem::temp_directory_path() / "weir-checkpoint-bench").string();
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? argv[++i] : "0"; };
    if (!std::strcmp(argv[i], "--heap-records")) heap_n = std::atoll(next());
    else if (!std::strcmp(argv[i], "--rocksdb-records")) rocks_n = std::atoll(next());
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(next());
    else if (!std::strcmp(argv[i], "--parallelism")) p = std::atoi(next());
    else if (!std::strcmp(argv[i], "--big-keys")) big_keys = std::atoll(next());
    else if (!std::strcmp(argv[i], "--dir")) dir = next();
    else if (!std::strcmp(argv[i], "--skip-throughput")) do_throughput = false;
    else if (!std::strcmp(argv[i], "--skip-big")) do_big = false;
  }
  if (do_throughput) {
    throughput("heap", heap_n, p, runs, dir);
    throughput("rocksdb", rocks_n, p, runs, dir);
  }
  if (do_big) big_state(big_keys, p, dir);
}
