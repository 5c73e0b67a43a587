// The REST API over jobs running in this process, read with an HTTP client on a real socket:
// Flink's shapes, the counts each view reports checked against what the job was given.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>

#include "rest/json_views.h"
#include "rest/prometheus.h"
#include "rest/tests/rest_support.h"
#include "support/test_support.h"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using weir::resttest::eventually;
using weir::resttest::json;
using weir::resttest::Served;

struct Ev {
  std::string key;
  int64_t ts = 0;
  int64_t value = 0;
  bool operator==(const Ev&) const = default;
};

}  // namespace
WEIR_SERDE(Ev, key, ts, value)

namespace {

struct Control {
  std::atomic<bool> stop{false};
};

/// Two splits: split 0 emits records ts 0, 10, 20, ... (a few per read, slowly) until `stop`;
/// split 1 emits nothing, without ending — and the job sets no idleness, so it holds the
/// watermark of every task downstream of it.
class StuckSplit final : public weir::Source<Ev> {
 public:
  explicit StuckSplit(std::shared_ptr<Control> c) : c_(std::move(c)) {}
  int num_splits(int) const override { return 2; }
  std::unique_ptr<weir::SplitReader<Ev>> create_reader(int split, int) const override {
    struct Reader final : weir::SplitReader<Ev> {
      std::shared_ptr<Control> c;
      int split = 0;
      int64_t next = 0;
      Status read(std::size_t max, weir::SourceOutput<Ev>& out) override {
        if (c->stop.load()) return Status::kEndOfSplit;
        if (split == 1) {
          std::this_thread::sleep_for(1ms);
          return Status::kMoreAvailable;  // polls, finds nothing, never idle
        }
        for (std::size_t i = 0; i < std::min<std::size_t>(max, 5); ++i, ++next) out.collect(Ev{"busy", next * 10, 1}, next * 10);
        std::this_thread::sleep_for(1ms);
        return Status::kMoreAvailable;
      }
    };
    auto r = std::make_unique<Reader>();
    r->c = c_;
    r->split = split;
    return r;
  }

 private:
  std::shared_ptr<Control> c_;
};

json find_job(Served& s, const std::string& id) {
  const auto all = s.get("/jobs/overview");
  for (const auto& j : all["jobs"]) {
    if (j["jid"] == id) return j;
  }
  return nullptr;
}

/// The vertex of job details whose name contains `part`.
json vertex_named(const json& details, const std::string& part) {
  for (const auto& v : details["vertices"]) {
    if (v["name"].get<std::string>().find(part) != std::string::npos) return v;
  }
  return nullptr;
}

class RestJobs : public ::testing::TestWithParam<int> {};

TEST_P(RestJobs, FinishedJobShowsItsRecordCountsAndPlan) {
  const int p = GetParam();
  Served s;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p);
  std::vector<int64_t> input;
  for (int64_t i = 0; i < 10000; ++i) input.push_back(i);
  std::map<int64_t, int64_t> expected;  // key → sum, computed sequentially
  for (auto v : input) expected[v % 7] += v;
  auto mu = std::make_shared<std::mutex>();
  auto got = std::make_shared<std::map<int64_t, int64_t>>();
  env.from_collection(input)
      .map([](const int64_t& v) { return std::pair<int64_t, int64_t>(v % 7, v); })
      .name("pair up")
      .key_by([](const std::pair<int64_t, int64_t>& x) { return x.first; })
      .reduce([](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
        return std::pair<int64_t, int64_t>(a.first, a.second + b.second);
      })
      .name("sum")
      .add_sink([mu, got](const std::pair<int64_t, int64_t>& x) {
        std::lock_guard lock(*mu);
        (*got)[x.first] = x.second;
      });
  auto client = env.execute_async("rest finished job");
  client.wait();
  EXPECT_EQ(*got, expected);

  const auto ov = find_job(s, client.get_job_id());
  ASSERT_FALSE(ov.is_null());
  EXPECT_EQ(ov["name"], "rest finished job");
  EXPECT_EQ(ov["state"], "FINISHED");
  EXPECT_GE(ov["end-time"].get<int64_t>(), ov["start-time"].get<int64_t>());

  const auto d = s.get("/jobs/" + client.get_job_id());
  EXPECT_EQ(d["state"], "FINISHED");
  EXPECT_EQ(d["job-type"], "STREAMING");
  ASSERT_EQ(d["vertices"].size(), d["plan"]["nodes"].size());
  // The keyed vertex consumed every record once, over all its subtasks.
  const auto sum = vertex_named(d, "sum");
  ASSERT_FALSE(sum.is_null()) << d.dump();
  EXPECT_EQ(sum["parallelism"], p);
  EXPECT_EQ(sum["metrics"]["read-records"].get<int64_t>(), static_cast<int64_t>(input.size()));
  EXPECT_GT(sum["metrics"]["read-bytes"].get<int64_t>(), 0);
  // Its plan node has one HASH input from the source's vertex.
  json node;
  for (const auto& n : d["plan"]["nodes"]) {
    if (n["id"] == sum["id"]) node = n;
  }
  ASSERT_EQ(node["inputs"].size(), 1u);
  EXPECT_EQ(node["inputs"][0]["ship_strategy"], "HASH");
  bool upstream_found = false;
  for (const auto& v : d["vertices"]) upstream_found = upstream_found || v["id"] == node["inputs"][0]["id"];
  EXPECT_TRUE(upstream_found);

  // Per subtask: the counts add up to the vertex's, and each subtask has a host and metrics.
  const auto vd = s.get("/jobs/" + client.get_job_id() + "/vertices/" + sum["id"].get<std::string>());
  ASSERT_EQ(vd["subtasks"].size(), static_cast<std::size_t>(p));
  int64_t total = 0;
  std::set<int> subtasks;
  for (const auto& st : vd["subtasks"]) {
    total += st["metrics"]["read-records"].get<int64_t>();
    subtasks.insert(st["subtask"].get<int>());
    EXPECT_EQ(st["host"], "localhost");
  }
  EXPECT_EQ(total, static_cast<int64_t>(input.size()));
  EXPECT_EQ(subtasks.size(), static_cast<std::size_t>(p));

  // Flink's per-vertex watermark list has one entry per subtask.
  const auto wl = s.get("/jobs/" + client.get_job_id() + "/vertices/" + sum["id"].get<std::string>() + "/watermarks");
  EXPECT_EQ(wl.size(), static_cast<std::size_t>(p));
  // Every path is also under /v1, as Flink's.
  EXPECT_EQ(s.get("/v1/jobs/" + client.get_job_id())["jid"], client.get_job_id());
  s.get("/jobs/no-such-job", 404);
  s.get("/jobs/" + client.get_job_id() + "/vertices/nope", 404);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, RestJobs, ::testing::Values(1, 2, 4));

TEST(Rest, StuckWatermarkNamesTheInputThatHoldsIt) {
  Served s;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1).set_worker_threads(3);
  auto c = std::make_shared<Control>();
  std::atomic<int64_t> fired{0};
  env.from_source(StuckSplit(c), weir::WatermarkStrategy<Ev>::for_monotonous_timestamps(), "events")
      .set_parallelism(2)
      .key_by([](const Ev& e) { return e.key; })
      .window(weir::TumblingEventTimeWindows::of(100ms))
      .reduce([](const Ev& a, const Ev& b) { return Ev{a.key, a.ts, a.value + b.value}; })
      .name("windowed")
      .add_sink([&fired](const Ev&) { fired.fetch_add(1); });
  auto client = env.execute_async("stuck watermark");
  const std::string base = "/jobs/" + client.get_job_id();

  // Subtask 0 of the source emits watermarks; subtask 1 does not: the window's input holds.
  json window;
  ASSERT_TRUE(eventually([&] {
    const auto wms = s.get(base + "/watermarks");
    for (const auto& v : wms["vertices"]) {
      if (v["name"].get<std::string>().find("windowed") == std::string::npos) continue;
      const auto& st = v["subtasks"][0];
      if (st["inputs"].size() == 2 && !st["inputs"][0]["watermark"].is_null() && st["inputs"][0]["watermark"].get<int64_t>() > 200) {
        window = st;
        return true;
      }
    }
    return false;
  })) << s.get(base + "/watermarks").dump();
  EXPECT_EQ(window["holding-input"], 1);
  EXPECT_TRUE(window["inputs"][1]["holding"].get<bool>());
  EXPECT_FALSE(window["inputs"][0]["holding"].get<bool>());
  EXPECT_TRUE(window["inputs"][1]["watermark"].is_null());  // it never sent one
  EXPECT_EQ(window["inputs"][1]["upstream-subtask"], 1);
  EXPECT_NE(window["inputs"][1]["upstream-name"].get<std::string>().find("events"), std::string::npos);
  EXPECT_FALSE(window["inputs"][1]["idle"].get<bool>());
  // Held at "no watermark": nothing fired, and no lag can be given.
  EXPECT_TRUE(window["input-watermark"].is_null());
  EXPECT_TRUE(window["lag-ms"].is_null());
  EXPECT_EQ(fired.load(), 0);
  // The source's subtasks show what they emit: subtask 0 has a watermark, with a lag.
  const auto wms = s.get(base + "/watermarks");
  for (const auto& v : wms["vertices"]) {
    if (v["name"].get<std::string>().find("events") == std::string::npos) continue;
    for (const auto& st : v["subtasks"]) {
      EXPECT_TRUE(st["inputs"].empty());
      if (st["subtask"] == 0) {
        EXPECT_FALSE(st["lag-ms"].is_null());
      }
    }
  }
  // While it runs, the source's vertex shows a positive rate of records out.
  ASSERT_TRUE(eventually([&] {
    const auto src = vertex_named(s.get(base), "events");
    return !src.is_null() && src["rates"]["records-out-per-second"].get<double>() > 0;
  }));
  c->stop = true;
  client.wait();
}

TEST(Rest, CheckpointsSavepointAndCancelThroughTheApi) {
  weir::testsupport::TempDir dir;
  Served s;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.enable_checkpointing(50);
  env.get_checkpoint_config().set_checkpoint_storage(dir.path() + "/chk");
  auto c = std::make_shared<Control>();
  using Count = std::pair<std::string, int64_t>;
  env.from_source(StuckSplit(c), weir::WatermarkStrategy<Ev>::no_watermarks(), "events")
      .map([](const Ev& e) { return Count(e.key, e.value); })
      .key_by([](const Count& e) { return e.first; })
      .reduce([](const Count& a, const Count& b) { return Count(a.first, a.second + b.second); })
      .name("count")
      .add_sink([](const Count&) {});
  auto client = env.execute_async("checkpointed");
  const std::string base = "/jobs/" + client.get_job_id();
  ASSERT_TRUE(eventually([&] { return s.get(base + "/checkpoints")["counts"]["completed"].get<int64_t>() >= 3; }, 10)) << s.get(base + "/exceptions").dump();
  const auto cps = s.get(base + "/checkpoints");
  ASSERT_FALSE(cps["latest"]["completed"].is_null());
  const auto& latest = cps["latest"]["completed"];
  EXPECT_EQ(latest["status"], "COMPLETED");
  EXPECT_FALSE(latest["is_savepoint"].get<bool>());
  EXPECT_GT(latest["state_size"].get<int64_t>(), 0);
  EXPECT_GE(latest["end_to_end_duration"].get<int64_t>(), 0);
  EXPECT_EQ(latest["num_acknowledged_subtasks"], latest["num_subtasks"]);
  EXPECT_TRUE(std::filesystem::exists(latest["external_path"].get<std::string>()));
  // History is newest first, ids descending.
  int64_t prev = std::numeric_limits<int64_t>::max();
  for (const auto& h : cps["history"]) {
    EXPECT_LT(h["id"].get<int64_t>(), prev);
    prev = h["id"].get<int64_t>();
  }
  EXPECT_GE(cps["summary"]["end_to_end_duration"]["max"].get<int64_t>(), cps["summary"]["end_to_end_duration"]["min"].get<int64_t>());

  // A savepoint through the API (with the token), then its trigger's state.
  const std::string sp = dir.path() + "/sp";
  auto r = s.client->Post((base + "/savepoints").c_str(), s.auth(), json{{"target-directory", sp}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const auto trigger = json::parse(r->body)["request-id"].get<std::string>();
  json status;
  ASSERT_TRUE(eventually([&] {
    status = s.get(base + "/savepoints/" + trigger);
    return status["status"]["id"] == "COMPLETED";
  }));
  ASSERT_TRUE(status["operation"].contains("location")) << status.dump();
  EXPECT_TRUE(std::filesystem::exists(status["operation"]["location"].get<std::string>()));
  EXPECT_TRUE(eventually([&] { return !s.get(base + "/checkpoints")["latest"]["savepoint"].is_null(); }));
  // A savepoint without a folder is refused with the reason.
  r = s.client->Post((base + "/savepoints").c_str(), s.auth(), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("target-directory"), std::string::npos);

  // Cancel through the API; the job shows as CANCELED.
  r = s.client->Patch((base + "?mode=cancel").c_str(), s.auth(), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_THROW(client.wait(), weir::JobFailure);
  EXPECT_EQ(s.get(base)["state"], "CANCELED");
  r = s.client->Patch((base + "?mode=cancel").c_str(), s.auth(), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
}

TEST(Rest, FailedJobShowsItsRootCause) {
  Served s;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  std::vector<int64_t> input{1, 2, 3};
  env.from_collection(input)
      .map([](const int64_t& v) -> int64_t {
        if (v == 2) throw std::runtime_error("the value 2 is not allowed here");
        return v;
      })
      .name("picky map")
      .add_sink([](const int64_t&) {});
  auto client = env.execute_async("failing job");
  EXPECT_THROW(client.wait(), weir::JobFailure);
  const auto ex = s.get("/jobs/" + client.get_job_id() + "/exceptions");
  ASSERT_TRUE(ex["root-exception"].is_string()) << ex.dump();
  EXPECT_NE(ex["root-exception"].get<std::string>().find("the value 2 is not allowed here"), std::string::npos);
  EXPECT_NE(ex["root-exception"].get<std::string>().find("picky map"), std::string::npos);
  ASSERT_EQ(ex["exceptionHistory"]["entries"].size(), 1u);
  EXPECT_NE(ex["exceptionHistory"]["entries"][0]["taskName"].get<std::string>().find("picky map"), std::string::npos);
  EXPECT_EQ(s.get("/jobs/" + client.get_job_id())["state"], "FAILED");
  EXPECT_GE(s.get("/overview")["jobs-failed"].get<int>(), 1);
}

TEST(Rest, PrometheusTextCarriesTheTaskCounters) {
  Served s;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  std::vector<int64_t> input(5000, 1);
  env.from_collection(input).rebalance().map([](const int64_t& v) { return v; }).name("id \"quoted\"").add_sink([](const int64_t&) {});
  auto client = env.execute_async("prometheus \"job\"\nname");
  client.wait();
  auto r = s.client->Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  // Every line is a comment or `name{labels} value`, label values escaped.
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\} -?[0-9.e+-]+$)");
  std::istringstream in(r->body);
  std::string line;
  int64_t records_in = 0;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    if (line.rfind("weir_task_records_in_total{", 0) == 0 && line.find(client.get_job_id()) != std::string::npos &&
        line.find("quoted") != std::string::npos) {
      records_in += std::stoll(line.substr(line.rfind(' ') + 1));
    }
  }
  EXPECT_GT(samples, 10);
  EXPECT_EQ(records_in, 5000);
  EXPECT_NE(r->body.find("job_name=\"prometheus \\\"job\\\"\\nname\""), std::string::npos);
  EXPECT_NE(r->body.find("# TYPE weir_task_records_in_total counter"), std::string::npos);
}

TEST(Rest, OpenApiDocumentDescribesEveryRoute) {
  Served s;
  const auto doc = s.get("/openapi.json");
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const char* p : {"/config", "/overview", "/jobs", "/jobs/overview", "/jobs/{jobid}", "/jobs/{jobid}/vertices/{vertexid}",
                        "/jobs/{jobid}/vertices/{vertexid}/watermarks", "/jobs/{jobid}/watermarks", "/jobs/{jobid}/checkpoints",
                        "/jobs/{jobid}/exceptions", "/jobs/{jobid}/savepoints", "/jobs/{jobid}/savepoints/{triggerid}",
                        "/taskmanagers", "/jars", "/jars/upload", "/jars/{jarid}/run", "/jars/{jarid}", "/jobmanager/log",
                        "/jobmanager/logs", "/jobmanager/logs/{name}", "/metrics", "/openapi.json"}) {
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  }
  EXPECT_EQ(doc["paths"].size(), 22u) << "a route was added: describe it in src/rest/openapi.json and here";
  // Each changing operation declares the bearer token.
  for (auto& [path, ops] : doc["paths"].items()) {
    for (auto& [method, op] : ops.items()) {
      if (method != "get") {
        EXPECT_TRUE(op.contains("security")) << method << " " << path;
      }
    }
  }
}

TEST(Rest, OverviewConfigAndTaskManagersOfAnEmbeddedProcess) {
  Served s;
  const auto cfg = s.get("/config");
  EXPECT_EQ(cfg["mode"], "embedded");
  EXPECT_FALSE(cfg["features"]["web-submit"].get<bool>());
  const auto tms = s.get("/taskmanagers")["taskmanagers"];
  ASSERT_EQ(tms.size(), 1u);
  EXPECT_GT(tms[0]["slotsNumber"].get<int>(), 0);
  EXPECT_GT(tms[0]["hardware"]["physicalMemory"].get<int64_t>(), 0);
  const auto ov = s.get("/overview");
  EXPECT_EQ(ov["taskmanagers"], 1);
  // The UI's page, or a note that it is not built; never an error.
  auto r = s.client->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // The recent log lines.
  r = s.client->Get("/jobmanager/log");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(RestRates, FromTwoReadings) {
  weir::TaskMetrics a, b;
  a.records_in = 100;
  a.lifetime_ns = 1'000'000'000;
  a.busy_ns = 100'000'000;
  b.records_in = 1100;
  b.lifetime_ns = 3'000'000'000;
  b.busy_ns = 600'000'000;
  b.backpressured_ns = 1'200'000'000;
  const auto r = weir::rest::compute_rates(b, a, 2.0);
  EXPECT_DOUBLE_EQ(r.records_in, 500);
  EXPECT_DOUBLE_EQ(r.busy_ms, 250);
  EXPECT_DOUBLE_EQ(r.backpressured_ms, 600);
  EXPECT_DOUBLE_EQ(r.idle_ms, 150);
  EXPECT_STREQ(weir::rest::backpressure_level(r.backpressured_ms), "high");
  EXPECT_STREQ(weir::rest::backpressure_level(200), "low");
  EXPECT_STREQ(weir::rest::backpressure_level(100), "ok");
  // A counter that went backwards (a restart) gives 0, not a huge rate.
  const auto back = weir::rest::compute_rates(a, b, 1.0);
  EXPECT_DOUBLE_EQ(back.records_in, 0);
}

}  // namespace
