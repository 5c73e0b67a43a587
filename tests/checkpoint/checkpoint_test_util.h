#pragma once
// Shared pieces of the checkpoint tests: a temporary folder, a slow keyed-count job whose
// output proves exactly-once, and its sequential reference.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "weir/weir.hpp"
#include "support/test_support.h"
#include "weir/testing/faults.hpp"

namespace weir::cptest {

using testsupport::TempDir;
using testsupport::wait_for_input;

struct Ev {
  int64_t key = 0;
  int64_t seq = 0;
};
WEIR_SERDE(Ev, key, seq)

/// Sets the state backend by name ("heap" or "rocksdb", the latter under `dir`).
inline void use_backend(StreamExecutionEnvironment& env, const std::string& backend, const std::string& dir) {
  if (backend == "rocksdb") env.set_state_backend(StateBackend::rocksdb(dir).with_memory_budget(8 << 20));
  // RocksDB with a cache of 3 entries per state: nearly every access evicts and writes back.
  if (backend == "rocksdb-tiny-cache") {
    env.set_state_backend(StateBackend::rocksdb(dir).with_memory_budget(8 << 20).with_cache_entries(3));
  }
}

/// Test parameters: parallelism and backend.
using PB = std::tuple<int, std::string>;
inline std::string pb_name(const ::testing::TestParamInfo<PB>& i) {
  return "p" + std::to_string(std::get<0>(i.param)) + "_" + std::get<1>(i.param);
}
#define WEIR_PARALLELISM_AND_BACKENDS \
  ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Values(std::string("heap"), std::string("rocksdb"))), pb_name

inline constexpr int64_t kKeys = 37;
inline Ev make_event(int64_t i) { return Ev{(i * 7919) % kKeys, i}; }

/// Counts per key in keyed ValueState and emits (key, count) for every record: with
/// exactly-once, each (key, c) for c in 1..n(key) is emitted exactly once.
struct CountPerKey : KeyedProcessFunction<int64_t, Ev, std::pair<int64_t, int64_t>> {
  ValueState<int64_t> count;
  void open(RuntimeContext& rc) override { count = rc.get_state(ValueStateDescriptor<int64_t>("count")); }
  void process_element(const Ev& e, Context& ctx, Collector<std::pair<int64_t, int64_t>>& out) override {
    const int64_t c = count.value().value_or(0) + 1;
    count.update(c);
    out.collect({e.key, c});
  }
};

/// Records per key in [from, to).
inline std::map<int64_t, int64_t> expected_counts(int64_t from, int64_t to) {
  std::map<int64_t, int64_t> n;
  for (int64_t i = from; i < to; ++i) ++n[make_event(i).key];
  return n;
}

/// Checks that `out` holds every (key, c), c in 1..n(key), exactly once.
inline void expect_exactly_once(std::vector<std::pair<int64_t, int64_t>> out, const std::map<int64_t, int64_t>& n) {
  std::map<int64_t, std::vector<int64_t>> by_key;
  for (auto& [k, c] : out) by_key[k].push_back(c);
  int64_t total = 0;
  for (auto& [k, cnt] : n) total += cnt;
  EXPECT_EQ(static_cast<int64_t>(out.size()), total) << "records emitted (duplicates or losses)";
  for (auto& [k, cnt] : n) {
    auto& v = by_key[k];
    std::sort(v.begin(), v.end());
    std::vector<int64_t> want(static_cast<std::size_t>(cnt));
    for (int64_t i = 0; i < cnt; ++i) want[static_cast<std::size_t>(i)] = i + 1;
    ASSERT_EQ(v, want) << "key " << k;
  }
}

/// A generator that takes about `micros_per_1000` µs per 1000 records, so checkpoints land
/// in the middle of the stream.
inline auto slow_events(int64_t count, int micros_per_1000 = 300) {
  return DataGeneratorSource<Ev>(
      [micros_per_1000](int64_t i) {
        if (i % 1000 == 999) std::this_thread::sleep_for(std::chrono::microseconds(micros_per_1000));
        return make_event(i);
      },
      count);
}

/// Events 0..count-1 in one split per subtask; a split emits only records with seq below
/// `*limit` (it polls while held back, so its task still takes checkpoints).
class GatedEvents final : public Source<Ev> {
 public:
  GatedEvents(int64_t count, std::shared_ptr<std::atomic<int64_t>> limit) : count_(count), limit_(std::move(limit)) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<SplitReader<Ev>> create_reader(int split, int n) const override {
    struct Reader final : SplitReader<Ev> {
      int64_t next, end;
      std::shared_ptr<std::atomic<int64_t>> limit;
      Status read(std::size_t max, SourceOutput<Ev>& out) override {
        std::size_t i = 0;
        for (; i < max && next < end && next < limit->load(); ++i) out.collect(make_event(next++), kNoTimestamp);
        if (next >= end) return Status::kEndOfSplit;
        if (i == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        return Status::kMoreAvailable;
      }
      std::optional<std::string> snapshot_position() const override { return serialize(next); }
      void restore_position(std::string_view p) override { next = deserialize<int64_t>(p); }
    };
    auto r = std::make_unique<Reader>();
    r->next = count_ * split / n;
    r->end = count_ * (split + 1) / n;
    r->limit = limit_;
    return r;
  }

 private:
  int64_t count_;
  std::shared_ptr<std::atomic<int64_t>> limit_;
};

/// Gated events → keyed count, with stable uids; collected.
inline CollectHandle<std::pair<int64_t, int64_t>> count_pipeline(StreamExecutionEnvironment& env, int64_t n,
                                                                 std::shared_ptr<std::atomic<int64_t>> limit) {
  return env.from_source(GatedEvents(n, std::move(limit)), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .uid("events")
      .key_by([](const Ev& e) { return e.key; })
      .process(CountPerKey{})
      .uid("counts")
      .collect_async();
}

/// Gated events → keyed count → exactly-once FileSink of "key count" lines in folder `out`.
inline void count_into_files(StreamExecutionEnvironment& env, int64_t n, std::shared_ptr<std::atomic<int64_t>> limit,
                             const std::string& out) {
  env.from_source(GatedEvents(n, std::move(limit)), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .key_by([](const Ev& e) { return e.key; })
      .process(CountPerKey{})
      .sink_to(FileSink<std::pair<int64_t, int64_t>>::for_row_format(
                   out,
                   [](const std::pair<int64_t, int64_t>& kc, std::string& s) {
                     s += std::to_string(kc.first) + " " + std::to_string(kc.second) + "\n";
                   })
                   .build());
}

/// Runs the keyed count at parallelism 3 on `backend` until the first `held_at` records are
/// through, then stops it with a savepoint in `dir/sp`: the output so far and the savepoint.
inline std::pair<std::vector<std::pair<int64_t, int64_t>>, std::string> first_half(const TempDir& dir, int64_t n, int64_t held_at,
                                                                                   const std::string& backend = "heap") {
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(3);
  env.enable_checkpointing(3600 * 1000);  // finished source subtasks keep their final state
  use_backend(env, backend, dir.sub("db1"));
  auto limit = std::make_shared<std::atomic<int64_t>>(held_at);
  auto out = count_pipeline(env, n, limit);
  auto client = env.execute_async("first half");
  wait_for_input(client, 2 * static_cast<uint64_t>(held_at) / 3);
  const std::string path = client.stop_with_savepoint(dir.sub("sp")).get();
  client.wait();
  EXPECT_EQ(client.get_job_status(), JobStatus::finished);
  return {out.get(), path};
}

}  // namespace weir::cptest
