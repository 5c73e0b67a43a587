// Savepoints: stop a job with a savepoint, resume it at another parallelism; windows,
// timers and source positions survive restarts.
#include <atomic>
#include <filesystem>
#include <fstream>

#include "checkpoint_test_util.h"

namespace weir::cptest {
namespace {

using Pairs = std::vector<std::pair<int64_t, int64_t>>;

class Rescale : public ::testing::TestWithParam<int> {};

TEST_P(Rescale, StopWithSavepointThenResumeAtAnotherParallelism) {
  TempDir dir;
  constexpr int64_t kN = 30000;
  auto [before, path] = first_half(dir, kN, kN / 2);
  EXPECT_TRUE(std::filesystem::exists(path + "/_metadata"));
  EXPECT_FALSE(before.empty());

  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(GetParam());
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path));
  auto out = count_pipeline(env, kN, std::make_shared<std::atomic<int64_t>>(INT64_MAX));
  env.execute("second half");
  Pairs all = before;
  for (auto& kv : out.get()) all.push_back(kv);
  expect_exactly_once(all, expected_counts(0, kN));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Rescale, ::testing::Values(2, 3, 5));

TEST(Savepoints, TriggerWhileRunningKeepsTheJobGoing) {
  TempDir dir;
  constexpr int64_t kN = 20000;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  auto limit = std::make_shared<std::atomic<int64_t>>(kN / 2);
  auto out = count_pipeline(env, kN, limit);
  auto client = env.execute_async("savepoint while running");
  const std::string path = client.trigger_savepoint(dir.sub("sp1")).get();
  EXPECT_TRUE(std::filesystem::exists(path + "/_metadata"));
  // A second savepoint into the same folder is refused.
  EXPECT_THROW(client.trigger_savepoint(path).get(), StateError);
  limit->store(INT64_MAX);
  client.wait();
  expect_exactly_once(out.get(), expected_counts(0, kN));
}

TEST(Savepoints, StateOfAMissingOperatorNeedsAllowNonRestored) {
  TempDir dir;
  constexpr int64_t kN = 10000;
  auto [before, path] = first_half(dir, kN, kN / 2);
  auto make = [&](bool allow) {
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(2);
    env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path, allow));
    // The counting operator got a new uid: its old state matches nothing.
    auto out = env.from_source(GatedEvents(kN, std::make_shared<std::atomic<int64_t>>(INT64_MAX)),
                               WatermarkStrategy<Ev>::no_watermarks(), "events")
                   .uid("events")
                   .key_by([](const Ev& e) { return e.key; })
                   .process(CountPerKey{})
                   .uid("counts-v2")
                   .collect_async();
    env.execute("renamed");
    return out.get();
  };
  try {
    make(false);
    FAIL() << "restoring state of a missing operator must fail";
  } catch (const JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("uid 'counts'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("allow"), std::string::npos) << e.what();
  }
  // Allowed: counts start over, the source goes on from its savepoint position.
  auto out = make(true);
  std::map<int64_t, int64_t> after;
  for (auto& [k, c] : out) after[k] = std::max(after[k], c);
  int64_t emitted = 0;
  for (auto& [k, c] : after) emitted += c;
  EXPECT_EQ(static_cast<int64_t>(out.size()), emitted);
  EXPECT_EQ(static_cast<int64_t>(before.size() + out.size()), kN);
}

TEST(Savepoints, PartlyFinishedJobWithoutCheckpointingRefusesSavepoints) {
  TempDir dir;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  auto limit = std::make_shared<std::atomic<int64_t>>(5000);  // the first split ends, the second waits
  auto out = count_pipeline(env, 10000, limit);
  auto client = env.execute_async("partly finished");
  std::string message;
  for (int i = 0; i < 2000 && message.empty(); ++i) {
    try {
      client.trigger_savepoint(dir.sub("sp" + std::to_string(i))).get();
    } catch (const StateError& e) {
      message = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(message.find("enable_checkpointing"), std::string::npos) << message;
  limit->store(INT64_MAX);
  client.wait();
}

TEST(Savepoints, MissingFolderFailsAtStart) {
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path("/nonexistent/weir/savepoint"));
  env.from_elements(int64_t{1}, int64_t{2}, int64_t{3}).collect_async();
  try {
    env.execute("missing savepoint");
    FAIL();
  } catch (const JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/weir/savepoint"), std::string::npos) << e.what();
  }
}

// ---- windows and timers across a restart ----------------------------------------------------

std::atomic<bool> g_window_failed{false};

struct CountAgg {
  int64_t create_accumulator() const { return 0; }
  int64_t add(const Ev&, int64_t acc) const { return acc + 1; }
  int64_t get_result(int64_t acc) const { return acc; }
  int64_t merge(int64_t a, int64_t b) const { return a + b; }
};
using KeyedCount = std::pair<int64_t, std::pair<int64_t, int64_t>>;  // key, (window index, count)
struct LabelWindow : ProcessWindowFunction<int64_t, KeyedCount, int64_t, TimeWindow> {
  void process(const int64_t& key, Context& ctx, const std::vector<int64_t>& counts, Collector<KeyedCount>& out) override {
    out.collect({key, {ctx.window().start() / 500, counts.front()}});
  }
};

class WindowRecovery : public ::testing::TestWithParam<PB> {};

TEST_P(WindowRecovery, TumblingWindowsAreExactlyOnceAcrossAFailure) {
  g_window_failed = false;
  TempDir dir;
  constexpr int64_t kN = 40000;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(std::get<0>(GetParam()));
  use_backend(env, std::get<1>(GetParam()), dir.sub("rocksdb"));
  env.enable_checkpointing(15);
  env.set_checkpoint_storage(dir.path());
  env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(5)));
  auto limit = std::make_shared<std::atomic<int64_t>>(kN / 2);
  auto strategy = WatermarkStrategy<Ev>::for_bounded_out_of_orderness(std::chrono::milliseconds(50))
                      .with_timestamp_assigner([](const Ev& e, int64_t) { return e.seq; });
  auto out = env.from_source(GatedEvents(kN, limit), strategy, "events")
                 .map([](const Ev& e) {
                   if (e.seq == kN * 3 / 4 && !g_window_failed.exchange(true)) throw std::runtime_error("injected");
                   return e;
                 })
                 .key_by([](const Ev& e) { return e.key; })
                 .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(500)))
                 .aggregate(CountAgg{}, LabelWindow{})
                 .collect_async();
  auto client = env.execute_async("window recovery");
  while (client.get_checkpoint_stats().completed < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  limit->store(INT64_MAX);
  client.wait();
  EXPECT_TRUE(g_window_failed.load());
  EXPECT_EQ(client.get_restart_count(), 1);
  // Reference: records per (key, window).
  std::map<std::pair<int64_t, int64_t>, int64_t> want;
  for (int64_t i = 0; i < kN; ++i) ++want[{make_event(i).key, i / 500}];
  std::map<std::pair<int64_t, int64_t>, int64_t> got;
  int64_t results = 0;
  for (auto& c : out.get()) {
    ++results;
    got[{c.first, c.second.first}] += c.second.second;
  }
  EXPECT_EQ(results, static_cast<int64_t>(want.size()));
  int shown = 0;
  for (const auto& [kw, n] : want) {
    auto it = got.find(kw);
    const int64_t g = it == got.end() ? -1 : it->second;
    if (g != n && shown++ < 5) ADD_FAILURE() << "key " << kw.first << " window " << kw.second << ": " << g << " want " << n;
  }
  EXPECT_EQ(got.size(), want.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, WindowRecovery, WEIR_PARALLELISM_AND_BACKENDS);

/// Open windows move between backends through a savepoint: heap → RocksDB and back.
class WindowSwap : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(WindowSwap, OpenWindowsSurviveAStopAndABackendChange) {
  const auto& [from, to] = GetParam();
  TempDir dir;
  constexpr int64_t kN = 20000;
  auto build = [&](StreamExecutionEnvironment& env, std::shared_ptr<std::atomic<int64_t>> limit) {
    auto strategy = WatermarkStrategy<Ev>::for_bounded_out_of_orderness(std::chrono::milliseconds(50))
                        .with_timestamp_assigner([](const Ev& e, int64_t) { return e.seq; });
    return env.from_source(GatedEvents(kN, std::move(limit)), strategy, "events")
        .uid("events")
        .key_by([](const Ev& e) { return e.key; })
        .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(500)))
        .aggregate(CountAgg{}, LabelWindow{})
        .uid("windows")
        .collect_async();
  };
  std::vector<KeyedCount> all;
  std::string path;
  {
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(2);
    env.enable_checkpointing(3600 * 1000);
    use_backend(env, from, dir.sub("db1"));
    auto limit = std::make_shared<std::atomic<int64_t>>(kN / 4);
    auto out = build(env, limit);
    auto client = env.execute_async("windows first");
    wait_for_input(client, 2 * kN / 8, "Window");
    path = client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
    all = out.get();
  }
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(3);
  use_backend(env, to, dir.sub("db2"));
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path));
  auto out = build(env, std::make_shared<std::atomic<int64_t>>(INT64_MAX));
  env.execute("windows second");
  for (auto& c : out.get()) all.push_back(c);
  std::map<std::pair<int64_t, int64_t>, int64_t> want;
  for (int64_t i = 0; i < kN; ++i) ++want[{make_event(i).key, i / 500}];
  std::map<std::pair<int64_t, int64_t>, int64_t> got;
  for (auto& c : all) got[{c.first, c.second.first}] += c.second.second;
  EXPECT_EQ(all.size(), want.size()) << "one result per key and window";
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Backends, WindowSwap,
                         ::testing::Values(std::make_pair(std::string("heap"), std::string("rocksdb")),
                                           std::make_pair(std::string("rocksdb"), std::string("heap"))),
                         [](const auto& i) { return i.param.first + "_to_" + i.param.second; });

}  // namespace
}  // namespace weir::cptest

namespace weir::cptest {
namespace {

std::atomic<bool> g_slow_lines{true};

/// "seq" → its event; slow while `g_slow_lines`, so a savepoint lands mid-file.
Ev parse_line(const std::string& line) {
  const int64_t seq = std::stoll(line);
  if (g_slow_lines.load() && seq % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return make_event(seq);
}

CollectHandle<std::pair<int64_t, int64_t>> lines_pipeline(StreamExecutionEnvironment& env, const std::string& file) {
  return env.read_text_file(file)
      .uid("lines")
      .map(parse_line)
      .uid("parse")
      .key_by([](const Ev& e) { return e.key; })
      .process(CountPerKey{})
      .uid("counts")
      .collect_async();
}

TEST(SourcePositions, TextFileResumesFromASavepointWithNoLineLostOrRepeated) {
  TempDir dir;
  constexpr int64_t kN = 30000;
  {
    // Mixed line ends, and a last line without one.
    std::ofstream f(dir.sub("in.txt"), std::ios::binary);
    for (int64_t i = 0; i < kN; ++i) f << i << (i + 1 == kN ? "" : i % 5 == 0 ? "\r\n" : "\n");
  }
  g_slow_lines = true;
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  auto out1 = lines_pipeline(env, dir.sub("in.txt"));
  auto client = env.execute_async("lines, first part");
  wait_for_input(client, 3000);
  const std::string sp = client.stop_with_savepoint(dir.sub("sp")).get();
  client.wait();
  auto first = out1.get();
  ASSERT_GT(first.size(), 0u);
  ASSERT_LT(first.size(), static_cast<std::size_t>(kN)) << "the savepoint must land mid-file";

  g_slow_lines = false;
  auto env2 = StreamExecutionEnvironment::get_execution_environment();
  env2.set_parallelism(3);
  env2.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(sp));
  auto out2 = lines_pipeline(env2, dir.sub("in.txt"));
  env2.execute("lines, second part");
  auto all = out2.get();
  all.insert(all.end(), first.begin(), first.end());
  expect_exactly_once(all, expected_counts(0, kN));
}

}  // namespace
}  // namespace weir::cptest
