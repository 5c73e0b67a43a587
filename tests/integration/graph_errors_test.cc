#include <atomic>
// Misuse fails when the graph is built, with a message that says what to do.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "weir/weir.hpp"

namespace {

template <class F>
std::string graph_error(F f) {
  try {
    f();
  } catch (const weir::GraphError& e) {
    return e.what();
  }
  return "no GraphError";
}

TEST(GraphErrors, ParallelismBelowOneIsRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  EXPECT_NE(graph_error([&] { env.set_parallelism(0); }).find("at least 1"), std::string::npos);
  auto s = env.from_sequence(1, 10).map([](const int64_t& x) { return x; });
  EXPECT_NE(graph_error([&] { s.set_parallelism(-2); }).find("at least 1"), std::string::npos);
}

TEST(GraphErrors, MaxParallelismBelowParallelismIsRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_max_parallelism(8);
  auto s = env.from_sequence(1, 10).map([](const int64_t& x) { return x; });
  EXPECT_NE(graph_error([&] { s.set_parallelism(16); }).find("maximum parallelism 8"), std::string::npos);

  auto env2 = weir::StreamExecutionEnvironment::create();
  env2.set_parallelism(16);
  env2.set_max_parallelism(8);
  env2.from_sequence(1, 10).key_by([](const int64_t& x) { return x; }).reduce([](const int64_t& a, const int64_t&) { return a; }).print();
  const auto msg = graph_error([&] { env2.execute(); });
  EXPECT_NE(msg.find("above the maximum parallelism 8"), std::string::npos) << msg;
}

TEST(GraphErrors, SideOutputOfAStreamWithoutProcessFunctionIsRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto s = env.from_sequence(1, 10).map([](const int64_t& x) { return x; });
  const auto msg = graph_error([&] { s.get_side_output(weir::OutputTag<std::string>("late")); });
  EXPECT_NE(msg.find("only the result of process()"), std::string::npos) << msg;
}

struct Pass : weir::ProcessFunction<int64_t, int64_t> {
  void process_element(const int64_t& x, Context&, weir::Collector<int64_t>& out) override { out.collect(x); }
};

TEST(GraphErrors, SideOutputTagUsedWithTwoTypesIsRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto s = env.from_sequence(1, 10).process(Pass{});
  s.get_side_output(weir::OutputTag<std::string>("x"));
  const auto msg = graph_error([&] { s.get_side_output(weir::OutputTag<int64_t>("x")); });
  EXPECT_NE(msg.find("another type"), std::string::npos) << msg;
}

TEST(GraphErrors, ForwardBetweenDifferentParallelismIsRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_sequence(1, 10).forward().map([](const int64_t& x) { return x; }).set_parallelism(3).print();
  const auto msg = graph_error([&] { env.execute(); });
  EXPECT_NE(msg.find("forward partitioning needs equal parallelism"), std::string::npos) << msg;
}

TEST(GraphErrors, JobWithoutSinkIsRejected) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.from_sequence(1, 10).map([](const int64_t& x) { return x; });
  EXPECT_NE(graph_error([&] { env.execute(); }).find("no sinks"), std::string::npos);
}

TEST(GraphErrors, NonParallelSourceRejectsParallelism) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto s = env.from_collection(std::vector<int>{1, 2});
  EXPECT_NE(graph_error([&] { s.set_parallelism(2); }).find("not parallel"), std::string::npos);
}

TEST(GraphErrors, PartitioningHasNoParallelismOfItsOwn) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto k = env.from_sequence(1, 10).key_by([](const int64_t& x) { return x; });
  EXPECT_NE(graph_error([&] { k.set_parallelism(2); }).find("not an operator"), std::string::npos);
}

TEST(GraphErrors, StreamsOfAnExecutedJobFeedTheNextJobWithoutRerunningItsSinks) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto s = env.from_sequence(1, 10);
  std::atomic<int> first{0}, second{0};
  s.add_sink([&](const int64_t&) { ++first; });
  env.execute();
  s.map([](const int64_t& x) { return x * 2; }).add_sink([&](const int64_t& x) { second += static_cast<int>(x); });
  env.execute();
  EXPECT_EQ(first.load(), 10);    // the first job's sink did not run again
  EXPECT_EQ(second.load(), 110);  // the second job read the source again
  EXPECT_NE(graph_error([&] { env.execute(); }).find("no sinks"), std::string::npos);
}


TEST(GraphErrors, TimeEvictorRejectsANegativeSize) {
  using namespace std::chrono_literals;
  const auto msg = graph_error([] { weir::TimeEvictor::of(-5ms); });
  EXPECT_NE(msg.find("TimeEvictor::of(-5ms): the size must not be negative"), std::string::npos) << msg;
  EXPECT_EQ(graph_error([] { weir::TimeEvictor::of(0ms); }), "no GraphError");
}

TEST(GraphErrors, WindowAssignerErrorsNameTheClassThatWasCalled) {
  using namespace std::chrono_literals;
  struct Case {
    std::string msg;
    std::string cls;
  };
  const std::vector<Case> cases{
      {graph_error([] { weir::TumblingProcessingTimeWindows::of(0ms); }), "TumblingProcessingTimeWindows::of"},
      {graph_error([] { weir::TumblingProcessingTimeWindows::of(10ms, 10ms); }), "TumblingProcessingTimeWindows::of"},
      {graph_error([] { weir::TumblingEventTimeWindows::of(-1ms); }), "TumblingEventTimeWindows::of"},
      {graph_error([] { weir::SlidingProcessingTimeWindows::of(10ms, 0ms); }), "SlidingProcessingTimeWindows::of"},
      {graph_error([] { weir::SlidingProcessingTimeWindows::of(10ms, 5ms, 5ms); }), "SlidingProcessingTimeWindows::of"},
      {graph_error([] { weir::SlidingEventTimeWindows::of(0ms, 5ms); }), "SlidingEventTimeWindows::of"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.msg.rfind(c.cls, 0), 0u) << c.msg;
    if (c.cls.find("Processing") != std::string::npos) {
      EXPECT_EQ(c.msg.find("EventTime"), std::string::npos) << c.msg;
    }
  }
}

TEST(GraphErrors, AThrowingKeySelectorIsBlamedOnTheKeyByNotTheSource) {
  for (int p : {1, 2}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    env.from_sequence(1, 1000)
        .name("numbers")
        .key_by([](const int64_t& x) -> int64_t {
          if (x == 500) throw std::runtime_error("no key for 500");
          return x % 7;
        })
        .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
        .add_sink([](const int64_t&) {});
    std::string msg = "no JobFailure";
    try {
      env.execute();
    } catch (const weir::JobFailure& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find("operator 'Key By'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("key_by: the key selector threw: no key for 500"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("numbers"), std::string::npos) << "the source is not to blame: " << msg;
  }
}

}  // namespace
