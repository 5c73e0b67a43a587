// The HTTP ingestion source against real sockets on 127.0.0.1 (ephemeral ports): records the
// job got equal what was POSTed; status codes (401, 404, 405, 413, 415, 429, 503); JSON lines
// and one document; each bad-record policy; the queue bound; the port released when a job ends.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/http/json_check.h"
#include "weir/connectors/http.hpp"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kNdjson = "application/x-ndjson";

/// What a sink collected (shared by the sink's copies).
template <class T>
struct Collected {
  std::mutex mu;
  std::vector<T> items;
  void add(const T& v) {
    std::lock_guard lock(mu);
    items.push_back(v);
  }
  std::vector<T> get() {
    std::lock_guard lock(mu);
    return items;
  }
};

/// A running job; cancels it at the end if it still runs, so every test stops its server.
struct RunningJob {
  std::optional<weir::JobClient> client;
  ~RunningJob() {
    if (!client) return;
    const auto st = client->get_job_status();
    if (st == weir::JobStatus::running || st == weir::JobStatus::created || st == weir::JobStatus::restarting) {
      client->cancel();
    }
    try {
      client->wait();
    } catch (const std::exception&) {
    }
  }
};

/// The sum over tasks of the source operator's metric `name`.
int64_t source_metric(weir::JobClient& client, const std::string& name, const std::string& op = "HTTP Source") {
  int64_t v = 0;
  for (const auto& m : client.metrics()) {
    auto it = m.operator_metrics.find(op + "." + name);
    if (it != m.operator_metrics.end()) v += it->second;
  }
  return v;
}

/// Waits (bounded) until `pred` holds.
template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = 20s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string lines_of(const std::vector<std::string>& records) {
  std::string body;
  for (const auto& r : records) body += r + "\n";
  return body;
}

httplib::Result post(int port, const std::string& path, const std::string& body, const std::string& type = kNdjson,
                     const httplib::Headers& headers = {}) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(30, 0);
  return cli.Post(path.c_str(), headers, body, type.c_str());
}

// ---------------------------------------------------------------------------------------------

class HttpSourceParallelism : public ::testing::TestWithParam<int> {};

TEST_P(HttpSourceParallelism, JsonLinesPostedAreTheRecordsTheJobGets) {
  const int p = GetParam();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p);
  weir::HttpSource src("clicks");
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  env.from_source(src, weir::WatermarkStrategy<std::string>::no_watermarks(), "HTTP Source")
      .map([](const std::string& s) { return s; })
      .add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http lines");
  const int port = handle->wait_for_port();
  ASSERT_GT(port, 0);

  // The expectation, computed independently: every non-empty line of every body, in order.
  std::vector<std::string> expected;
  int64_t body_bytes = 0;
  for (int r = 0; r < 5; ++r) {
    std::vector<std::string> recs;
    for (int i = 0; i < 20; ++i) recs.push_back(json{{"req", r}, {"i", i}, {"s", "x y\tz"}}.dump());
    std::string body = "\n" + lines_of(recs) + "\n\n";  // empty lines are ignored
    if (r == 3) {
      body = "";
      for (const auto& x : recs) body += x + "\r\n";  // CRLF lines
      body.pop_back();
      body.pop_back();  // no newline after the last line
    }
    body_bytes += static_cast<int64_t>(body.size());
    auto res = post(port, "/ingest/clicks", body);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body), (json{{"accepted", 20}, {"rejected", 0}}));
    expected.insert(expected.end(), recs.begin(), recs.end());
  }
  // Answered 200 only once handed to the job: the source counted them all already.
  EXPECT_EQ(source_metric(*job.client, "records"), 100);
  EXPECT_EQ(source_metric(*job.client, "requests_accepted"), 5);
  EXPECT_EQ(source_metric(*job.client, "bytes"), body_bytes);
  handle->finish();
  job.client->wait();
  auto items = got->get();
  if (p > 1) {
    std::sort(items.begin(), items.end());
    std::sort(expected.begin(), expected.end());
  }
  EXPECT_EQ(items, expected);
  EXPECT_EQ(handle->port(), 0);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, HttpSourceParallelism, ::testing::Values(1, 2, 4));

TEST(HttpSource, OneJsonDocumentPerRequest) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("events");
  src.set_bad_record_policy(weir::BadRecordPolicy::skip());
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  weir::http_source_stream(env, src).add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http document");
  const int port = handle->wait_for_port();

  const std::string doc = "{\n  \"a\": [1, 2,\n 3],\n  \"b\": {\"c\": \"line\\nbreak\"}\n}";
  auto res = post(port, "/ingest/events", doc, "application/json; charset=utf-8");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 1}, {"rejected", 0}}));
  // Two lines of JSON as one document are not one JSON value: a bad record (skipped).
  res = post(port, "/ingest/events", "{\"a\":1}\n{\"a\":2}\n", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 0}, {"rejected", 1}}));
  // The same as JSON lines: two records.
  res = post(port, "/ingest/events", "{\"a\":1}\n{\"a\":2}\n", "application/x-ndjson");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 2}, {"rejected", 0}}));
  // Without a Content-Type: the default format (JSON lines).
  res = post(port, "/ingest/events", "[3]\n", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 1}, {"rejected", 0}}));
  res = post(port, "/ingest/events", "a,b\n", "text/csv");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  EXPECT_EQ(source_metric(*job.client, "bad_records_skipped"), 1);
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<std::string>{doc, "{\"a\":1}", "{\"a\":2}", "[3]"}));
}

TEST(HttpSource, StatusCodesForWrongRequests) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");
  src.set_max_body_bytes(1000).set_bearer_token("s3cret-token");
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  weir::http_source_stream(env, src).add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http status");
  const int port = handle->wait_for_port();
  const httplib::Headers auth{{"Authorization", "Bearer s3cret-token"}};

  auto res = post(port, "/ingest/clicks", "{}\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
  res = post(port, "/ingest/clicks", "{}\n", kNdjson, {{"Authorization", "Bearer s3cret-tokeN"}});
  EXPECT_EQ(res->status, 401);
  res = post(port, "/ingest/clicks", "{}\n", kNdjson, {{"Authorization", "Bearer s3cret-token-longer"}});
  EXPECT_EQ(res->status, 401);
  res = post(port, "/ingest/clicks", "{}\n", kNdjson, {{"Authorization", "Basic s3cret-token"}});
  EXPECT_EQ(res->status, 401);

  res = post(port, "/ingest/other", "{}\n", kNdjson, auth);
  EXPECT_EQ(res->status, 404);
  res = post(port, "/ingest/clicks/x", "{}\n", kNdjson, auth);
  EXPECT_EQ(res->status, 404);
  {
    httplib::Client cli("127.0.0.1", port);
    auto g = cli.Get("/ingest/clicks", auth);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 405);
    EXPECT_EQ(g->get_header_value("Allow"), "POST");
    auto put = cli.Put("/ingest/clicks", auth, "{}\n", kNdjson);
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 405);
    auto del = cli.Delete("/ingest/clicks", auth);
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 405);
  }
  // Above the body limit: with a Content-Length, and chunked (no length).
  const std::string big(1001, ' ');
  res = post(port, "/ingest/clicks", big, kNdjson, auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  {
    httplib::Client cli("127.0.0.1", port);
    int chunks = 0;
    auto r = cli.Post(
        "/ingest/clicks", auth,
        [&](std::size_t, httplib::DataSink& sink) {
          if (chunks++ < 10) {
            const std::string piece = "{\"k\":" + std::string(200, '1') + "}\n";
            sink.write(piece.data(), piece.size());
          } else {
            sink.done();
          }
          return true;
        },
        kNdjson);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  // Exactly at the limit, authorised: taken.
  const std::string at_limit = "\"" + std::string(997, 'a') + "\"\n";
  ASSERT_EQ(at_limit.size(), 1000u);
  res = post(port, "/ingest/clicks", at_limit, kNdjson, auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = post(port, "/ingest/clicks", "{\"ok\":true}\n", kNdjson, {{"Authorization", "bearer s3cret-token"}});
  EXPECT_EQ(res->status, 200);

  EXPECT_EQ(source_metric(*job.client, "rejected_requests_401"), 4);
  EXPECT_EQ(source_metric(*job.client, "rejected_requests_404"), 2);
  EXPECT_EQ(source_metric(*job.client, "rejected_requests_405"), 3);
  EXPECT_EQ(source_metric(*job.client, "rejected_requests_413"), 2);
  EXPECT_EQ(source_metric(*job.client, "requests_accepted"), 2);
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<std::string>{at_limit.substr(0, 999), "{\"ok\":true}"}));
}

/// A map that blocks every record until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  void pass() {
    entered.fetch_add(1);
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(HttpSource, FullQueueAnswers429AndStaysBounded) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");
  src.set_queue_capacity(20).set_retry_after_seconds(7).set_threads(4);
  auto handle = src.handle();
  auto gate = std::make_shared<Gate>();
  auto got = std::make_shared<Collected<std::string>>();
  // The map is chained to the source: while it blocks, the source task takes nothing more.
  weir::http_source_stream(env, src)
      .map([gate](const std::string& s) {
        gate->pass();
        return s;
      })
      .add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http backpressure");
  const int port = handle->wait_for_port();
  auto batch = [](int r) {
    std::vector<std::string> v;
    for (int i = 0; i < 10; ++i) v.push_back(std::to_string(r * 100 + i));
    return v;
  };

  // Request A is taken (the map blocks on its first record), B waits in the queue (20 records).
  auto a = std::async(std::launch::async, [&] { return post(port, "/ingest/clicks", lines_of(batch(0))); });
  ASSERT_TRUE(eventually([&] { return gate->entered.load() >= 1; }));
  auto b = std::async(std::launch::async, [&] { return post(port, "/ingest/clicks", lines_of(batch(1))); });
  ASSERT_TRUE(eventually([&] { return source_metric(*job.client, "queued_records") == 20; }));

  // Every further request is refused at once, with Retry-After; the queue does not grow.
  constexpr int kRefused = 50;
  for (int r = 0; r < kRefused; ++r) {
    auto res = post(port, "/ingest/clicks", lines_of(batch(2 + r)));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 429);
    EXPECT_EQ(res->get_header_value("Retry-After"), "7");
    EXPECT_LE(source_metric(*job.client, "queued_records"), 20);
    EXPECT_EQ(source_metric(*job.client, "queued_bytes"),
              static_cast<int64_t>(lines_of(batch(0)).size() + lines_of(batch(1)).size()));
  }
  EXPECT_EQ(source_metric(*job.client, "rejected_requests_429"), kRefused);
  EXPECT_EQ(a.wait_for(0s), std::future_status::timeout);  // not answered while not taken
  EXPECT_EQ(b.wait_for(0s), std::future_status::timeout);

  gate->release();
  auto ra = a.get();
  auto rb = b.get();
  ASSERT_TRUE(ra);
  ASSERT_TRUE(rb);
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(rb->status, 200);
  EXPECT_EQ(source_metric(*job.client, "queued_records"), 0);
  handle->finish();
  job.client->wait();
  auto expected = batch(0);
  auto b1 = batch(1);
  expected.insert(expected.end(), b1.begin(), b1.end());
  EXPECT_EQ(got->get(), expected);  // the refused requests left nothing behind
}

TEST(HttpSource, RequestNotTakenWithinTheAckTimeoutIsWithdrawn) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");
  src.set_ack_timeout(2s);  // A must be taken within it even on a loaded machine
  auto handle = src.handle();
  auto gate = std::make_shared<Gate>();
  auto got = std::make_shared<Collected<std::string>>();
  weir::http_source_stream(env, src)
      .map([gate](const std::string& s) {
        gate->pass();
        return s;
      })
      .add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http ack timeout");
  const int port = handle->wait_for_port();
  auto a = std::async(std::launch::async, [&] { return post(port, "/ingest/clicks", "1\n2\n"); });
  ASSERT_TRUE(eventually([&] { return gate->entered.load() >= 1; }));
  // B is queued behind A, whose records the blocked map holds: not started in time, withdrawn.
  auto rb = post(port, "/ingest/clicks", "3\n4\n");
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, 503);
  EXPECT_FALSE(rb->get_header_value("Retry-After").empty());
  EXPECT_EQ(source_metric(*job.client, "queued_records"), 2);  // A's only
  gate->release();
  auto ra = a.get();
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->status, 200);  // A started before the timeout: it is answered once taken
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<std::string>{"1", "2"}));
}

TEST(HttpSource, BadRecordFailsTheJobAndTheRequestGetsTheReason) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");  // policy fail (the default)
  auto handle = src.handle();
  weir::http_source_stream(env, src).add_sink([](const std::string&) {});
  RunningJob job;
  job.client = env.execute_async("http fail");
  const int port = handle->wait_for_port();
  auto res = post(port, "/ingest/clicks", "{\"a\":1}\n{\"a\":\n[1]\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  const std::string prefix = "HTTP request 1 from 127.0.0.1:";
  EXPECT_NE(res->body.find(prefix), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("to /ingest/clicks, line 2"), std::string::npos) << res->body;
  try {
    job.client->wait();
    FAIL() << "the job should fail";
  } catch (const weir::JobFailure& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(prefix), std::string::npos) << what;
    EXPECT_NE(what.find("to /ingest/clicks, line 2"), std::string::npos) << what;
    EXPECT_NE(what.find("not valid JSON"), std::string::npos) << what;
    EXPECT_NE(what.find("BadRecordPolicy::skip()"), std::string::npos) << what;
    EXPECT_NE(what.find("BadRecordPolicy::dead_letter"), std::string::npos) << what;
  }
  EXPECT_EQ(handle->port(), 0);  // the server stopped with the job
}

TEST(HttpSource, SkipPolicyCountsAndAnswersHowManyWereRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");
  src.set_bad_record_policy(weir::BadRecordPolicy::skip()).set_max_record_bytes(10);
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  weir::http_source_stream(env, src).add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http skip");
  const int port = handle->wait_for_port();
  auto res = post(port, "/ingest/clicks", "1\nnope\n\n2\n\"eleven chars\"\n{\"a\"\n3\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 3}, {"rejected", 3}}));
  EXPECT_EQ(source_metric(*job.client, "bad_records_skipped"), 3);
  EXPECT_EQ(source_metric(*job.client, "records_rejected"), 3);
  EXPECT_EQ(source_metric(*job.client, "records"), 3);
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(HttpSource, DeadLetterPolicyGivesTheOriginalBytes) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  const auto policy = weir::BadRecordPolicy::dead_letter();
  weir::HttpSource src("clicks");
  src.set_bad_record_policy(policy).set_max_record_bytes(16);
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  auto bad = std::make_shared<Collected<weir::BadRecord>>();
  auto stream = weir::http_source_stream(env, src);
  stream.add_sink([got](const std::string& s) { got->add(s); });
  stream.get_side_output(policy.tag()).add_sink([bad](const weir::BadRecord& r) { bad->add(r); });
  RunningJob job;
  job.client = env.execute_async("http dead letter");
  const int port = handle->wait_for_port();
  const std::string long_line = "[" + std::string(30, '1') + "]";
  auto res = post(port, "/ingest/clicks", "{\"ok\":1}\r\n{broken\r\n" + long_line + "\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 1}, {"rejected", 2}}));
  EXPECT_EQ(source_metric(*job.client, "bad_records_dead_lettered"), 2);
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<std::string>{"{\"ok\":1}"}));
  const auto b = bad->get();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].bytes, "{broken");
  EXPECT_EQ(b[0].origin.rfind("HTTP request 1 from 127.0.0.1:", 0), 0u) << b[0].origin;
  EXPECT_NE(b[0].origin.find("to /ingest/clicks, line 2"), std::string::npos) << b[0].origin;
  EXPECT_NE(b[0].error.find("not valid JSON"), std::string::npos) << b[0].error;
  EXPECT_EQ(b[1].bytes, long_line);
  EXPECT_NE(b[1].origin.find("line 3"), std::string::npos) << b[1].origin;
  EXPECT_NE(b[1].error.find("limit of 16 bytes"), std::string::npos) << b[1].error;
}

struct Click {
  std::string user;
  int64_t n = 0;
  bool operator==(const Click&) const = default;
};
WEIR_SERDE(Click, user, n)

TEST(HttpSource, TypedRecordsFromADeserializer) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto src = weir::HttpSource("clicks")
                 .set_bad_record_policy(weir::BadRecordPolicy::dead_letter())
                 .with_deserializer<Click>([](std::string_view text) {
                   const auto j = json::parse(text);
                   return Click{j.at("user").get<std::string>(), j.at("n").get<int64_t>()};
                 });
  auto handle = src.handle();
  auto got = std::make_shared<Collected<Click>>();
  auto bad = std::make_shared<Collected<weir::BadRecord>>();
  auto stream = weir::http_source_stream(env, src);
  stream.add_sink([got](const Click& c) { got->add(c); });
  stream.get_side_output(src.bad_record_policy().tag()).add_sink([bad](const weir::BadRecord& r) { bad->add(r); });
  RunningJob job;
  job.client = env.execute_async("http typed");
  const int port = handle->wait_for_port();
  auto res = post(port, "/ingest/clicks", "{\"user\":\"ann\",\"n\":1}\n{\"user\":\"bob\"}\n{\"user\":\"cy\",\"n\":3}\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body), (json{{"accepted", 2}, {"rejected", 1}}));
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<Click>{{"ann", 1}, {"cy", 3}}));
  const auto b = bad->get();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].bytes, "{\"user\":\"bob\"}");
  EXPECT_NE(b[0].origin.find("line 2"), std::string::npos);
}

TEST(HttpSource, ConcurrentClientsRetryingOn429LoseAndDuplicateNothing) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  weir::HttpSource src("clicks");
  src.set_queue_capacity(60).set_threads(8).set_retry_after_seconds(0);  // a thread per connection
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  env.from_source(src, weir::WatermarkStrategy<std::string>::no_watermarks(), "HTTP Source")
      .set_parallelism(1)
      .rebalance()
      .map([](const std::string& s) { return s; })
      .add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http concurrent");
  const int port = handle->wait_for_port();

  constexpr int kClients = 8, kRequests = 30, kRecords = 25;
  std::atomic<int> retries{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);  // head and body of a request in separate writes: no Nagle wait
      cli.set_read_timeout(30, 0);
      for (int r = 0; r < kRequests; ++r) {
        std::string body;
        for (int i = 0; i < kRecords; ++i) body += json{{"c", c}, {"r", r}, {"i", i}}.dump() + "\n";
        for (int attempt = 0;; ++attempt) {
          auto res = cli.Post("/ingest/clicks", body, kNdjson);
          ASSERT_TRUE(res) << httplib::to_string(res.error());
          if (res->status == 200) break;
          ASSERT_EQ(res->status, 429) << res->body;
          ASSERT_LT(attempt, 100000);
          retries.fetch_add(1);
          std::this_thread::sleep_for(1ms);  // a client's pause before it retries (Retry-After 0)
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(source_metric(*job.client, "rejected_requests_429"), retries.load());
  EXPECT_EQ(source_metric(*job.client, "requests_accepted"), kClients * kRequests);
  std::printf("%d requests answered 429 and retried\n", retries.load());
  handle->finish();
  job.client->wait();
  std::vector<std::string> expected;
  for (int c = 0; c < kClients; ++c) {
    for (int r = 0; r < kRequests; ++r) {
      for (int i = 0; i < kRecords; ++i) expected.push_back(json{{"c", c}, {"r", r}, {"i", i}}.dump());
    }
  }
  auto items = got->get();
  std::sort(items.begin(), items.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(items, expected);  // every record once: a 429 left nothing behind
}

TEST(HttpSource, DeserializerErrorUnderFailPolicyFailsTheJob) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto src = weir::HttpSource("clicks").with_deserializer<int64_t>([](std::string_view text) {
    return json::parse(text).get<int64_t>();
  });
  auto handle = src.handle();
  weir::http_source_stream(env, src).add_sink([](const int64_t&) {});
  RunningJob job;
  job.client = env.execute_async("http typed fail");
  const int port = handle->wait_for_port();
  auto res = post(port, "/ingest/clicks", "1\n\"two\"\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;  // the client's record, not a server fault
  EXPECT_NE(res->body.find("line 2"), std::string::npos) << res->body;
  EXPECT_THROW(job.client->wait(), weir::JobFailure);
}

TEST(HttpSource, BoundedSourceEndsAfterItsRequests) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  std::promise<int> bound;
  auto bound_future = bound.get_future();
  auto bound_ptr = std::make_shared<std::promise<int>>(std::move(bound));
  weir::HttpSource src("clicks");
  src.set_bounded(2).on_bound([bound_ptr](int port) { bound_ptr->set_value(port); });
  auto result = std::async(std::launch::async, [&] {
    return weir::http_source_stream(env, src).execute_and_collect("http bounded");
  });
  ASSERT_EQ(bound_future.wait_for(30s), std::future_status::ready);
  const int port = bound_future.get();
  auto r1 = post(port, "/ingest/clicks", "1\n2\n");
  auto r2 = post(port, "/ingest/clicks", "3\n");
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r2->status, 200);
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(result.get(), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(HttpSource, CancelledJobReleasesThePortForTheNextJob) {
  int port = 0;
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(1);
    weir::HttpSource src("clicks");
    auto handle = src.handle();
    weir::http_source_stream(env, src).add_sink([](const std::string&) {});
    RunningJob job;
    job.client = env.execute_async("http first");
    port = handle->wait_for_port();
    ASSERT_GT(port, 0);
    auto res = post(port, "/ingest/clicks", "1\n");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    job.client->cancel();
    EXPECT_THROW(job.client->wait(), weir::JobFailure);
    EXPECT_EQ(handle->port(), 0);
    // Nothing listens any more.
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(2, 0);
    auto gone = cli.Post("/ingest/clicks", "2\n", kNdjson);
    EXPECT_FALSE(gone);
  }
  // A new job binds the same port.
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");
  src.set_port(port);
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  weir::http_source_stream(env, src).add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http second");
  ASSERT_EQ(handle->wait_for_port(), port);
  auto res = post(port, "/ingest/clicks", "{\"again\":true}\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  handle->finish();
  job.client->wait();
  EXPECT_EQ(got->get(), (std::vector<std::string>{"{\"again\":true}"}));
}

TEST(HttpSource, RestartedJobListensAgainOnItsPort) {
  // A first job picks a free port and ends; the second uses that port and restarts once.
  int port = 0;
  {
    auto env = weir::StreamExecutionEnvironment::create();
    weir::HttpSource src("clicks");
    auto handle = src.handle();
    handle->finish();  // ends at once, after binding
    src.on_bound([&port](int p) { port = p; });
    weir::http_source_stream(env, src).add_sink([](const std::string&) {});
    env.execute("http pick a port");
    ASSERT_EQ(handle->bind_count(), 1);
  }
  ASSERT_GT(port, 0);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(1, 10ms));
  weir::HttpSource src("clicks");
  src.set_port(port);
  auto handle = src.handle();
  auto got = std::make_shared<Collected<std::string>>();
  auto failed_once = std::make_shared<std::atomic<bool>>(false);
  weir::http_source_stream(env, src)
      .map([failed_once](const std::string& s) {
        if (s == "\"boom\"" && !failed_once->exchange(true)) throw std::runtime_error("a passing failure");
        return s;
      })
      .add_sink([got](const std::string& s) { got->add(s); });
  RunningJob job;
  job.client = env.execute_async("http restart");
  ASSERT_EQ(handle->wait_for_port(), port);
  auto res = post(port, "/ingest/clicks", "\"boom\"\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500) << res->body;  // the job failed while taking it
  // The restarted run binds the same port again (the first run's server has stopped).
  ASSERT_TRUE(eventually([&] { return handle->bind_count() == 2 && handle->port() == port; }));
  res = post(port, "/ingest/clicks", "\"boom\"\n\"after\"\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  handle->finish();
  job.client->wait();
  EXPECT_EQ(job.client->get_restart_count(), 1);
  EXPECT_EQ(got->get(), (std::vector<std::string>{"\"boom\"", "\"after\""}));
}

TEST(HttpSource, PortInUseFailsTheJobWithTheReason) {
  httplib::Server other;
  const int port = other.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  weir::HttpSource src("clicks");
  src.set_port(port);
  weir::http_source_stream(env, src).add_sink([](const std::string&) {});
  try {
    env.execute("http port in use");
    FAIL() << "the job should fail";
  } catch (const weir::JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.what();
  }
}

TEST(HttpSource, RefusesABadStreamName) {
  EXPECT_THROW(weir::HttpSource(""), weir::GraphError);
  EXPECT_THROW(weir::HttpSource("a/b"), weir::GraphError);
  EXPECT_THROW(weir::HttpSource("a").set_port(70000), weir::GraphError);
}

// ---------------------------------------------------------------------------------------------
// The record check: JsonCheck accepts what nlohmann::json::accept accepts (hand-picked cases,
// generated valid documents, their mutations, random strings over JSON's characters; fixed
// seeds), but for the two documented differences.

using weir::http_detail::JsonCheck;

/// nlohmann refuses numbers beyond a double's range (RFC 8259 allows them); JsonCheck takes them.
bool number_overflow(const std::string& text) {
  try {
    const auto parsed = nlohmann::json::parse(text);
    (void)parsed;
  } catch (const nlohmann::json::exception& e) {
    return std::string(e.what()).find("number overflow") != std::string::npos;
  }
  return false;
}

void expect_same(const std::string& text) {
  const bool mine = JsonCheck::is_json(text);
  const bool theirs = nlohmann::json::accept(text);
  if (mine && !theirs && number_overflow(text)) return;
  ASSERT_EQ(mine, theirs) << "input: '" << text << "'";
}

TEST(JsonCheck, HandPickedCases) {
  const std::vector<std::string> cases = {
      "", " ", "{}", "[]", "[1,2]", "{\"a\":1}", " {\"a\" : [1, 2.5e-3, -0, true, false, null]} ", "{\"a\":1,}",
      "[1,]", "[,1]", "{,}", "{\"a\"}", "{\"a\":}", "{1:2}", "01", "-", "-0", "1.", ".5", "1e", "1e+", "1E-7",
      "+1", "0x10", "NaN", "Infinity", "tru", "true ", "truee", "nul", "\"abc", "\"a\\\"b\"", "\"\\x\"",
      "\"\\u00e9\"", "\"\\u00G0\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
      "\"\t\"", "\"\x01\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
      "\"\xf0\x9f\x98\x80\"", "\"\xe0\x80\xaf\"", "\xef\xbb\xbf{}", "\xef\xbb{}", "{} {}", "1 2", "[[[[[]]]]]",
      "[[[[[]]]]", "{\"a\":{\"b\":{\"c\":[{}]}}}", "/* c */ 1", "1 // c", "[1]\n", "\n\r\t1\n", "\"\x7f\"",
      std::string("\"a\0b\"", 5), "-1e-400", "123456789012345678901234567890"};
  for (const auto& c : cases) expect_same(c);
  // Where they differ, on purpose: a NUL byte ends nlohmann's input (it takes what follows
  // unread); RFC 8259 has no such rule. Numbers beyond a double's range are valid JSON.
  EXPECT_FALSE(JsonCheck::is_json(std::string("1\0", 2)));
  EXPECT_FALSE(JsonCheck::is_json(std::string("1\0garbage", 9)));
  EXPECT_TRUE(JsonCheck::is_json("1e400"));
  EXPECT_TRUE(JsonCheck::is_json("[-1e99999]"));
  std::string deep(200, '[');
  deep += std::string(200, ']');
  expect_same(deep);
  expect_same(deep.substr(1));
}

/// A random valid JSON document.
std::string gen(std::mt19937& rng, int depth) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto ws = [&] {
    static const char* w[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    return std::string(w[pick(7)]);
  };
  auto str = [&] {
    static const char* parts[] = {"a", "Zz", " ", "\\\"", "\\\\", "\\/", "\\n", "\\u00e9", "\\ud83d\\ude00",
                                  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "0", "\\t"};
    std::string s = "\"";
    for (int i = pick(5); i > 0; --i) s += parts[pick(14)];
    return s + "\"";
  };
  const int kind = depth > 4 ? pick(4) : pick(6);
  switch (kind) {
    case 0: return str();
    case 1: {
      static const char* nums[] = {"0", "-0", "1", "-12", "3.25", "1e5", "-2.5E-3", "10000000000000000000000", "0.0"};
      return nums[pick(9)];
    }
    case 2: return "true";
    case 3: return pick(2) ? "false" : "null";
    case 4: {
      std::string s = "[" + ws();
      for (int i = pick(4); i > 0; --i) s += gen(rng, depth + 1) + ws() + (i > 1 ? "," + ws() : "");
      return s + "]";
    }
    default: {
      std::string s = "{" + ws();
      for (int i = pick(4); i > 0; --i) s += str() + ws() + ":" + ws() + gen(rng, depth + 1) + ws() + (i > 1 ? "," + ws() : "");
      return s + "}";
    }
  }
}

TEST(JsonCheck, GeneratedDocumentsAndTheirMutations) {
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\",:-+.0123456789eE \t\n\\/utrfalsn\x01\x7f\xc3\xa9\xed\xa0\x80\xf0\x9f\xbf\xef\xbb";
  int valid = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string doc = gen(rng, 0);
    ASSERT_TRUE(JsonCheck::is_json(doc)) << doc;
    expect_same(doc);
    ++valid;
    for (int m = 0; m < 5; ++m) {
      std::string mut = doc;
      const std::size_t at = mut.empty() ? 0 : rng() % mut.size();
      switch (rng() % 4) {
        case 0: if (!mut.empty()) mut.erase(at, 1); break;
        case 1: mut.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: if (!mut.empty()) mut[at] = alphabet[rng() % alphabet.size()]; break;
        default: mut.resize(at); break;
      }
      expect_same(mut);
    }
  }
  EXPECT_EQ(valid, 30000);
}

TEST(JsonCheck, RandomStringsOverJsonCharacters) {
  std::mt19937 rng(777);
  const std::string alphabet = "{}[]\",:-+.01e \\utrfalsn\xc3\xa9\xed\xa0\x80";
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    for (int n = static_cast<int>(rng() % 12); n > 0; --n) s += alphabet[rng() % alphabet.size()];
    expect_same(s);
  }
}

}  // namespace
