// Key groups: the hash partitioner's key → subtask routing agrees with the key-group range each
// subtask owns, at every parallelism up to the maximum (the ranges only differ from a naive
// division where the parallelism does not divide the maximum), and a savepoint restores every
// key's state at such parallelisms.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/storage.h"
#include "support/test_support.h"
#include "weir/weir.hpp"

namespace {

constexpr int kMaxParallelism = 128;

/// One key per key group: keys[g] is the smallest non-negative int64 in key group g.
const std::vector<int64_t>& key_per_group() {
  static const std::vector<int64_t> keys = [] {
    std::vector<int64_t> k(kMaxParallelism, -1);
    int found = 0;
    for (int64_t i = 0; found < kMaxParallelism; ++i) {
      const int g = weir::runtime::key_group_of(i, kMaxParallelism);
      if (k[static_cast<std::size_t>(g)] < 0) {
        k[static_cast<std::size_t>(g)] = i;
        ++found;
      }
    }
    return k;
  }();
  return keys;
}

TEST(KeyGroups, RoutingAgreesWithTheRangesAtEveryParallelism) {
  const auto& keys = key_per_group();
  for (int p = 1; p <= kMaxParallelism; ++p) {
    SCOPED_TRACE("parallelism " + std::to_string(p));
    // The ranges tile [0, max) in order, none empty.
    std::vector<std::pair<int, int>> ranges;
    for (int s = 0; s < p; ++s) ranges.push_back(weir::checkpoint::key_group_range(kMaxParallelism, p, s));
    ASSERT_EQ(ranges.front().first, 0);
    ASSERT_EQ(ranges.back().second, kMaxParallelism - 1);
    for (int s = 0; s < p; ++s) {
      ASSERT_LE(ranges[static_cast<std::size_t>(s)].first, ranges[static_cast<std::size_t>(s)].second) << "subtask " << s;
      if (s > 0) {
        ASSERT_EQ(ranges[static_cast<std::size_t>(s)].first, ranges[static_cast<std::size_t>(s - 1)].second + 1);
      }
    }
    // The partitioner sends each key to the subtask whose range holds its key group.
    weir::runtime::KeyGroupSelector<int64_t (*)(const int64_t&)> selector{[](const int64_t& k) { return k; },
                                                                          kMaxParallelism};
    for (int g = 0; g < kMaxParallelism; ++g) {
      const int64_t key = keys[static_cast<std::size_t>(g)];
      const int s = selector.select(key, p);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, p);
      const auto [first, last] = ranges[static_cast<std::size_t>(s)];
      ASSERT_TRUE(g >= first && g <= last) << "key group " << g << " is routed to subtask " << s << ", which owns ["
                                           << first << ", " << last << "]";
    }
  }
}

// ---- restores --------------------------------------------------------------------------------

struct KEv {
  int64_t key = 0;
  int64_t seq = 0;
};

}  // namespace
WEIR_SERDE(KEv, key, seq)

namespace {

constexpr int64_t kRounds = 24;
constexpr int64_t kEvents = kMaxParallelism * kRounds;
KEv event(int64_t i) { return KEv{key_per_group()[static_cast<std::size_t>(i % kMaxParallelism)], i}; }

/// Events 0..kEvents-1 in one split per subtask; a split emits only events with seq below
/// `*limit` (it polls while held back, so the job can be stopped with a savepoint).
class Gated final : public weir::Source<KEv> {
 public:
  explicit Gated(std::shared_ptr<std::atomic<int64_t>> limit) : limit_(std::move(limit)) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<weir::SplitReader<KEv>> create_reader(int split, int n) const override {
    struct Reader final : weir::SplitReader<KEv> {
      int64_t next = 0, end = 0;
      std::shared_ptr<std::atomic<int64_t>> limit;
      Status read(std::size_t max, weir::SourceOutput<KEv>& out) override {
        std::size_t i = 0;
        for (; i < max && next < end && next < limit->load(); ++i) out.collect(event(next++), weir::kNoTimestamp);
        if (next >= end) return Status::kEndOfSplit;
        if (i == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        return Status::kMoreAvailable;
      }
      std::optional<std::string> snapshot_position() const override { return weir::serialize(next); }
      void restore_position(std::string_view p) override { next = weir::deserialize<int64_t>(p); }
    };
    auto r = std::make_unique<Reader>();
    r->next = kEvents * split / n;
    r->end = kEvents * (split + 1) / n;
    r->limit = limit_;
    return r;
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> limit_;
};

/// Counts per key in keyed state; emits (key, count) for every event.
struct CountPerKey : weir::KeyedProcessFunction<int64_t, KEv, std::pair<int64_t, int64_t>> {
  weir::ValueState<int64_t> count;
  void open(weir::RuntimeContext& rc) override { count = rc.get_state(weir::ValueStateDescriptor<int64_t>("count")); }
  void process_element(const KEv& e, Context&, weir::Collector<std::pair<int64_t, int64_t>>& out) override {
    const int64_t c = count.value().value_or(0) + 1;
    count.update(c);
    out.collect({e.key, c});
  }
};

weir::CollectHandle<std::pair<int64_t, int64_t>> counting_job(weir::StreamExecutionEnvironment& env,
                                                              std::shared_ptr<std::atomic<int64_t>> limit) {
  env.set_max_parallelism(kMaxParallelism);
  return env.from_source(Gated(std::move(limit)), weir::WatermarkStrategy<KEv>::no_watermarks(), "events")
      .uid("events")
      .key_by([](const KEv& e) { return e.key; })
      .process(CountPerKey{})
      .uid("counts")
      .collect_async();
}

using weir::testsupport::TempDir;

TEST(KeyGroups, SavepointRestoresEveryKeyGroupAtParallelismsThatDoNotDivideTheMaximum) {
  TempDir dir;
  // First half at parallelism 4, stopped with a savepoint.
  std::vector<std::pair<int64_t, int64_t>> before;
  std::string path;
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(4).set_worker_threads(2);
    env.enable_checkpointing(3600 * 1000);
    auto limit = std::make_shared<std::atomic<int64_t>>(kEvents / 2);
    auto out = counting_job(env, limit);
    auto client = env.execute_async("first half");
    // Each split holds back at kEvents / 2: split 0 and 1 (of 4) are done, 2 and 3 are held.
    weir::testsupport::wait_for_input(client, static_cast<uint64_t>(kEvents / 2));
    path = client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
    before = out.get();
  }
  ASSERT_EQ(static_cast<int64_t>(before.size()), kEvents / 2);
  for (int p : {3, 5, 7}) {
    SCOPED_TRACE("restored at parallelism " + std::to_string(p));
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p).set_worker_threads(2);
    env.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(path));
    auto out = counting_job(env, std::make_shared<std::atomic<int64_t>>(INT64_MAX));
    env.execute("second half");
    // Every key continues from its saved count: each (key, c) for c in 1..kRounds exactly once.
    std::map<int64_t, std::vector<int64_t>> by_key;
    for (auto& [k, c] : before) by_key[k].push_back(c);
    for (auto& [k, c] : out.get()) by_key[k].push_back(c);
    ASSERT_EQ(by_key.size(), static_cast<std::size_t>(kMaxParallelism));
    std::vector<int64_t> want(kRounds);
    for (int64_t i = 0; i < kRounds; ++i) want[static_cast<std::size_t>(i)] = i + 1;
    for (auto& [k, v] : by_key) {
      std::sort(v.begin(), v.end());
      ASSERT_EQ(v, want) << "key " << k << " (key group " << weir::runtime::key_group_of(k, kMaxParallelism)
                         << ") lost or repeated its count";
    }
  }
}

}  // namespace
