#include "graph/job_graph.h"

#include <algorithm>
#include <functional>
#include <thread>

#include <fmt/format.h>

namespace weir::detail {
const char* partition_kind_name(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kDefault: return "default";
    case PartitionKind::kForward: return "forward";
    case PartitionKind::kRebalance: return "rebalance";
    case PartitionKind::kShuffle: return "shuffle";
    case PartitionKind::kHash: return "hash";
    case PartitionKind::kBroadcast: return "broadcast";
    case PartitionKind::kGlobal: return "global";
    case PartitionKind::kCustom: return "custom";
  }
  return "unknown";
}
}  // namespace weir::detail

namespace weir::graph {
namespace {

using Kind = detail::LogicalNode::Kind;
using detail::PartitionKind;

bool is_physical(Kind k) { return k == Kind::kSource || k == Kind::kOperator || k == Kind::kSink; }

struct PendingEdge {
  int from_logical;
  int input_index;
  PartitionKind partition;
  detail::WriterFactory factory;
  std::string side_tag;
  std::shared_ptr<const detail::TypeOps> type;
};

/// Walks up from a consumer's input through virtual nodes to the physical producers.
void resolve(const detail::LogicalGraph& g, int node, int input_index, PendingEdge acc,
             std::vector<PendingEdge>& out) {
  const auto& n = g.at(node);
  if (!acc.type) acc.type = n.out_type;
  switch (n.kind) {
    case Kind::kSource:
    case Kind::kOperator:
      acc.from_logical = node;
      acc.input_index = input_index;
      out.push_back(std::move(acc));
      return;
    case Kind::kSink:
      throw GraphError("a sink has no output stream");
    case Kind::kPartition:
      if (acc.partition == PartitionKind::kDefault) {  // the partitioning applied last wins
        acc.partition = n.partition;
        acc.factory = n.writer_factory;
      }
      resolve(g, n.inputs.at(0).node, input_index, std::move(acc), out);
      return;
    case Kind::kUnion:
      for (const auto& in : n.inputs) resolve(g, in.node, input_index, acc, out);
      return;
    case Kind::kSideOutput:
      acc.side_tag = n.side_tag;
      resolve(g, n.inputs.at(0).node, input_index, std::move(acc), out);
      return;
  }
}

std::string json_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      r.push_back('\\');
      r.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      r += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      r.push_back(c);
    }
  }
  return r;
}

}  // namespace

int default_parallelism() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

JobGraph build_job_graph(const detail::LogicalGraph& g, const ExecutionConfig& config,
                         const std::string& job_name) {
  JobGraph jg;
  jg.job_name = job_name;
  const int n_logical = static_cast<int>(g.nodes.size());

  // 1. Physical edges, per consumer.
  std::vector<std::vector<PendingEdge>> inputs_of(static_cast<std::size_t>(n_logical));
  for (int id = 0; id < n_logical; ++id) {
    const auto& n = g.at(id);
    if (!is_physical(n.kind)) continue;
    for (const auto& in : n.inputs) {
      PendingEdge acc{-1, in.input_index, PartitionKind::kDefault, {}, {}, nullptr};
      resolve(g, in.node, in.input_index, std::move(acc), inputs_of[static_cast<std::size_t>(id)]);
    }
  }

  // 2. Keep what leads to a sink.
  std::vector<bool> live(static_cast<std::size_t>(n_logical), false);
  bool any_sink = false;
  for (int id = n_logical - 1; id >= 0; --id) {
    const auto& n = g.at(id);
    if (n.kind == Kind::kSink && !n.executed) {
      live[static_cast<std::size_t>(id)] = true;
      any_sink = true;
    }
    if (!live[static_cast<std::size_t>(id)]) continue;
    for (const auto& e : inputs_of[static_cast<std::size_t>(id)]) live[static_cast<std::size_t>(e.from_logical)] = true;
  }
  if (!any_sink) {
    throw GraphError("the job has no sinks: add print(), add_sink(), write_as_text() or collect_async() "
                     "to a stream before execute() (sinks that an earlier execute() ran do not run again)");
  }

  // 3. Physical nodes with their parallelism.
  const int default_p = config.parallelism > 0 ? config.parallelism : default_parallelism();
  std::vector<int> index_of(static_cast<std::size_t>(n_logical), -1);
  int max_p_used = 1;
  for (int id = 0; id < n_logical; ++id) {
    const auto& n = g.at(id);
    if (!is_physical(n.kind) || !live[static_cast<std::size_t>(id)]) continue;
    JobNode jn;
    jn.logical = &n;
    jn.name = n.name;
    jn.parallelism = n.non_parallel ? 1 : (n.parallelism > 0 ? n.parallelism : default_p);
    max_p_used = std::max(max_p_used, jn.parallelism);
    index_of[static_cast<std::size_t>(id)] = static_cast<int>(jg.nodes.size());
    jg.nodes.push_back(std::move(jn));
  }

  // 4. Maximum parallelism (number of key groups).
  if (config.max_parallelism > 0) {
    jg.max_parallelism = config.max_parallelism;
    for (const auto& jn : jg.nodes) {
      if (jn.parallelism > jg.max_parallelism) {
        throw GraphError(fmt::format(
            "operator '{}' has parallelism {} above the maximum parallelism {}; raise "
            "env.set_max_parallelism() or lower the parallelism",
            jn.name, jn.parallelism, jg.max_parallelism));
      }
    }
  } else {
    int m = 128;
    if (max_p_used > 128) {
      m = 1;
      while (m < max_p_used + max_p_used / 2) m <<= 1;
      m = std::min(m, 32768);
    }
    jg.max_parallelism = m;
  }

  // 5. Edges.
  for (int id = 0; id < n_logical; ++id) {
    const int to = index_of[static_cast<std::size_t>(id)];
    if (to < 0) continue;
    for (auto& pe : inputs_of[static_cast<std::size_t>(id)]) {
      JobEdge e;
      e.from = index_of[static_cast<std::size_t>(pe.from_logical)];
      e.to = to;
      e.input_index = pe.input_index;
      e.side_tag = pe.side_tag;
      e.type = pe.type;
      e.writer_factory = pe.factory;
      const auto& from = jg.nodes[static_cast<std::size_t>(e.from)];
      auto& dst = jg.nodes[static_cast<std::size_t>(to)];
      const bool same_p = from.parallelism == dst.parallelism;
      e.partition = pe.partition;
      if (e.partition == PartitionKind::kDefault) {
        e.partition = same_p ? PartitionKind::kForward : PartitionKind::kRebalance;
      }
      if (e.partition == PartitionKind::kForward && !same_p) {
        throw GraphError(fmt::format(
            "forward() from '{}' (parallelism {}) to '{}' (parallelism {}): forward partitioning "
            "needs equal parallelism; use rebalance() or set the same parallelism",
            from.name, from.parallelism, dst.name, dst.parallelism));
      }
      if (e.partition == PartitionKind::kHash) dst.keyed = true;
      const int ei = static_cast<int>(jg.edges.size());
      jg.nodes[static_cast<std::size_t>(e.from)].out_edges.push_back(ei);
      dst.in_edges.push_back(ei);
      jg.edges.push_back(std::move(e));
    }
  }
  for (const auto& jn : jg.nodes) {
    if (jn.logical->kind != Kind::kSource && jn.in_edges.empty()) {
      throw GraphError("operator '" + jn.name + "' has no input");
    }
  }

  // 6. Chains: a node joins its producer's chain over a forward edge of equal parallelism when
  // it has no other input.
  for (int i = 0; i < static_cast<int>(jg.nodes.size()); ++i) {
    auto& jn = jg.nodes[static_cast<std::size_t>(i)];
    using Chaining = detail::LogicalNode::Chaining;
    if (config.chaining && jn.in_edges.size() == 1 && jn.logical->chaining == Chaining::kAlways) {
      auto& e = jg.edges[static_cast<std::size_t>(jn.in_edges[0])];
      const auto& from = jg.nodes[static_cast<std::size_t>(e.from)];
      if (e.partition == PartitionKind::kForward && from.parallelism == jn.parallelism &&
          from.logical->chaining != Chaining::kNever) {
        e.chained = true;
        jn.vertex = from.vertex;
        jg.vertices[static_cast<std::size_t>(jn.vertex)].nodes.push_back(i);
        continue;
      }
    }
    jn.vertex = static_cast<int>(jg.vertices.size());
    JobVertex v;
    v.parallelism = jn.parallelism;
    v.nodes.push_back(i);
    jg.vertices.push_back(std::move(v));
  }
  for (auto& v : jg.vertices) {
    for (std::size_t k = 0; k < v.nodes.size(); ++k) {
      if (k) v.name += " -> ";
      v.name += jg.nodes[static_cast<std::size_t>(v.nodes[k])].name;
    }
  }

  // 7. Records that must be encoded where they leave a task: refuse types without a Serde now,
  // rather than at the first checkpoint or the first batch sent to another process.
  if (config.serializable_edges || config.checkpoint.takes_unaligned_checkpoints()) {
    for (const auto& e : jg.edges) {
      if (e.chained || e.type->serializable()) continue;
      const auto& from = jg.nodes[static_cast<std::size_t>(e.from)];
      const auto& to = jg.nodes[static_cast<std::size_t>(e.to)];
      throw GraphError(fmt::format(
          "records of type '{}' go from '{}' to '{}' between tasks, and {} needs them encoded, but the type "
          "has no weir::Serde: declare one with WEIR_SERDE({}, field, ...) after the type's definition (or "
          "specialise weir::Serde), or keep the two operators chained (same parallelism, no key_by or rebalance "
          "between them)",
          e.type->type_name(), from.name, to.name,
          config.serializable_edges ? "cluster mode (records travel between processes)" : "unaligned checkpointing",
          e.type->type_name()));
    }
  }
  return jg;
}

std::string JobGraph::to_json() const {
  std::string s = fmt::format("{{\"job\":\"{}\",\"max_parallelism\":{},\"vertices\":[", json_escape(job_name),
                              max_parallelism);
  for (std::size_t v = 0; v < vertices.size(); ++v) {
    const auto& jv = vertices[v];
    s += fmt::format("{}{{\"id\":{},\"name\":\"{}\",\"parallelism\":{},\"operators\":[", v ? "," : "", v,
                     json_escape(jv.name), jv.parallelism);
    for (std::size_t k = 0; k < jv.nodes.size(); ++k) {
      const auto& n = nodes[static_cast<std::size_t>(jv.nodes[k])];
      s += fmt::format("{}{{\"name\":\"{}\",\"uid\":\"{}\"}}", k ? "," : "", json_escape(n.name),
                       json_escape(n.logical->uid));
    }
    s += "]}";
  }
  s += "],\"edges\":[";
  bool first = true;
  for (const auto& e : edges) {
    if (e.chained) continue;
    s += fmt::format("{}{{\"from\":{},\"to\":{},\"input\":{},\"partition\":\"{}\"{}}}", first ? "" : ",",
                     nodes[static_cast<std::size_t>(e.from)].vertex, nodes[static_cast<std::size_t>(e.to)].vertex,
                     e.input_index, detail::partition_kind_name(e.partition),
                     e.side_tag.empty() ? "" : fmt::format(",\"side_output\":\"{}\"", json_escape(e.side_tag)));
    first = false;
  }
  s += "]}";
  return s;
}

}  // namespace weir::graph
