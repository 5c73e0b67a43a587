#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The logical graph the DataStream API builds: one node per transformation, typed edges
/// captured in type-erased objects. Submission turns it into a job graph (chains) and a
/// physical plan (src/graph), from which the runtime builds the tasks.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "weir/runtime/internal/operator.hpp"
#include "weir/runtime/internal/partition.hpp"

namespace weir::detail {

/// How records travel over an edge between two tasks.
enum class PartitionKind {
  kDefault,    ///< forward when both sides have the same parallelism, else rebalance
  kForward,    ///< subtask i to subtask i; both sides must have the same parallelism
  kRebalance,  ///< round robin
  kShuffle,    ///< uniformly random
  kHash,       ///< by key group of the key (key_by)
  kBroadcast,  ///< every record to every subtask
  kGlobal,     ///< every record to subtask 0
  kCustom,     ///< a user partitioner
};
const char* partition_kind_name(PartitionKind kind);

/// Makes the writer of a hash or custom edge, typed when the edge was declared.
using WriterFactory = std::function<std::unique_ptr<runtime::OutputBase>(
    runtime::ResultPartitionWriter* partition, int max_parallelism)>;

/// What the runtime needs to know about a record type to wire typed edges.
class TypeOps {
 public:
  virtual ~TypeOps() = default;
  virtual std::type_index type() const = 0;
  virtual std::unique_ptr<runtime::OutputBase> chained(runtime::InputBase* next,
                                                       runtime::StreamOperator* next_op,
                                                       int input_index) const = 0;
  virtual std::unique_ptr<runtime::OutputBase> fan_out(std::vector<runtime::OutputBase*> outs) const = 0;
  virtual std::unique_ptr<runtime::OutputBase> discard() const = 0;
  virtual std::unique_ptr<runtime::OutputBase> writer(PartitionKind kind,
                                                      runtime::ResultPartitionWriter* partition) const = 0;
  virtual std::unique_ptr<runtime::BatchConsumer> consumer(runtime::InputBase* input) const = 0;
  /// True when the records have a `weir::Serde`, so batches of them can be encoded (unaligned
  /// checkpoints store them; channels between processes send them).
  virtual bool serializable() const = 0;
  /// A readable name of the record type, for error messages.
  virtual std::string type_name() const = 0;
  /// The inverse of `BatchBase::encode`: a batch of the records in `bytes` (a varint count,
  /// then per record its `Serde` encoding and a fixed int64 timestamp). Throws SerdeError on
  /// malformed bytes (truncated, a count that cannot fit, trailing bytes) and StateError when
  /// the type has no `weir::Serde`; both messages name the type.
  virtual std::unique_ptr<runtime::BatchBase> decode_batch(std::string_view bytes) const = 0;
};

template <class T>
class TypedOps final : public TypeOps {
 public:
  std::type_index type() const override { return typeid(T); }
  bool serializable() const override { return SerdeType<T>; }
  std::string type_name() const override { return cpp_type_name<T>(); }
  std::unique_ptr<runtime::BatchBase> decode_batch(std::string_view bytes) const override {
    if constexpr (SerdeType<T>) {
      try {
        ByteReader r(bytes);
        // Every record takes at least its 8-byte timestamp: a corrupt count cannot make us
        // reserve more than the bytes could hold.
        const std::size_t n = r.read_length(sizeof(int64_t));
        auto batch = std::make_unique<runtime::Batch<T>>(n);
        for (std::size_t i = 0; i < n; ++i) {
          T v = Serde<T>::read(r);
          const auto ts = r.read_fixed<int64_t>();
          batch->append(std::move(v), ts);
        }
        if (!r.at_end()) {
          throw SerdeError("trailing bytes: " + std::to_string(r.remaining()) + " bytes left after " +
                           std::to_string(n) + " records at offset " + std::to_string(r.offset()));
        }
        return batch;
      } catch (const SerdeError& e) {
        throw SerdeError("cannot decode a batch of " + cpp_type_name<T>() + ": " + e.what());
      }
    } else {
      (void)bytes;
      throw StateError("cannot decode a batch of " + cpp_type_name<T>() +
                       ": the type has no weir::Serde; declare one (WEIR_SERDE)");
    }
  }
  std::unique_ptr<runtime::OutputBase> chained(runtime::InputBase* next, runtime::StreamOperator* next_op,
                                               int input_index) const override {
    return std::make_unique<runtime::ChainedOutput<T>>(static_cast<runtime::Input<T>*>(next), next_op,
                                                       input_index);
  }
  std::unique_ptr<runtime::OutputBase> fan_out(std::vector<runtime::OutputBase*> outs) const override {
    std::vector<runtime::Output<T>*> typed;
    for (auto* o : outs) typed.push_back(static_cast<runtime::Output<T>*>(o));
    return std::make_unique<runtime::FanOutOutput<T>>(std::move(typed));
  }
  std::unique_ptr<runtime::OutputBase> discard() const override {
    return std::make_unique<runtime::DiscardOutput<T>>();
  }
  std::unique_ptr<runtime::OutputBase> writer(PartitionKind kind,
                                              runtime::ResultPartitionWriter* p) const override {
    const auto seed = static_cast<uint64_t>(p->producer_subtask());
    switch (kind) {
      case PartitionKind::kBroadcast:
        return std::make_unique<runtime::BroadcastWriter<T>>(p);
      case PartitionKind::kGlobal:  // channel 0 is subtask 0
        return std::make_unique<runtime::RecordWriter<T, runtime::ForwardSelector>>(p, runtime::ForwardSelector{});
      case PartitionKind::kShuffle:
        return std::make_unique<runtime::RecordWriter<T, runtime::RandomSelector>>(
            p, runtime::RandomSelector{0x9E3779B97F4A7C15ull ^ (seed * 0xBF58476D1CE4E5B9ull + 1)});
      case PartitionKind::kRebalance:
        return std::make_unique<runtime::RecordWriter<T, runtime::RoundRobinSelector>>(
            p, runtime::RoundRobinSelector{static_cast<int>(seed % static_cast<uint64_t>(p->num_channels()))});
      default:
        return std::make_unique<runtime::RecordWriter<T, runtime::ForwardSelector>>(p, runtime::ForwardSelector{});
    }
  }
  std::unique_ptr<runtime::BatchConsumer> consumer(runtime::InputBase* input) const override {
    return std::make_unique<runtime::TypedBatchConsumer<T>>(static_cast<runtime::Input<T>*>(input));
  }
};

template <class T>
std::shared_ptr<const TypeOps> type_ops() {
  static const auto ops = std::make_shared<const TypedOps<T>>();
  return ops;
}

/// One transformation of the logical graph.
struct LogicalNode {
  enum class Kind {
    kSource,      ///< makes records; head of a task
    kOperator,    ///< one or two inputs, one output (plus side outputs)
    kSink,        ///< consumes records, no output
    kPartition,   ///< virtual: sets how records reach the consumer (key_by, rebalance, ...)
    kUnion,       ///< virtual: several upstreams of one type
    kSideOutput,  ///< virtual: the side output `side_tag` of its upstream
  };
  struct Input {
    int node;         ///< upstream node id
    int input_index;  ///< which input of this node it feeds (0, or 1 for connect)
  };

  int id = 0;
  Kind kind = Kind::kOperator;
  std::string name;
  std::string uid;
  int parallelism = 0;        ///< 0: the environment's default
  bool non_parallel = false;  ///< a source that runs with parallelism 1 only
  enum class Chaining { kAlways, kHead, kNever };  ///< as Flink's ChainingStrategy
  Chaining chaining = Chaining::kAlways;
  std::vector<Input> inputs;
  std::shared_ptr<const TypeOps> out_type;
  std::function<std::unique_ptr<runtime::StreamOperator>()> factory;
  /// The buffer timeout of this operator's output to other tasks, in microseconds; -2: the
  /// environment's (set with DataStream::set_buffer_timeout).
  int64_t buffer_timeout_us = -2;

  // kPartition
  PartitionKind partition = PartitionKind::kDefault;
  WriterFactory writer_factory;  ///< kHash / kCustom
  // kSideOutput
  std::string side_tag;
  // operators that can emit side outputs (process functions)
  bool side_outputs_allowed = false;
  /// A sink that an earlier `execute()` ran: later jobs of the environment leave it out (its
  /// upstream nodes stay usable, as in Flink, where a stream may feed jobs after the first).
  bool executed = false;
  std::map<std::string, std::type_index> side_output_types;
};

/// All transformations declared on one environment, in declaration order (a topological order).
struct LogicalGraph {
  std::vector<std::shared_ptr<LogicalNode>> nodes;

  LogicalNode& add(LogicalNode::Kind kind, std::string name) {
    auto n = std::make_shared<LogicalNode>();
    n->id = static_cast<int>(nodes.size());
    n->kind = kind;
    n->name = std::move(name);
    nodes.push_back(n);
    return *n;
  }
  LogicalNode& at(int id) { return *nodes.at(static_cast<std::size_t>(id)); }
  const LogicalNode& at(int id) const { return *nodes.at(static_cast<std::size_t>(id)); }
};

}  // namespace weir::detail
