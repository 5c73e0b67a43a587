#include "graph/job_graph.h"

#include <gtest/gtest.h>

#include "weir/weir.hpp"

namespace {

struct Env {
  weir::StreamExecutionEnvironment env = weir::StreamExecutionEnvironment::create();
};

TEST(JobGraph, ChainsForwardEdgesOfEqualParallelismIntoOneVertex) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(4);
  env.from_sequence(1, 10).map([](const int64_t& x) { return x; }).filter([](const int64_t&) { return true; }).print();
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("\"vertices\":[{\"id\":0,\"name\":\"Sequence Source -> Map -> Filter -> Print to Std. Out\",\"parallelism\":4"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("\"edges\":[]"), std::string::npos) << plan;
}

TEST(JobGraph, ParallelismChangeBreaksTheChainWithRebalance) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(4);
  env.from_sequence(1, 10).map([](const int64_t& x) { return x; }).set_parallelism(2).print();
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("{\"from\":0,\"to\":1,\"input\":0,\"partition\":\"rebalance\"}"), std::string::npos) << plan;
}

TEST(JobGraph, UnionInputsAreNotChained) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  auto a = env.from_sequence(1, 10);
  auto b = env.from_sequence(1, 10);
  a.union_(b).map([](const int64_t& x) { return x; }).print();
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("\"name\":\"Map -> Print to Std. Out\""), std::string::npos) << plan;
}

TEST(JobGraph, LastPartitioningWins) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_sequence(1, 10).key_by([](const int64_t& x) { return x; }).rebalance().map([](const int64_t& x) { return x; }).print();
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("\"partition\":\"rebalance\""), std::string::npos) << plan;
  EXPECT_EQ(plan.find("\"partition\":\"hash\""), std::string::npos) << plan;
}

TEST(JobGraph, DisabledChainingGivesOneVertexPerOperator) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  env.disable_operator_chaining();
  env.from_sequence(1, 10).map([](const int64_t& x) { return x; }).print();
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("\"partition\":\"forward\""), std::string::npos) << plan;
  EXPECT_NE(plan.find("{\"id\":2,"), std::string::npos) << plan;
}

TEST(JobGraph, DisableChainingAndStartNewChainSplitChainsAsInFlink) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_sequence(1, 10).name("src")
      .map([](const int64_t& x) { return x; }).name("a").disable_chaining()
      .map([](const int64_t& x) { return x; }).name("b")
      .map([](const int64_t& x) { return x; }).name("c").start_new_chain()
      .map([](const int64_t& x) { return x; }).name("d")
      .print().name("sink");
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("\"name\":\"src\""), std::string::npos) << plan;
  EXPECT_NE(plan.find("\"name\":\"a\""), std::string::npos) << plan;
  EXPECT_NE(plan.find("\"name\":\"b\""), std::string::npos) << plan;
  EXPECT_NE(plan.find("\"name\":\"c -> d -> sink\""), std::string::npos) << plan;
}

TEST(JobGraph, OperatorsThatReachNoSinkAreDropped) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto s = env.from_sequence(1, 10);
  s.map([](const int64_t& x) { return x; }).name("unused");
  s.print();
  const std::string plan = env.get_execution_plan();
  EXPECT_EQ(plan.find("unused"), std::string::npos) << plan;
}

TEST(JobGraph, MaxParallelismGrowsWithParallelismWhenUnset) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(200);
  env.from_sequence(1, 10).print();
  EXPECT_NE(env.get_execution_plan().find("\"max_parallelism\":512"), std::string::npos);
}

}  // namespace

namespace serializable_edges {

struct Opaque {  // no WEIR_SERDE: cannot be encoded
  int64_t v = 0;
};

weir::StreamExecutionEnvironment job_with_opaque_records_between_tasks() {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_sequence(1, 10)
      .map([](const int64_t& x) { return Opaque{x}; })
      .name("to opaque")
      .rebalance()
      .map([](const Opaque& o) { return o.v; })
      .name("from opaque")
      .print();
  return env;
}

TEST(JobGraph, UnalignedCheckpointsRefuseRecordsWithoutSerdeBetweenTasksAtBuildTime) {
  auto env = job_with_opaque_records_between_tasks();
  env.enable_checkpointing(100);
  env.get_checkpoint_config().enable_unaligned_checkpoints();
  try {
    (void)env.get_execution_plan();
    FAIL() << "expected a GraphError";
  } catch (const weir::GraphError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Opaque"), std::string::npos) << m;
    EXPECT_NE(m.find("'to opaque'"), std::string::npos) << m;
    EXPECT_NE(m.find("'from opaque'"), std::string::npos) << m;
    EXPECT_NE(m.find("WEIR_SERDE"), std::string::npos) << m;
    EXPECT_NE(m.find("unaligned"), std::string::npos) << m;
  }
}

TEST(JobGraph, ASerialisingModeRefusesRecordsWithoutSerdeBetweenTasks) {
  auto env = job_with_opaque_records_between_tasks();
  env.get_config().serializable_edges = true;
  EXPECT_THROW((void)env.get_execution_plan(), weir::GraphError);
}

TEST(JobGraph, RecordsWithoutSerdeAreFineInProcessAndWhenChained) {
  // Aligned checkpoints move batches as objects: no encoding needed.
  auto aligned = job_with_opaque_records_between_tasks();
  aligned.enable_checkpointing(100);
  EXPECT_NO_THROW((void)aligned.get_execution_plan());
  // Chained: the opaque records never leave their task, even in a serialising mode.
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.get_config().serializable_edges = true;
  env.from_sequence(1, 10)
      .map([](const int64_t& x) { return Opaque{x}; })
      .map([](const Opaque& o) { return o.v; })
      .print();
  EXPECT_NO_THROW((void)env.get_execution_plan());
}

}  // namespace serializable_edges
