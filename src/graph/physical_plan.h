#pragma once
/// The physical plan: every subtask of a job graph as a task with a place to run, and every
/// channel between two tasks with its position at both ends. It is what a coordinator would
/// ship to the processes that run a job; wiring it into tasks, channels and operators is the
/// runtime's part (`runtime::JobRun::build`, which runs every task in this process). Plain
/// data: encoded with `Serde` and shown as JSON.
///
/// Positions are part of the checkpoint format: a channel is named in unaligned checkpoints by
/// (producer task, partition, channel) and (consumer task, gate index), so the order below is
/// fixed — edges in job-graph order; per edge, producer subtasks in order; per producer, its
/// consumer subtasks in order (forward edges: the one with the same index).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graph/job_graph.h"

namespace weir::graph {

struct PhysicalTask {
  int32_t vertex = 0;   ///< index into JobGraph::vertices
  int32_t subtask = 0;
  int32_t worker = 0;   ///< the process it runs in (0 when the job runs in one process)
};

/// The channels one producer task writes on one edge (Flink's result partition).
struct PhysicalPartition {
  int32_t edge = 0;      ///< index into JobGraph::edges (never a chained edge)
  int32_t producer = 0;  ///< index into PhysicalPlan::tasks
  int32_t index = 0;     ///< among the producer's partitions
  std::vector<int32_t> channels;  ///< indexes into PhysicalPlan::channels, by consumer subtask
};

struct PhysicalChannel {
  int32_t partition = 0;  ///< index into PhysicalPlan::partitions
  int32_t index = 0;      ///< within the partition
  int32_t consumer = 0;   ///< index into PhysicalPlan::tasks
  int32_t gate = 0;       ///< among the consumer's input channels
  int32_t input = 0;      ///< which input of the consumer's head operator
};

struct PhysicalPlan {
  int32_t max_parallelism = 128;
  int32_t workers = 1;
  std::vector<PhysicalTask> tasks;           ///< by vertex, then subtask
  std::vector<PhysicalPartition> partitions;
  std::vector<PhysicalChannel> channels;

  /// Task indexes of vertex `v`, by subtask.
  std::vector<int32_t> tasks_of(int32_t vertex) const;
  /// True when the channel's two ends run in different processes.
  bool remote(const PhysicalChannel& c) const;

  std::string encode() const;
  /// Throws SerdeError on malformed bytes and GraphError on a plan that does not hold together.
  static PhysicalPlan decode(std::string_view bytes);
  std::string to_json() const;
  /// Checks the plan's references and positions; throws GraphError naming the first problem.
  void validate() const;
};

/// Lays a job graph out over `workers` processes (subtask s of every vertex goes to worker
/// s % workers, so slot sharing keeps a pipeline's subtasks together).
PhysicalPlan make_physical_plan(const JobGraph& graph, int workers = 1);

}  // namespace weir::graph
