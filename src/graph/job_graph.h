#pragma once
/// The job graph: the logical graph with virtual nodes (key_by, union, side outputs) resolved
/// into typed edges, parallelism fixed, and operators chained into vertices (one task per
/// vertex and subtask). Built once per job on the submitting thread; read-only afterwards.
#include <memory>
#include <string>
#include <vector>

#include "weir/runtime/internal/logical_graph.hpp"
#include "weir/runtime/execution.hpp"

namespace weir::graph {

struct JobEdge {
  int from = 0;          ///< index into JobGraph::nodes
  int to = 0;            ///< index into JobGraph::nodes
  int input_index = 0;   ///< which input of `to`
  detail::PartitionKind partition = detail::PartitionKind::kForward;
  detail::WriterFactory writer_factory;  ///< hash / custom
  std::string side_tag;  ///< empty: the main output
  std::shared_ptr<const detail::TypeOps> type;  ///< records on this edge
  bool chained = false;
};

struct JobNode {
  const detail::LogicalNode* logical = nullptr;
  std::string name;
  int parallelism = 1;
  bool keyed = false;  ///< has a hash-partitioned input
  std::vector<int> in_edges;
  std::vector<int> out_edges;
  int vertex = -1;
};

struct JobVertex {
  std::string name;          ///< "a -> b -> c"
  int parallelism = 1;
  std::vector<int> nodes;    ///< chain members in topological order; nodes[0] is the head
};

struct JobGraph {
  std::string job_name;
  int max_parallelism = 128;
  std::vector<JobNode> nodes;
  std::vector<JobEdge> edges;
  std::vector<JobVertex> vertices;

  /// JSON description: vertices with their operators and parallelism, and the edges.
  std::string to_json() const;
};

/// Builds the job graph. Throws GraphError with a message that says what to do when the graph
/// is invalid (no sinks, forward between different parallelisms, parallelism above the
/// maximum, ...).
JobGraph build_job_graph(const detail::LogicalGraph& graph, const ExecutionConfig& config,
                         const std::string& job_name);

/// The parallelism used when neither the operator nor the environment sets one.
int default_parallelism();

}  // namespace weir::graph
