// A user function that throws fails the job: execute() throws JobFailure naming the operator,
// the subtask and the cause; no hang, no leaked thread, no std::terminate.
#include <gtest/gtest.h>
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "weir/weir.hpp"

namespace {

int raw_thread_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}

/// Threads of this process. A joined thread can linger in /proc for a moment, and sanitizers
/// start a helper thread with the first thread; so warm up once and let the count settle.
int thread_count() {
  static const bool warmed = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)warmed;
  // The same count three times 10 ms apart (at most a second): ending threads have left.
  int n = raw_thread_count();
  for (int same = 0, i = 0; same < 2 && i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int m = raw_thread_count();
    same = m == n ? same + 1 : 0;
    n = m;
  }
  return n;
}

/// Whether the count falls to `before` or below within a second: no thread the job started
/// outlives it. (Below: a thread that was ending when `before` was read, such as the warm-up
/// thread, has left /proc since.)
bool settles_to(int before) {
  for (int i = 0; i < 100; ++i) {
    if (raw_thread_count() <= before) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string failure_of(weir::StreamExecutionEnvironment& env) {
  try {
    env.execute("failing job");
  } catch (const weir::JobFailure& e) {
    return e.what();
  }
  return "";
}

class Failure : public ::testing::TestWithParam<int> {};

TEST_P(Failure, ThrowingMapFailsJobWithOperatorSubtaskAndCause) {
  const int threads_before = thread_count();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam());
  env.from_sequence(1, 1'000'000)
      .map([](const int64_t& x) {
        if (x == 777'777) throw std::runtime_error("bad record 777777");
        return x;
      })
      .name("parse")
      .rebalance()
      .add_sink([](const int64_t&) {});
  const std::string msg = failure_of(env);
  EXPECT_NE(msg.find("operator 'parse'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(subtask "), std::string::npos) << msg;
  EXPECT_NE(msg.find("/" + std::to_string(GetParam()) + ")"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad record 777777"), std::string::npos) << msg;
  EXPECT_TRUE(settles_to(threads_before)) << "worker threads outlived the job: " << raw_thread_count() << " vs "
                                         << threads_before;
}

TEST_P(Failure, ThrowingSinkAfterKeyByFailsJobWithSinkName) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam());
  env.from_sequence(1, 100'000)
      .key_by([](const int64_t& x) { return x % 7; })
      .add_sink([](const int64_t& x) {
        if (x == 5000) throw std::invalid_argument("sink refused 5000");
      })
      .name("strict-sink");
  const std::string msg = failure_of(env);
  EXPECT_NE(msg.find("operator 'strict-sink'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sink refused 5000"), std::string::npos) << msg;
}

TEST_P(Failure, ThrowingGeneratorAndKeySelectorAreReported) {
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(GetParam());
    env.from_generator(1000, [](int64_t i) {
         if (i == 500) throw std::runtime_error("generator broke");
         return i;
       })
        .name("gen")
        .print();
    const std::string msg = failure_of(env);
    EXPECT_NE(msg.find("operator 'gen'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("generator broke"), std::string::npos) << msg;
  }
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(GetParam());
    env.from_sequence(1, 1000)
        .flat_map([](const int64_t& x, weir::Collector<int64_t>& out) {
          out.collect(x);
          if (x == 999) throw std::out_of_range("flat_map gave up");
        })
        .name("explode")
        .key_by([](const int64_t& x) { return x; })
        .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
        .print();
    const std::string msg = failure_of(env);
    EXPECT_NE(msg.find("operator 'explode'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("flat_map gave up"), std::string::npos) << msg;
  }
}

TEST_P(Failure, ExceptionInDownstreamChainedOperatorNamesThatOperator) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam());
  env.from_sequence(1, 1000)
      .flat_map([](const int64_t& x, weir::Collector<int64_t>& out) { out.collect(x); })
      .name("upstream")
      .map([](const int64_t& x) -> int64_t {
        if (x == 10) throw std::runtime_error("downstream broke");
        return x;
      })
      .name("downstream")
      .print();
  const std::string msg = failure_of(env);
  EXPECT_NE(msg.find("operator 'downstream'"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("operator 'upstream'"), std::string::npos) << msg;
}

TEST_P(Failure, FailureWhileDownstreamIsBackpressuredDoesNotHang) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam());
  env.from_sequence(1, 100'000'000)
      .rebalance()
      .add_sink([](const int64_t& x) {
        std::this_thread::sleep_for(std::chrono::microseconds(1));
        if (x > 20'000) throw std::runtime_error("slow sink failed");
      })
      .name("slow");
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = failure_of(env);
  EXPECT_NE(msg.find("slow sink failed"), std::string::npos) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Failure, ::testing::Values(1, 2, 4));

TEST(Cancel, CancelStopsAnUnboundedJobAndWaitReportsIt) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_generator(std::numeric_limits<int64_t>::max() / 4, [](int64_t i) { return i % 1000; })
      .key_by([](const int64_t& x) { return x % 100; })
      .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
      .add_sink([](const int64_t&) {});
  auto client = env.execute_async("endless");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(client.get_job_status(), weir::JobStatus::running);
  client.cancel();
  EXPECT_THROW(client.wait(), weir::JobFailure);
  EXPECT_EQ(client.get_job_status(), weir::JobStatus::canceled);
}

TEST(Cancel, DroppingTheClientOfARunningJobCancelsItAndJoinsThreads) {
  const int before = thread_count();
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.from_generator(std::numeric_limits<int64_t>::max() / 4, [](int64_t i) { return i; }).add_sink([](const int64_t&) {});
    auto client = env.execute_async("dropped");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(settles_to(before)) << raw_thread_count() << " vs " << before;
}

}  // namespace

namespace {

TEST(Restart, FixedDelayRestartsTheJobAndTheSecondAttemptCompletes) {
  for (int p : {1, 2, 4}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, std::chrono::milliseconds(10)));
    struct FailOnce {
      int attempt = 0;
      void open(weir::RuntimeContext& rc) { attempt = rc.get_attempt_number(); }
      int64_t operator()(const int64_t& x) const {
        if (attempt == 0 && x == 5000) throw std::runtime_error("first attempt fails");
        return x * 2;
      }
    };
    auto h = env.from_sequence(1, 10'000).map(FailOnce{}).name("flaky").collect_async();
    auto client = env.execute_async("restarting");
    client.wait();
    EXPECT_EQ(client.get_restart_count(), 1);
    EXPECT_EQ(client.get_job_status(), weir::JobStatus::finished);
    auto got = h.get();
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got.size(), 10'000u) << "the failed attempt's partial output is not kept";
    EXPECT_EQ(got.front(), 2);
    EXPECT_EQ(got.back(), 20'000);
  }
}

TEST(Restart, GivesUpAfterTheAllowedAttemptsWithTheRootCause) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(2, std::chrono::milliseconds(1)));
  env.from_sequence(1, 100).map([](const int64_t& x) -> int64_t {
    if (x == 50) throw std::runtime_error("always fails");
    return x;
  }).name("broken").print();
  try {
    env.execute("doomed");
    FAIL();
  } catch (const weir::JobFailure& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(after 2 restarts)"), std::string::npos) << m;
    EXPECT_NE(m.find("operator 'broken'"), std::string::npos) << m;
    EXPECT_NE(m.find("always fails"), std::string::npos) << m;
  }
}

TEST(Restart, CancelDuringTheRestartDelayEndsTheJob) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(5, std::chrono::seconds(60)));
  env.from_sequence(1, 10).map([](const int64_t&) -> int64_t { throw std::runtime_error("x"); }).print();
  auto client = env.execute_async("waiting");
  for (int i = 0; i < 500 && client.get_job_status() != weir::JobStatus::restarting; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(client.get_job_status(), weir::JobStatus::restarting);
  const auto start = std::chrono::steady_clock::now();
  client.cancel();
  EXPECT_THROW(client.wait(), weir::JobFailure);
  EXPECT_EQ(client.get_job_status(), weir::JobStatus::canceled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Restart, StrategiesDecideAsFlinkDocuments) {
  auto none = weir::RestartStrategy::no_restart();
  EXPECT_FALSE(none.on_failure(0));

  auto fixed = weir::RestartStrategy::fixed_delay(2, std::chrono::milliseconds(7));
  EXPECT_EQ(fixed.on_failure(0), 7);
  EXPECT_EQ(fixed.on_failure(1), 7);
  EXPECT_FALSE(fixed.on_failure(2));

  // at most 2 failures per 100 ms
  auto rate = weir::RestartStrategy::failure_rate(2, std::chrono::milliseconds(100), std::chrono::milliseconds(5));
  EXPECT_EQ(rate.on_failure(0), 5);
  EXPECT_EQ(rate.on_failure(50), 5);
  EXPECT_FALSE(rate.on_failure(60)) << "a third failure within 100 ms";
  auto rate2 = weir::RestartStrategy::failure_rate(2, std::chrono::milliseconds(100), std::chrono::milliseconds(5));
  EXPECT_TRUE(rate2.on_failure(0));
  EXPECT_TRUE(rate2.on_failure(50));
  EXPECT_TRUE(rate2.on_failure(150)) << "the first failure has left the interval";

  auto exp = weir::RestartStrategy::exponential_delay(std::chrono::milliseconds(10), std::chrono::milliseconds(50), 2.0,
                                                       std::chrono::milliseconds(1000));
  EXPECT_EQ(exp.on_failure(0), 10);
  EXPECT_EQ(exp.on_failure(10), 20);
  EXPECT_EQ(exp.on_failure(20), 40);
  EXPECT_EQ(exp.on_failure(30), 50);
  EXPECT_EQ(exp.on_failure(5000), 10) << "a long quiet period resets the backoff";
}

}  // namespace

namespace {

TEST(Restart, CancelWhileTheJobIsFailingDoesNotRestartIt) {
  // An unbounded job whose one subtask fails and whose others are slow to stop: a cancel that
  // arrives while the job is failing must end it, not let it restart.
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(100, std::chrono::milliseconds(0)));
  struct SlowToStop {
    int subtask = 0;
    void open(weir::RuntimeContext& rc) { subtask = rc.get_index_of_this_subtask(); }
    int64_t operator()(const int64_t& x) const {
      if (subtask == 0 && x > 1000) throw std::runtime_error("boom");
      if (subtask == 1) std::this_thread::sleep_for(std::chrono::microseconds(200));
      return x;
    }
  };
  env.from_generator(std::numeric_limits<int64_t>::max() / 4, [](int64_t i) { return i; }).map(SlowToStop{}).add_sink([](const int64_t&) {});
  auto client = env.execute_async("cancel while failing");
  for (int i = 0; i < 2000 && client.get_job_status() == weir::JobStatus::running; ++i) std::this_thread::sleep_for(std::chrono::microseconds(100));
  client.cancel();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(client.wait(), weir::JobFailure);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(client.get_job_status(), weir::JobStatus::canceled);
}

}  // namespace
