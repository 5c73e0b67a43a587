// A user function that throws fails the job: execute() throws JobFailure naming the operator,
// the subtask and the cause; no hang, no leaked thread, no std::terminate.
#include <gtest/gtest.h>
#include <dirent.h>

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
  return raw_thread_count();
}

bool settles_to(int expected) {
  for (int i = 0; i < 100; ++i) {
    if (raw_thread_count() == expected) return true;
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
