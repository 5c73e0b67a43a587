// The status line of `weir run` / `weir submit`: a pure function of given metrics.
#include <cstdio>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "cli/status_line.h"

namespace {

using weir::TaskMetrics;
using weir::cli::JobShape;
using weir::cli::StatusSample;

TaskMetrics task(const std::string& name, int subtask, uint64_t in, uint64_t out,
                 int64_t watermark = std::numeric_limits<int64_t>::min()) {
  TaskMetrics m;
  m.task_name = name;
  m.subtask = subtask;
  m.records_in = in;
  m.records_out = out;
  m.output_watermark = watermark;
  return m;
}

// source (vertex 0, two subtasks) -> keyed count -> sink (vertex 1, two subtasks)
const char* kPlan = R"({"job":"j","max_parallelism":128,"vertices":[
  {"id":0,"name":"clicks -> to-count","parallelism":2,"operators":[]},
  {"id":1,"name":"count -> sink","parallelism":2,"operators":[]}],
  "edges":[{"from":0,"to":1,"input":0,"partition":"HASH"}]})";

StatusSample sample(double at, uint64_t src0, uint64_t src1, uint64_t sink0, uint64_t sink1, int64_t wm0, int64_t wm1) {
  StatusSample s;
  s.at_s = at;
  s.wall_ms = 1'000'000;
  s.state = "RUNNING";
  s.tasks = {task("clicks -> to-count", 0, 0, src0, wm0), task("clicks -> to-count", 1, 0, src1, wm1),
             task("count -> sink", 0, sink0, 0, wm0), task("count -> sink", 1, sink1, 0, wm1)};
  return s;
}

TEST(StatusLine, ThePlanNamesTheTasksNoEdgeLeaves) {
  const auto shape = JobShape::from_plan_json(kPlan);
  ASSERT_TRUE(shape.known);
  EXPECT_EQ(shape.last_tasks, (std::set<std::string>{"count -> sink"}));
  EXPECT_FALSE(JobShape::from_plan_json("not json").known);
  EXPECT_FALSE(JobShape::from_plan_json(R"({"vertices":[{"id":"x"}]})").known);
}

TEST(StatusLine, RatesAreRecordsSincePreviousSamplePerSecondSummedOverSubtasks) {
  const auto shape = JobShape::from_plan_json(kPlan);
  const auto a = sample(10.0, 1000, 3000, 500, 1500, 999'000, 998'000);
  const auto b = sample(12.0, 2'001'000, 2'003'000, 1'000'500, 1'001'500, 999'500, 999'200);
  // in: (2'001'000 + 2'003'000 - 4000) / 2 s = 2.00M/s; out: (2'002'000 - 2000) / 2 s = 1.00M/s;
  // lag: 1'000'000 - min(999'500, 999'200) = 800 ms.
  EXPECT_EQ(weir::cli::format_status(&a, b, shape),
            "RUNNING  in 2.00M/s  out 1.00M/s  lag 800 ms  checkpoints —  restarts 0");
}

TEST(StatusLine, WithoutAPreviousSampleOrAShapeTheUnknownFieldsShowADash) {
  const auto s = sample(1.0, 10, 10, 5, 5, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(weir::cli::format_status(nullptr, s, JobShape::from_plan_json(kPlan)),
            "RUNNING  in —  out —  lag —  checkpoints —  restarts 0");
  const auto later = sample(2.0, 510, 10, 5, 5, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(weir::cli::format_status(&s, later, JobShape{}), "RUNNING  in 500/s  out —  lag —  checkpoints —  restarts 0");
}

TEST(StatusLine, TasksAtTheFinalWatermarkDoNotCountForTheLag) {
  const auto shape = JobShape::from_plan_json(kPlan);
  const int64_t max = std::numeric_limits<int64_t>::max();
  auto s = sample(1.0, 0, 0, 0, 0, max, 940'000);
  EXPECT_NE(weir::cli::format_status(nullptr, s, shape).find("lag 1m00s"), std::string::npos);
  s = sample(1.0, 0, 0, 0, 0, max, max);
  EXPECT_NE(weir::cli::format_status(nullptr, s, shape).find("lag —"), std::string::npos);
}

TEST(StatusLine, CheckpointStateAndRestarts) {
  const auto shape = JobShape::from_plan_json(kPlan);
  auto s = sample(1.0, 0, 0, 0, 0, 1'000'000, 1'000'000);
  s.state = "RESTARTING";
  s.restarts = 3;
  s.checkpoints = 12;
  s.last_checkpoint_ms = 230;
  s.last_checkpoint_bytes = 3 * 1024 * 1024 + 512 * 1024;
  EXPECT_EQ(weir::cli::format_status(nullptr, s, shape),
            "RESTARTING  in —  out —  lag 0 ms  checkpoints 12 (last 230 ms, 3.5 MiB)  restarts 3");
  s.last_checkpoint_bytes = -1;  // a cluster job's: not known
  EXPECT_NE(weir::cli::format_status(nullptr, s, shape).find("checkpoints 12 (last 230 ms)"), std::string::npos);
}

TEST(StatusLine, CountersThatWentDownAfterARestartCountFromZero) {
  const auto shape = JobShape::from_plan_json(kPlan);
  const auto a = sample(1.0, 5000, 5000, 5000, 5000, 0, 0);
  const auto b = sample(2.0, 300, 100, 200, 0, 0, 0);
  EXPECT_EQ(weir::cli::format_status(&a, b, shape).substr(0, 30), "RUNNING  in 400/s  out 200/s  ");
}

TEST(StatusLine, ASourceChainedToItsSinkCountsWhatItEmitsAsOut) {
  const auto shape = JobShape::from_plan_json(
      R"({"vertices":[{"id":0,"name":"gen -> print","parallelism":1,"operators":[]}],"edges":[]})");
  StatusSample a, b;
  a.at_s = 0;
  b.at_s = 1;
  a.tasks = {task("gen -> print", 0, 0, 100)};
  b.tasks = {task("gen -> print", 0, 0, 1100)};
  b.state = "RUNNING";
  EXPECT_EQ(weir::cli::format_status(&a, b, shape).substr(0, 36), "RUNNING  in 1.0k/s  out 1.0k/s  lag ");
}

TEST(StatusLine, Units) {
  using namespace weir::cli;
  EXPECT_EQ(format_rate(0), "0/s");
  EXPECT_EQ(format_rate(999), "999/s");
  EXPECT_EQ(format_rate(12'345), "12.3k/s");
  EXPECT_EQ(format_rate(3.2e9), "3.20G/s");
  EXPECT_EQ(format_duration_ms(-5), "0 ms");
  EXPECT_EQ(format_duration_ms(12'340), "12.3 s");
  EXPECT_EQ(format_duration_ms(245'000), "4m05s");
  EXPECT_EQ(format_duration_ms(3 * 3600'000 + 7 * 60'000), "3h07m");
  EXPECT_EQ(format_duration_ms(2 * 86400'000LL + 4 * 3600'000), "2d04h");
  EXPECT_EQ(format_bytes(700), "700 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
}

TEST(StatusLine, PlainModePrintsWholeLinesAndTheLastOneAveragesTheRun) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  weir::cli::StatusOptions o;
  o.mode = weir::cli::StatusMode::plain;
  o.interval_s = 1000;  // only the baseline and the last line
  weir::cli::StatusPrinter p(o, JobShape::from_plan_json(kPlan), f);
  int calls = 0;
  auto sampler = [&]() -> std::optional<StatusSample> {
    ++calls;
    return calls == 1 ? sample(0.0, 0, 0, 0, 0, 1'000'000, 1'000'000) : sample(4.0, 2000, 2000, 1000, 1000, 1'000'000, 1'000'000);
  };
  p.tick(sampler);  // the baseline
  p.tick(sampler);  // not due
  p.finish(sampler);
  p.finish(sampler);  // once
  std::rewind(f);
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, n), "RUNNING  in 1.0k/s  out 500/s  lag 0 ms  checkpoints —  restarts 0\n");
  EXPECT_EQ(calls, 2);
}

TEST(StatusLine, TerminalModeRefreshesInPlace) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  weir::cli::StatusOptions o;
  o.mode = weir::cli::StatusMode::terminal;
  weir::cli::StatusPrinter p(o, JobShape{}, f);
  auto sampler = []() -> std::optional<StatusSample> { return sample(0.0, 0, 0, 0, 0, 0, 0); };
  p.tick(sampler);
  p.finish(sampler);
  std::rewind(f);
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, n), "\rRUNNING  in —  out —  lag 16m40s  checkpoints —  restarts 0\x1b[K\n");
}

TEST(StatusLine, QuietPrintsNothing) {
  const auto o = weir::cli::status_options(true, 10, 2);
  EXPECT_EQ(o.mode, weir::cli::StatusMode::off);
}

}  // namespace
