// The RocksDB backend: state beyond the memory budget, savepoints between backends, and
// restoring an incremental RocksDB checkpoint at another parallelism.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "checkpoint/storage.h"
#include "checkpoint_test_util.h"

namespace weir::cptest {
namespace {

namespace fs = std::filesystem;

/// 1 KiB of pseudo-random (incompressible) bytes derived from the key.
std::string payload_of(int64_t key) {
  std::string s(1024, '\0');
  uint64_t x = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

/// First sight of a key stores its payload; the second checks it (emits 1 when intact).
struct StoreThenCheck : KeyedProcessFunction<int64_t, int64_t, int64_t> {
  ValueState<std::string> blob;
  void open(RuntimeContext& rc) override { blob = rc.get_state(ValueStateDescriptor<std::string>("blob")); }
  void process_element(const int64_t& k, Context&, Collector<int64_t>& out) override {
    auto v = blob.value();
    if (!v) {
      blob.update(payload_of(k));
    } else {
      out.collect(*v == payload_of(k) ? 1 : 0);
    }
  }
};

TEST(RocksDbState, HoldsTenTimesMoreStateThanItsMemoryBudget) {
  TempDir dir;
  constexpr int64_t kKeysN = 100000;  // ~100 MiB of values
  constexpr std::size_t kBudget = 8 << 20;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(1);
  env.set_state_backend(StateBackend::rocksdb(dir.sub("db")).with_memory_budget(kBudget));
  auto out = env.from_sequence(0, 2 * kKeysN - 1)
                 .map([](int64_t i) { return i % kKeysN; })
                 .key_by([](int64_t k) { return k; })
                 .process(StoreThenCheck{})
                 .collect_async();
  auto client = env.execute_async("big state");
  client.wait();
  const auto results = out.get();
  ASSERT_EQ(static_cast<int64_t>(results.size()), kKeysN);
  EXPECT_EQ(std::count(results.begin(), results.end(), 1), kKeysN) << "every value read back intact";
  uint64_t disk = 0, peak = 0;
  for (const auto& m : client.metrics()) {
    disk += m.state_disk_bytes;
    peak = std::max(peak, m.state_memory_peak_bytes);
  }
  std::printf("state on disk %.1f MiB, store memory peak %.1f MiB, budget %.1f MiB\n", disk / 1048576.0, peak / 1048576.0,
              kBudget / 1048576.0);
  EXPECT_GE(disk, 10 * kBudget);
  EXPECT_GT(peak, 0u);
  EXPECT_LE(peak, kBudget + kBudget / 4);
}

// ---- savepoints across backends --------------------------------------------------------------

using Pairs = std::vector<std::pair<int64_t, int64_t>>;

using Swap = std::tuple<std::string, std::string, int>;  // from backend, to backend, new parallelism
class BackendSwap : public ::testing::TestWithParam<Swap> {};

TEST_P(BackendSwap, SavepointRestoresIntoAnotherBackendAndParallelism) {
  const auto& [from, to, p] = GetParam();
  TempDir dir;
  constexpr int64_t kN = 30000;
  auto [all, path] = first_half(dir, kN, kN / 2, from);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(p);
  use_backend(env, to, dir.sub("db2"));
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path));
  auto out = count_pipeline(env, kN, std::make_shared<std::atomic<int64_t>>(INT64_MAX));
  env.execute("second");
  for (auto& kv : out.get()) all.push_back(kv);
  expect_exactly_once(all, expected_counts(0, kN));
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendSwap,
                         ::testing::Values(Swap{"heap", "rocksdb", 3}, Swap{"heap", "rocksdb", 2},
                                           Swap{"rocksdb", "heap", 5}, Swap{"rocksdb", "rocksdb", 2},
                                           Swap{"rocksdb", "rocksdb", 5}, Swap{"rocksdb-tiny-cache", "heap", 2},
                                           Swap{"heap", "rocksdb-tiny-cache", 3},
                                           Swap{"rocksdb-tiny-cache", "rocksdb-tiny-cache", 2}),
                         [](const auto& i) {
                           auto name = std::get<0>(i.param) + "_to_" + std::get<1>(i.param) + "_p" + std::to_string(std::get<2>(i.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// ---- an incremental RocksDB checkpoint, restored at another parallelism ----------------------

std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> lines;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.') continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return lines;
}

void count_to_files(StreamExecutionEnvironment& env, int64_t n, std::shared_ptr<std::atomic<int64_t>> limit, const std::string& out) {
  env.from_source(GatedEvents(n, std::move(limit)), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .uid("events")
      .key_by([](const Ev& e) { return e.key; })
      .process(CountPerKey{})
      .uid("counts")
      .sink_to(FileSink<std::pair<int64_t, int64_t>>::for_row_format(
                   out, [](const std::pair<int64_t, int64_t>& kc, std::string& o) {
                     o += std::to_string(kc.first) + " " + std::to_string(kc.second) + "\n";
                   })
                   .build())
      .uid("files");
}

void incremental_rescale(int parallelism, const std::string& backend) {
  TempDir dir;
  constexpr int64_t kN = 30000;
  std::string chk;
  {
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(3);
    env.enable_checkpointing(3600 * 1000);
    env.set_checkpoint_storage(dir.sub("checkpoints"));
    use_backend(env, backend, dir.sub("db1"));
    auto limit = std::make_shared<std::atomic<int64_t>>(kN / 3);
    count_to_files(env, kN, limit, dir.sub("out"));
    auto client = env.execute_async("first");
    wait_for_input(client, kN / 9);
    client.trigger_checkpoint().get();  // a first one: the second shares its older files
    limit->store(kN / 2);
    wait_for_input(client, 2 * kN / 6);
    chk = client.trigger_checkpoint().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the sinks commit on notify
    client.cancel();
    EXPECT_THROW(client.wait(), JobFailure);
  }
  // The checkpoint refers to RocksDB files in the job's shared folder.
  bool any_shared = false;
  for (auto& e : fs::recursive_directory_iterator(dir.sub("checkpoints"))) {
    any_shared = any_shared || e.path().parent_path().filename() == "shared";
  }
  EXPECT_TRUE(any_shared);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(parallelism);
  use_backend(env, backend, dir.sub("db2"));
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(chk));
  count_to_files(env, kN, std::make_shared<std::atomic<int64_t>>(INT64_MAX), dir.sub("out"));
  env.execute("second");
  Pairs pairs;
  for (auto& l : committed_lines(dir.sub("out"))) {
    const auto sp = l.find(' ');
    pairs.emplace_back(std::stoll(l.substr(0, sp)), std::stoll(l.substr(sp + 1)));
  }
  expect_exactly_once(pairs, expected_counts(0, kN));
}

class IncrementalRescale : public ::testing::TestWithParam<int> {};

TEST_P(IncrementalRescale, RetainedCheckpointRestoresAtAnotherParallelism) { incremental_rescale(GetParam(), "rocksdb"); }

INSTANTIATE_TEST_SUITE_P(Parallelism, IncrementalRescale, ::testing::Values(2, 3, 5));

// ---- the write-back cache of entries ---------------------------------------------------------

TEST(RocksDbState, CacheSmallerThanTheKeysWritesBackWhatItEvicts) {
  // Every key is written once and read back later, after thousands of other keys went through
  // a cache of 3 entries: the values reached RocksDB on eviction.
  TempDir dir;
  constexpr int64_t kKeysN = 5000;
  for (int p : {1, 2}) {
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(p);
    env.set_state_backend(StateBackend::rocksdb(dir.sub("db" + std::to_string(p))).with_cache_entries(3));
    auto out = env.from_sequence(0, 2 * kKeysN - 1)
                   .map([](int64_t i) { return i % kKeysN; })
                   .key_by([](int64_t k) { return k; })
                   .process(StoreThenCheck{})
                   .collect_async();
    env.execute("tiny cache");
    const auto results = out.get();
    ASSERT_EQ(static_cast<int64_t>(results.size()), kKeysN);
    EXPECT_EQ(std::count(results.begin(), results.end(), 1), kKeysN) << "every value read back intact, p=" << p;
  }
}

TEST(RocksDbState, TinyCacheIncrementalCheckpointRestoresAtAnotherParallelism) { incremental_rescale(2, "rocksdb-tiny-cache"); }

TEST(RocksDbState, WithCacheEntriesRefusesZero) {
  EXPECT_THROW(StateBackend::rocksdb("/tmp/x").with_cache_entries(0), GraphError);
}

TEST(RocksDbState, SharedFilesNoRetainedCheckpointNeedsAreDeleted) {
  TempDir dir;
  constexpr int64_t kKeysN = 20000;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(1);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  env.get_checkpoint_config().set_max_retained_checkpoints(1);
  env.set_state_backend(StateBackend::rocksdb(dir.sub("db")).with_memory_budget(2 << 20));
  auto limit = std::make_shared<std::atomic<int64_t>>(0);
  // 1 KiB per key, keys revisited: each round rewrites every key, compactions replace files.
  env.from_source(GatedEvents(kKeysN * 4, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .map([](const Ev& e) { return e.seq % kKeysN; })
      .key_by([](int64_t k) { return k; })
      .process(StoreThenCheck{})
      .add_sink([](const int64_t&) {});
  auto client = env.execute_async("pruning");
  std::string last;
  for (int round = 1; round <= 4; ++round) {
    limit->store(kKeysN * round);
    wait_for_input(client, static_cast<uint64_t>(kKeysN * round));
    last = client.trigger_checkpoint().get();
  }
  // Every file in shared/ belongs to the one retained checkpoint.
  const auto meta = checkpoint::read_metadata(last);
  std::set<std::string> referenced;
  for (const auto& op : meta.operators) {
    for (const auto& st : op.subtasks) {
      for (const auto& f : st.kv_files) referenced.insert(f.name);
    }
  }
  ASSERT_FALSE(referenced.empty());
  std::set<std::string> present;
  for (auto& e : fs::directory_iterator(meta.shared_dir)) present.insert(e.path().filename().string());
  EXPECT_EQ(present, referenced);
  limit->store(INT64_MAX);
  client.wait();
}

TEST(RocksDbState, HeapBackendRefusesRocksDbCheckpointFiles) {
  TempDir dir;
  std::string chk;
  {
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(2);
    env.enable_checkpointing(3600 * 1000);
    env.set_checkpoint_storage(dir.sub("checkpoints"));
    use_backend(env, "rocksdb", dir.sub("db1"));
    auto limit = std::make_shared<std::atomic<int64_t>>(5000);
    count_to_files(env, 10000, limit, dir.sub("out"));
    auto client = env.execute_async("first");
    wait_for_input(client, 1000);
    chk = client.trigger_checkpoint().get();
    client.cancel();
    EXPECT_THROW(client.wait(), JobFailure);
  }
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(chk));
  count_to_files(env, 10000, std::make_shared<std::atomic<int64_t>>(INT64_MAX), dir.sub("out"));
  try {
    env.execute("second");
    FAIL() << "a heap job cannot read RocksDB files";
  } catch (const JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("savepoint"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weir::cptest
