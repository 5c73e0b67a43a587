#include "graph/physical_plan.h"

#include <fmt/format.h>

#include "weir/common/errors.hpp"
#include "weir/serde/serde.hpp"

namespace weir::graph {

WEIR_SERDE(PhysicalTask, vertex, subtask, worker);
WEIR_SERDE(PhysicalPartition, edge, producer, index, channels);
WEIR_SERDE(PhysicalChannel, partition, index, consumer, gate, input);
WEIR_SERDE(PhysicalPlan, max_parallelism, workers, tasks, partitions, channels);

PhysicalPlan make_physical_plan(const JobGraph& graph, int workers) {
  if (workers < 1) throw GraphError("a physical plan needs at least one worker");
  PhysicalPlan plan;
  plan.max_parallelism = graph.max_parallelism;
  plan.workers = workers;
  std::vector<std::vector<int32_t>> tasks_of(graph.vertices.size());
  for (std::size_t v = 0; v < graph.vertices.size(); ++v) {
    for (int s = 0; s < graph.vertices[v].parallelism; ++s) {
      tasks_of[v].push_back(static_cast<int32_t>(plan.tasks.size()));
      plan.tasks.push_back(PhysicalTask{static_cast<int32_t>(v), s, s % workers});
    }
  }
  std::vector<int32_t> partitions_of(plan.tasks.size(), 0);
  std::vector<int32_t> gates_of(plan.tasks.size(), 0);
  for (std::size_t ei = 0; ei < graph.edges.size(); ++ei) {
    const auto& e = graph.edges[ei];
    if (e.chained) continue;
    const auto& producers = tasks_of[static_cast<std::size_t>(graph.nodes[static_cast<std::size_t>(e.from)].vertex)];
    const auto& consumers = tasks_of[static_cast<std::size_t>(graph.nodes[static_cast<std::size_t>(e.to)].vertex)];
    for (std::size_t i = 0; i < producers.size(); ++i) {
      PhysicalPartition part;
      part.edge = static_cast<int32_t>(ei);
      part.producer = producers[i];
      part.index = partitions_of[static_cast<std::size_t>(producers[i])]++;
      const auto pi = static_cast<int32_t>(plan.partitions.size());
      auto connect = [&](std::size_t j) {
        const int32_t consumer = consumers[j];
        part.channels.push_back(static_cast<int32_t>(plan.channels.size()));
        plan.channels.push_back(PhysicalChannel{pi, static_cast<int32_t>(part.channels.size() - 1), consumer,
                                                gates_of[static_cast<std::size_t>(consumer)]++, e.input_index});
      };
      if (e.partition == detail::PartitionKind::kForward) {
        connect(i);
      } else {
        for (std::size_t j = 0; j < consumers.size(); ++j) connect(j);
      }
      plan.partitions.push_back(std::move(part));
    }
  }
  return plan;
}

std::vector<int32_t> PhysicalPlan::tasks_of(int32_t vertex) const {
  std::vector<int32_t> out;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    if (tasks[t].vertex == vertex) out.push_back(static_cast<int32_t>(t));
  }
  return out;
}

bool PhysicalPlan::remote(const PhysicalChannel& c) const {
  const auto& producer = tasks[static_cast<std::size_t>(partitions[static_cast<std::size_t>(c.partition)].producer)];
  return producer.worker != tasks[static_cast<std::size_t>(c.consumer)].worker;
}

void PhysicalPlan::validate() const {
  auto bad = [](const std::string& what) { throw GraphError("physical plan: " + what); };
  if (max_parallelism < 1) bad("max parallelism below 1");
  if (workers < 1) bad("no workers");
  const auto n_tasks = static_cast<int32_t>(tasks.size());
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    if (tasks[t].worker < 0 || tasks[t].worker >= workers) bad(fmt::format("task {} runs on unknown worker {}", t, tasks[t].worker));
  }
  std::vector<int32_t> gates(tasks.size(), 0);
  std::vector<int32_t> parts(tasks.size(), 0);
  for (std::size_t p = 0; p < partitions.size(); ++p) {
    const auto& part = partitions[p];
    if (part.producer < 0 || part.producer >= n_tasks) bad(fmt::format("partition {} has unknown producer {}", p, part.producer));
    if (part.index != parts[static_cast<std::size_t>(part.producer)]++) bad(fmt::format("partition {} is out of order", p));
    for (std::size_t k = 0; k < part.channels.size(); ++k) {
      const int32_t c = part.channels[k];
      if (c < 0 || c >= static_cast<int32_t>(channels.size())) bad(fmt::format("partition {} names unknown channel {}", p, c));
      const auto& ch = channels[static_cast<std::size_t>(c)];
      if (ch.partition != static_cast<int32_t>(p) || ch.index != static_cast<int32_t>(k)) {
        bad(fmt::format("channel {} does not point back to partition {} at {}", c, p, k));
      }
    }
  }
  for (std::size_t c = 0; c < channels.size(); ++c) {
    const auto& ch = channels[c];
    if (ch.consumer < 0 || ch.consumer >= n_tasks) bad(fmt::format("channel {} has unknown consumer {}", c, ch.consumer));
    if (ch.partition < 0 || ch.partition >= static_cast<int32_t>(partitions.size())) {
      bad(fmt::format("channel {} has unknown partition {}", c, ch.partition));
    }
    if (ch.gate != gates[static_cast<std::size_t>(ch.consumer)]++) bad(fmt::format("channel {} is out of order at its consumer", c));
  }
}

std::string PhysicalPlan::encode() const { return serialize(*this); }

PhysicalPlan PhysicalPlan::decode(std::string_view bytes) {
  auto plan = deserialize<PhysicalPlan>(bytes);
  plan.validate();
  return plan;
}

std::string PhysicalPlan::to_json() const {
  std::string s = fmt::format("{{\"max_parallelism\":{},\"workers\":{},\"tasks\":[", max_parallelism, workers);
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    s += fmt::format("{}{{\"vertex\":{},\"subtask\":{},\"worker\":{}}}", t ? "," : "", tasks[t].vertex, tasks[t].subtask,
                     tasks[t].worker);
  }
  s += "],\"channels\":[";
  for (std::size_t c = 0; c < channels.size(); ++c) {
    const auto& ch = channels[c];
    const auto& part = partitions[static_cast<std::size_t>(ch.partition)];
    s += fmt::format("{}{{\"edge\":{},\"producer\":{},\"partition\":{},\"channel\":{},\"consumer\":{},\"gate\":{},\"input\":{}}}",
                     c ? "," : "", part.edge, part.producer, part.index, ch.index, ch.consumer, ch.gate, ch.input);
  }
  s += "]}";
  return s;
}

}  // namespace weir::graph
