#include "graph/physical_plan.h"

#include <map>

#include <gtest/gtest.h>

#include <set>

#include "api/env_access.h"
#include "weir/weir.hpp"

namespace {

weir::graph::JobGraph job_graph(weir::StreamExecutionEnvironment& env) {
  auto& st = weir::detail::EnvAccess::state(env);
  return weir::graph::build_job_graph(st.graph, st.config, "plan");
}

// source(p=2) -> map(p=3, rebalance) -> key_by -> reduce(p=3, hash) -> sink(p=3, chained)
weir::StreamExecutionEnvironment three_vertex_job() {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(3);
  env.from_sequence(1, 100)
      .set_parallelism(2)
      .map([](const int64_t& x) { return x; })
      .key_by([](const int64_t& x) { return x % 7; })
      .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
      .print();
  return env;
}

TEST(PhysicalPlan, HasOneTaskPerSubtaskAndOneChannelPerProducerConsumerPair) {
  auto env = three_vertex_job();
  const auto g = job_graph(env);
  ASSERT_EQ(g.vertices.size(), 3u);
  const auto plan = weir::graph::make_physical_plan(g);
  EXPECT_EQ(plan.tasks.size(), 2u + 3u + 3u);
  // rebalance 2 -> 3 and hash 3 -> 3: all to all.
  EXPECT_EQ(plan.channels.size(), 2u * 3u + 3u * 3u);
  EXPECT_EQ(plan.partitions.size(), 2u + 3u);
  plan.validate();
  // Gate indexes at each consumer are 0..n-1 in plan order.
  std::map<int, int> next_gate;
  for (const auto& c : plan.channels) EXPECT_EQ(c.gate, next_gate[c.consumer]++);
  for (const auto& [task, n] : next_gate) EXPECT_EQ(n, 3 - (plan.tasks[static_cast<std::size_t>(task)].vertex == 1 ? 1 : 0));
}

TEST(PhysicalPlan, ForwardEdgesConnectEqualSubtasksOnly) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(4);
  env.disable_operator_chaining();
  env.from_sequence(1, 10).map([](const int64_t& x) { return x; }).print();
  const auto plan = weir::graph::make_physical_plan(job_graph(env));
  ASSERT_EQ(plan.channels.size(), 8u);  // source -> map -> sink, 4 pairs each
  for (const auto& c : plan.channels) {
    const auto& producer = plan.tasks[static_cast<std::size_t>(plan.partitions[static_cast<std::size_t>(c.partition)].producer)];
    EXPECT_EQ(producer.subtask, plan.tasks[static_cast<std::size_t>(c.consumer)].subtask);
    EXPECT_EQ(c.gate, 0);
  }
}

TEST(PhysicalPlan, EncodesAndDecodesToTheSamePlan) {
  auto env = three_vertex_job();
  const auto plan = weir::graph::make_physical_plan(job_graph(env), 2);
  const auto back = weir::graph::PhysicalPlan::decode(plan.encode());
  EXPECT_EQ(back.encode(), plan.encode());
  EXPECT_EQ(back.to_json(), plan.to_json());
  EXPECT_EQ(back.workers, 2);
}

TEST(PhysicalPlan, SpreadsSubtasksOverWorkersAndMarksChannelsBetweenThemRemote) {
  auto env = three_vertex_job();
  const auto plan = weir::graph::make_physical_plan(job_graph(env), 2);
  std::set<int> workers;
  for (const auto& t : plan.tasks) {
    EXPECT_EQ(t.worker, t.subtask % 2);
    workers.insert(t.worker);
  }
  EXPECT_EQ(workers.size(), 2u);
  int remote = 0;
  for (const auto& c : plan.channels) remote += plan.remote(c) ? 1 : 0;
  EXPECT_GT(remote, 0);
  EXPECT_LT(remote, static_cast<int>(plan.channels.size()));
  const auto local = weir::graph::make_physical_plan(job_graph(env), 1);
  for (const auto& c : local.channels) EXPECT_FALSE(local.remote(c));
}

TEST(PhysicalPlan, DecodeRefusesAPlanWhoseChannelsDoNotHoldTogether) {
  auto env = three_vertex_job();
  auto plan = weir::graph::make_physical_plan(job_graph(env));
  plan.channels[1].gate = 5;
  EXPECT_THROW(weir::graph::PhysicalPlan::decode(plan.encode()), weir::GraphError);
  auto plan2 = weir::graph::make_physical_plan(job_graph(env));
  plan2.channels[0].consumer = 1000;
  EXPECT_THROW(weir::graph::PhysicalPlan::decode(plan2.encode()), weir::GraphError);
  EXPECT_THROW(weir::graph::PhysicalPlan::decode("\\x01garbage"), weir::SerdeError);
}

}  // namespace
