#pragma once
/// DataStream, KeyedStream, ConnectedStreams: the typed, fluent job API (Flink's DataStream API
/// in snake_case). A stream is a handle on a node of its environment's logical graph; copying
/// it is cheap and every copy refers to the same node.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/api/functions.hpp"
#include "weir/api/internal/operators.hpp"
#include "weir/api/internal/text_sink_operators.hpp"
#include "weir/api/job.hpp"
#include "weir/api/internal/keyed_process_operator.hpp"
#include "weir/api/internal/source_operator.hpp"
#include "weir/api/source.hpp"
#include "weir/api/traits.hpp"
#include "weir/api/two_phase_commit.hpp"
#include "weir/api/write_mode.hpp"
#include "weir/runtime/internal/logical_graph.hpp"
#include "weir/serde/text.hpp"

namespace weir {

class StreamExecutionEnvironment;
template <class T, class K>
class KeyedStream;
template <class T1, class T2>
class ConnectedStreams;
template <class T1, class T2, class K>
class KeyedConnectedStreams;
template <class T, class K, class A>
class WindowedStream;
class GlobalWindows;
template <class L, class R, class K>
class IntervalJoin;
template <class L, class R, bool kJoin>
class CoGroupedStreams;
template <class T>
class BroadcastStream;
template <class IN1, class IN2, class K>
class BroadcastConnectedStream;

namespace detail {
/// A buffer timeout given in milliseconds as Flink takes it (-1: only full batches, 0: every
/// record), in microseconds (-1 for only full batches). `where` names the call in the error.
inline std::chrono::microseconds buffer_timeout_of_ms(int64_t timeout_ms, const std::string& where) {
  if (timeout_ms < -1) {
    throw GraphError("set_buffer_timeout(" + std::to_string(timeout_ms) + ")" + where +
                     ": the timeout must be -1 (only full batches), 0 (every record) or a number of milliseconds");
  }
  return timeout_ms < 0 ? std::chrono::microseconds(-1) : std::chrono::milliseconds(timeout_ms);
}

/// The parallelism a node runs at as written in the logical graph (0: the environment's
/// default). Repartitionings and side outputs run at their producer's parallelism, a union at
/// its first input's (as Flink's transformations report it).
inline int declared_parallelism(const LogicalGraph& g, int id) {
  const LogicalNode& n = g.at(id);
  if (n.non_parallel) return 1;
  switch (n.kind) {
    case LogicalNode::Kind::kPartition:
    case LogicalNode::Kind::kUnion:
    case LogicalNode::Kind::kSideOutput:
      return n.inputs.empty() ? n.parallelism : declared_parallelism(g, n.inputs.front().node);
    default:
      return n.parallelism;
  }
}

/// Opens (creating directories) the file a text sink subtask writes. Throws OperatorFailure.
std::string open_text_sink_file(const std::string& op_name, const std::string& path, WriteMode mode,
                                int subtask, int parallelism, std::ofstream& out);

template <class T>
void TextFileSinkOperator<T>::open() {
  file_ = open_text_sink_file(this->name(), path_, mode_, this->task_info().subtask,
                              this->task_info().parallelism, out_);
}

}  // namespace detail

/// The result of `print()`, `add_sink()`, `write_as_text()`: name it, set its parallelism.
class DataStreamSink {
 public:
  DataStreamSink(std::shared_ptr<detail::EnvState> env, int node) : env_(std::move(env)), node_(node) {}
  DataStreamSink& name(std::string n) {
    env_->graph.at(node_).name = std::move(n);
    return *this;
  }
  DataStreamSink& uid(std::string u) {
    env_->graph.at(node_).uid = std::move(u);
    return *this;
  }
  DataStreamSink& set_parallelism(int p) {
    if (p < 1) throw GraphError("set_parallelism(" + std::to_string(p) + ") on sink '" + env_->graph.at(node_).name + "': parallelism must be at least 1");
    auto& n = env_->graph.at(node_);
    if (n.non_parallel && p != 1) throw GraphError("sink '" + n.name + "' runs with parallelism 1 only");
    n.parallelism = p;
    return *this;
  }

 private:
  std::shared_ptr<detail::EnvState> env_;
  int node_;
};

/// The records gathered by `collect_async()`, available once the job has finished.
template <class T>
class CollectHandle {
 public:
  explicit CollectHandle(std::shared_ptr<detail::CollectBuffer<T>> b) : buffer_(std::move(b)) {}
  /// Every record the stream produced. Throws if the job has not finished successfully.
  std::vector<T> get() const {
    std::lock_guard lock(buffer_->mu);
    if (!buffer_->finished) {
      throw JobFailure("collect_async(): the job that feeds this handle has not finished; call env.execute() first");
    }
    return buffer_->records;
  }

 private:
  std::shared_ptr<detail::CollectBuffer<T>> buffer_;
};

/// A stream of records of type T.
template <class T>
class DataStream {
 public:
  using value_type = T;

  DataStream(std::shared_ptr<detail::EnvState> env, int node)
      : env_(std::move(env)), node_(node) {}

  /// The id of this stream's node in the logical graph.
  int get_id() const { return node_; }
  const std::string& get_name() const { return node().name; }
  int get_parallelism() const {
    const auto& n = node();
    return n.parallelism > 0 ? n.parallelism : env_->config.parallelism;
  }

  // ---- properties of the operator that produces this stream -------------------------------

  /// Sets the parallelism of the operator that produces this stream.
  DataStream& set_parallelism(int parallelism) {
    auto& n = node();
    if (parallelism < 1) {
      throw GraphError("set_parallelism(" + std::to_string(parallelism) + ") on '" + n.name +
                       "': parallelism must be at least 1");
    }
    if (n.kind == detail::LogicalNode::Kind::kPartition || n.kind == detail::LogicalNode::Kind::kUnion ||
        n.kind == detail::LogicalNode::Kind::kSideOutput) {
      throw GraphError("set_parallelism on '" + n.name +
                       "': this stream is a repartitioning, union or side output, not an operator; set "
                       "the parallelism on the operator that produces or consumes it");
    }
    if (n.non_parallel && parallelism != 1) {
      throw GraphError("set_parallelism(" + std::to_string(parallelism) + ") on '" + n.name +
                       "': this source is not parallel and runs with parallelism 1");
    }
    if (env_->config.max_parallelism > 0 && parallelism > env_->config.max_parallelism) {
      throw GraphError("set_parallelism(" + std::to_string(parallelism) + ") on '" + n.name +
                       "': above the maximum parallelism " + std::to_string(env_->config.max_parallelism) +
                       "; raise it with env.set_max_parallelism()");
    }
    n.parallelism = parallelism;
    return *this;
  }
  /// Names the operator (shown in errors, logs, metrics).
  DataStream& name(std::string name) {
    node().name = std::move(name);
    return *this;
  }
  /// A stable id for the operator, matched when restoring savepoints.
  DataStream& uid(std::string uid) {
    node().uid = std::move(uid);
    return *this;
  }
  /// The buffer timeout of this operator's output to other tasks, in milliseconds (as
  /// `StreamExecutionEnvironment::set_buffer_timeout`: 0 every record, -1 only full batches).
  DataStream& set_buffer_timeout(int64_t timeout_ms) {
    auto& n = operator_node("set_buffer_timeout");
    n.buffer_timeout_us = detail::buffer_timeout_of_ms(timeout_ms, " on '" + n.name + "'").count();
    return *this;
  }
  /// Runs the operator in a task of its own: chained to neither its producer nor its consumers.
  DataStream& disable_chaining() {
    operator_node("disable_chaining").chaining = detail::LogicalNode::Chaining::kNever;
    return *this;
  }
  /// Starts a new chain at this operator (its consumers may still chain to it).
  DataStream& start_new_chain() {
    operator_node("start_new_chain").chaining = detail::LogicalNode::Chaining::kHead;
    return *this;
  }

  // ---- transformations ---------------------------------------------------------------------

  /// One output per input: `U f(const T&)`.
  template <class F>
  auto map(F f) const {
    static_assert(std::is_invocable_v<F&, const T&>, "map: the function must be callable as U(const T&)");
    using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
    static_assert(!std::is_void_v<U>, "map: the function must return a value");
    return add_one_input<U>("Map", [f] { return std::make_unique<detail::MapOperator<T, U, F>>(f); });
  }

  /// Keeps the records for which `bool f(const T&)` holds.
  template <class F>
  DataStream<T> filter(F f) const {
    static_assert(std::is_invocable_r_v<bool, const F&, const T&>,
                  "filter: the function must be callable as bool(const T&)");
    return add_one_input<T>("Filter", [f] { return std::make_unique<detail::FilterOperator<T, F>>(f); });
  }

  /// Zero or more outputs per input: `void f(const T&, weir::Collector<U>&)`.
  template <class U = void, class F>
  auto flat_map(F f) const {
    using Out = std::conditional_t<std::is_void_v<U>, detail::flat_map_output_t<F>, U>;
    static_assert(!std::is_void_v<Out>,
                  "flat_map: cannot deduce the output type; write the parameter as weir::Collector<U>& "
                  "or call flat_map<U>(f)");
    static_assert(std::is_invocable_v<const F&, const T&, Collector<Out>&>,
                  "flat_map: the function must be callable as void(const T&, weir::Collector<U>&)");
    return add_one_input<Out>("Flat Map", [f] { return std::make_unique<detail::FlatMapOperator<T, Out, F>>(f); });
  }

  /// Runs a `weir::ProcessFunction<T, OUT>` subclass (copied per subtask). The result may
  /// have side outputs: `get_side_output(tag)`.
  template <class PF>
  auto process(PF f) const {
    static_assert(std::is_base_of_v<ProcessFunction<T, typename PF::output_type>, PF>,
                  "process: the function must derive from weir::ProcessFunction<T, OUT> with T the "
                  "stream's type");
    using OUT = typename PF::output_type;
    auto s = add_one_input<OUT>("Process", [f] { return std::make_unique<detail::ProcessOperator<T, OUT, PF>>(f); });
    env_->graph.at(s.get_id()).side_outputs_allowed = true;
    return s;
  }

  /// Sets each record's event timestamp and generates watermarks with `strategy` (one generator
  /// per subtask). Watermarks from upstream are replaced by the new ones.
  DataStream<T> assign_timestamps_and_watermarks(WatermarkStrategy<T> strategy) const {
    auto s = add_one_input<T>("Timestamps/Watermarks", [strategy] {
      return std::make_unique<detail::TimestampsAndWatermarksOperator<T>>(strategy);
    });
    // As Flink's: at the input's parallelism, over a forward edge that keeps the records' order.
    env_->graph.at(s.get_id()).parallelism = detail::declared_parallelism(env_->graph, node_);
    return s;
  }

  /// Partitions by key: every record of a key goes to the same subtask. `K f(const T&)`, where
  /// K has a weir::Serde (WEIR_SERDE for structs), `==`, and no floating-point value. Returns a
  /// `KeyedStream<T, K>`. A selector that throws fails the job naming this step ("Key By").
  template <class F>
  auto key_by(F key_selector) const;

  /// Window join: `join(other).where(k1).equal_to(k2).window(assigner).apply(f)`.
  template <class U>
  CoGroupedStreams<T, U, true> join(const DataStream<U>& other) const;
  /// Window co-group: as join, with `apply(g(vector<T>, vector<U>, Collector<OUT>&))`.
  template <class U>
  CoGroupedStreams<T, U, false> co_group(const DataStream<U>& other) const;

  /// Windows over the whole stream, evaluated by one subtask (Flink's windowAll).
  template <class A>
  WindowedStream<T, uint8_t, A> window_all(A assigner) const;
  /// Count windows over the whole stream (one subtask).
  WindowedStream<T, uint8_t, GlobalWindows> count_window_all(int64_t size) const;

  /// Round-robin over the downstream subtasks.
  DataStream<T> rebalance() const { return partition(detail::PartitionKind::kRebalance, "Rebalance"); }
  /// Uniformly random over the downstream subtasks.
  DataStream<T> shuffle() const { return partition(detail::PartitionKind::kShuffle, "Shuffle"); }
  /// Every record to every downstream subtask.
  DataStream<T> broadcast() const { return partition(detail::PartitionKind::kBroadcast, "Broadcast"); }
  /// Broadcasts this stream for the broadcast state pattern: connect it to another stream and
  /// write it into the broadcast state named by `descriptors` in `process_broadcast_element`.
  template <class... D>
  BroadcastStream<T> broadcast(const D&...) const {
    return BroadcastStream<T>(broadcast());
  }
  /// Connects with a broadcast stream (BroadcastProcessFunction).
  template <class U>
  BroadcastConnectedStream<T, U, void*> connect(const BroadcastStream<U>& other) const {
    check_same_env(other.stream());
    return BroadcastConnectedStream<T, U, void*>(*this, other, {});
  }
  /// Every record to the first downstream subtask.
  DataStream<T> global() const { return partition(detail::PartitionKind::kGlobal, "Global"); }
  /// Subtask i to subtask i; the downstream must have the same parallelism.
  DataStream<T> forward() const { return partition(detail::PartitionKind::kForward, "Forward"); }
  /// Records go to `partitioner(key_selector(record), num_partitions)`.
  template <class P, class KF>
    requires std::invocable<const KF&, const T&>
  DataStream<T> partition_custom(P partitioner, KF key_selector) const {
    using K = key_type_t<KF, T>;
    static_assert(std::is_invocable_r_v<int, const P&, const K&, int>,
                  "partition_custom: the partitioner must be callable as int(const K& key, int num_partitions)");
    auto& n = add_virtual(detail::LogicalNode::Kind::kPartition, "Custom Partition");
    n.partition = detail::PartitionKind::kCustom;
    n.writer_factory = [partitioner, key_selector](runtime::ResultPartitionWriter* p, int) {
      using Sel = runtime::CustomSelector<KF, P>;
      return std::unique_ptr<runtime::OutputBase>(
          std::make_unique<runtime::RecordWriter<T, Sel>>(p, Sel{key_selector, partitioner}));
    };
    return DataStream<T>(env_, n.id);
  }

  /// Merges streams of the same type.
  template <class... S>
  DataStream<T> union_(const S&... others) const {
    static_assert((std::is_base_of_v<DataStream<T>, S> && ...), "union_: every stream must have the same type");
    auto& n = add_virtual(detail::LogicalNode::Kind::kUnion, "Union");
    (check_same_env(others), ...);
    (n.inputs.push_back({others.get_id(), 0}), ...);
    return DataStream<T>(env_, n.id);
  }

  /// Pairs this stream with another, for `map(f1, f2)` / `flat_map(g1, g2)`.
  template <class U>
  ConnectedStreams<T, U> connect(const DataStream<U>& other) const;

  /// The side output `tag` of this stream's process function.
  template <class U>
  DataStream<U> get_side_output(const OutputTag<U>& tag) const {
    auto& n = node();
    if (!n.side_outputs_allowed) {
      throw GraphError("get_side_output('" + tag.id() + "') on '" + n.name +
                       "': only the result of process() (or a window operator) has side outputs; emit "
                       "with ctx.output(tag, value) in a ProcessFunction");
    }
    auto [it, inserted] = n.side_output_types.emplace(tag.id(), std::type_index(typeid(U)));
    if (!inserted && it->second != std::type_index(typeid(U))) {
      throw GraphError("get_side_output('" + tag.id() + "') on '" + n.name +
                       "': the tag was already used with another type; one id, one type");
    }
    const int upstream = node_;
    auto& s = env_->graph.add(detail::LogicalNode::Kind::kSideOutput, "Side Output " + tag.id());
    s.inputs.push_back({upstream, 0});
    s.side_tag = tag.id();
    s.out_type = detail::type_ops<U>();
    return DataStream<U>(env_, s.id);
  }

  // ---- sinks --------------------------------------------------------------------------------

  /// Prints every record to standard output, prefixed "k> " by subtask when parallel.
  DataStreamSink print(std::string sink_identifier = "") const {
    return add_sink_node("Print to Std. Out", [sink_identifier] {
      return std::make_unique<detail::PrintSinkOperator<T>>(sink_identifier);
    });
  }
  /// Calls `f(const T&)` for every record; `f` may have `open(RuntimeContext&)`, `finish()`,
  /// `close()`.
  template <class F>
  DataStreamSink add_sink(F f) const {
    static_assert(std::is_invocable_v<F&, const T&>, "add_sink: the function must be callable as void(const T&)");
    return add_sink_node("Sink", [f] { return std::make_unique<detail::SinkOperator<T, F>>(f); });
  }
  /// Writes into an exactly-once sink (a `TwoPhaseCommitSink`, e.g. `FileSink<T>`).
  template <class S>
  DataStreamSink sink_to(S sink) const {
    using TXN = typename S::transaction_type;
    static_assert(std::is_base_of_v<TwoPhaseCommitSink<T, TXN>, S>,
                  "sink_to: the sink must derive from weir::TwoPhaseCommitSink<T, TXN> (e.g. weir::FileSink<T>)");
    static_assert(SerdeType<TXN>, "sink_to: the sink's transaction type needs a weir::Serde (it is checkpointed)");
    return add_sink_node("Two-Phase Commit Sink", [sink] {
      return std::make_unique<detail::TwoPhaseCommitSinkOperator<T, TXN, S>>(sink);
    });
  }
  /// Writes one line per record to `path` (a directory of files 1..n when the sink's
  /// parallelism is above 1).
  DataStreamSink write_as_text(std::string path, WriteMode mode = WriteMode::no_overwrite) const {
    return add_sink_node("Text File Sink", [path, mode] {
      return std::make_unique<detail::TextFileSinkOperator<T>>(path, mode);
    });
  }
  /// Gathers every record; read them with `get()` after `env.execute()`.
  CollectHandle<T> collect_async() const {
    auto buffer = std::make_shared<detail::CollectBuffer<T>>();
    auto sink = add_sink_node("Collect Sink", [buffer] {
      return std::make_unique<detail::CollectSinkOperator<T>>(buffer);
    });
    sink.set_parallelism(1);
    return CollectHandle<T>(buffer);
  }
  /// Runs the environment's job and returns every record of this stream.
  std::vector<T> execute_and_collect(const std::string& job_name = "DataStream Collect") const {
    auto handle = collect_async();
    detail::submit_job(*env_, job_name).wait();
    return handle.get();
  }

  StreamExecutionEnvironment get_execution_environment() const;

  /// The logical node behind this stream (for test harnesses and tools).
  const detail::LogicalNode& logical_node() const { return node(); }
  /// The environment's state (for the API's own builders).
  detail::EnvState& get_execution_environment_state() const { return *env_; }

 protected:
  detail::LogicalNode& node() const {
    return env_->graph.at(node_);
  }

  template <class U, class Factory>
  DataStream<U> add_one_input(std::string name, Factory factory) const {
    auto& n = env_->graph.add(detail::LogicalNode::Kind::kOperator, std::move(name));
    n.inputs.push_back({node_, 0});
    n.out_type = detail::type_ops<U>();
    n.factory = std::move(factory);
    return DataStream<U>(env_, n.id);
  }

  detail::LogicalNode& operator_node(const char* what) const {
    auto& n = node();
    if (n.kind == detail::LogicalNode::Kind::kPartition || n.kind == detail::LogicalNode::Kind::kUnion ||
        n.kind == detail::LogicalNode::Kind::kSideOutput) {
      throw GraphError(std::string(what) + " on '" + n.name +
                       "': this stream is a repartitioning, union or side output, not an operator");
    }
    return n;
  }

  detail::LogicalNode& add_virtual(detail::LogicalNode::Kind kind, std::string name) const {
    node();
    auto& n = env_->graph.add(kind, std::move(name));
    n.inputs.push_back({node_, 0});
    n.out_type = detail::type_ops<T>();
    return n;
  }

  DataStream<T> partition(detail::PartitionKind kind, std::string name) const {
    auto& n = add_virtual(detail::LogicalNode::Kind::kPartition, std::move(name));
    n.partition = kind;
    return DataStream<T>(env_, n.id);
  }

  template <class Factory>
  DataStreamSink add_sink_node(std::string name, Factory factory) const {
    node();
    auto& n = env_->graph.add(detail::LogicalNode::Kind::kSink, std::move(name));
    n.inputs.push_back({node_, 0});
    n.factory = std::move(factory);
    return DataStreamSink(env_, n.id);
  }

  template <class S>
  void check_same_env(const S& other) const {
    if (other.env_.get() != env_.get()) {
      throw GraphError("streams from different environments cannot be combined");
    }
    other.node();
  }

  template <class>
  friend class DataStream;
  template <class, class>
  friend class ConnectedStreams;
  template <class, class, class>
  friend class KeyedConnectedStreams;
  template <class, class>
  friend class KeyedStream;
  template <class, class, class>
  friend class WindowedStream;

  std::shared_ptr<detail::EnvState> env_;
  int node_;
};

/// A stream partitioned by key (the result of `key_by`). Operators applied to it see every
/// record of a key on the same subtask.
template <class T, class K>
class KeyedStream : public DataStream<T> {
 public:
  using key_type = K;

  template <class F>
  KeyedStream(std::shared_ptr<detail::EnvState> env, int node, F key_selector)
      : DataStream<T>(std::move(env), node), key_selector_(std::move(key_selector)) {}

  /// Emits, for every record, the running reduction of its key: `T f(const T& acc, const T& v)`.
  template <class F>
  DataStream<T> reduce(F f) const {
    static_assert(std::is_invocable_r_v<T, const F&, const T&, const T&>,
                  "reduce: the function must be callable as T(const T& accumulated, const T& value)");
    auto key = key_selector_;
    return this->template add_one_input<T>("Keyed Reduce", [key, f] {
      return std::make_unique<detail::KeyedReduceOperator<T, K, std::function<K(const T&)>, F>>(key, f);
    });
  }

  /// Runs a `weir::KeyedProcessFunction<K, T, OUT>` subclass: keyed state, timers, the key.
  /// (A plain ProcessFunction also works, as on any stream.)
  template <class PF>
  auto process(PF f) const {
    if constexpr (std::is_base_of_v<KeyedProcessFunction<K, T, typename PF::output_type>, PF>) {
      using OUT = typename PF::output_type;
      auto key = key_selector_;
      auto s = this->template add_one_input<OUT>("Keyed Process", [key, f] {
        return std::make_unique<detail::KeyedProcessOperator<K, T, OUT, std::function<K(const T&)>, PF>>(key, f);
      });
      this->env_->graph.at(s.get_id()).side_outputs_allowed = true;
      return s;
    } else {
      static_assert(std::is_base_of_v<ProcessFunction<T, typename PF::output_type>, PF>,
                    "process: on a keyed stream the function must derive from weir::KeyedProcessFunction<K, T, OUT> "
                    "(K the key type, T the stream's type) or weir::ProcessFunction<T, OUT>");
      return DataStream<T>::process(std::move(f));
    }
  }

  /// Connects two keyed streams with the same key type: `process(KeyedCoProcessFunction)` sees
  /// both inputs of a key with shared keyed state and timers.
  template <class U>
  KeyedConnectedStreams<T, U, K> connect(const KeyedStream<U, K>& other) const;
  using DataStream<T>::connect;
  /// Connects with a broadcast stream (KeyedBroadcastProcessFunction: keyed state and timers).
  template <class U>
  BroadcastConnectedStream<T, U, K> connect(const BroadcastStream<U>& other) const {
    this->check_same_env(other.stream());
    return BroadcastConnectedStream<T, U, K>(*this, other, key_selector_);
  }

  /// Interval join with another keyed stream of the same key type.
  template <class U>
  IntervalJoin<T, U, K> interval_join(const KeyedStream<U, K>& other) const;

  /// Windows per key: `window(TumblingEventTimeWindows::of(1s))`, sliding, session, global.
  template <class A>
  WindowedStream<T, K, A> window(A assigner) const;
  /// Tumbling count windows of `size` elements per key.
  WindowedStream<T, K, GlobalWindows> count_window(int64_t size) const;
  /// Sliding count windows: the last `size` elements, every `slide` elements.
  WindowedStream<T, K, GlobalWindows> count_window(int64_t size, int64_t slide) const;

  /// The key selector, as `K(const T&)`.
  const std::function<K(const T&)>& get_key_selector() const { return key_selector_; }

 private:
  std::function<K(const T&)> key_selector_;
};

namespace detail {

/// The key selector of a hash edge, run by the producer's writer. An exception it throws fails
/// the producer's task naming the key_by step (`step`, read when the job is built), not the
/// operator that emitted the record.
template <class F>
struct BlamedKeySelector {
  F f;
  std::string step;
  template <class T>
  decltype(auto) operator()(const T& v) const {
    try {
      return std::invoke(f, v);  // a function, or a member pointer (key_by(&Login::user))
    } catch (const std::exception& e) {
      throw OperatorFailure(step, std::string("key_by: the key selector threw: ") + e.what());
    } catch (...) {
      throw OperatorFailure(step, "key_by: the key selector threw an exception that is not a std::exception");
    }
  }
};

}  // namespace detail

template <class T>
template <class F>
auto DataStream<T>::key_by(F key_selector) const {
  if constexpr (detail::check_key_selector<F, T>()) {
    using K = key_type_t<F, T>;
    auto& n = add_virtual(detail::LogicalNode::Kind::kPartition, "Key By");
    n.partition = detail::PartitionKind::kHash;
    std::weak_ptr<const detail::LogicalNode> self = env_->graph.nodes.at(static_cast<std::size_t>(n.id));
    n.writer_factory = [key_selector, self](runtime::ResultPartitionWriter* p, int max_parallelism) {
      const auto node = self.lock();
      using Key = detail::BlamedKeySelector<F>;
      using Sel = runtime::KeyGroupSelector<Key>;
      Key key{key_selector, node ? node->name : std::string("Key By")};
      return std::unique_ptr<runtime::OutputBase>(
          std::make_unique<runtime::RecordWriter<T, Sel>>(p, Sel{std::move(key), max_parallelism}));
    };
    return KeyedStream<T, K>(env_, n.id, key_selector);
  }
}

/// Two streams processed by one operator with two inputs (`connect`).
template <class T1, class T2>
class ConnectedStreams {
 public:
  ConnectedStreams(DataStream<T1> first, DataStream<T2> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  const DataStream<T1>& get_first_input() const { return first_; }
  const DataStream<T2>& get_second_input() const { return second_; }

  /// `OUT f1(const T1&)` for the first stream, `OUT f2(const T2&)` for the second.
  template <class F1, class F2>
  auto map(F1 f1, F2 f2) const {
    static_assert(std::is_invocable_v<const F1&, const T1&>, "map: the first function must be callable as OUT(const T1&)");
    static_assert(std::is_invocable_v<const F2&, const T2&>, "map: the second function must be callable as OUT(const T2&)");
    using OUT = std::decay_t<std::invoke_result_t<const F1&, const T1&>>;
    static_assert(std::is_convertible_v<std::invoke_result_t<const F2&, const T2&>, OUT>,
                  "map: both functions must return the same type");
    return add<OUT>("Co-Map", [f1, f2] { return std::make_unique<detail::CoMapOperator<T1, T2, OUT, F1, F2>>(f1, f2); });
  }

  /// `void g1(const T1&, Collector<OUT>&)`, `void g2(const T2&, Collector<OUT>&)`.
  template <class U = void, class G1, class G2>
  auto flat_map(G1 g1, G2 g2) const {
    using OUT = std::conditional_t<std::is_void_v<U>, detail::flat_map_output_t<G1>, U>;
    static_assert(!std::is_void_v<OUT>,
                  "flat_map: cannot deduce the output type; write the parameter as weir::Collector<U>& "
                  "or call flat_map<U>(g1, g2)");
    static_assert(std::is_invocable_v<const G1&, const T1&, Collector<OUT>&> &&
                      std::is_invocable_v<const G2&, const T2&, Collector<OUT>&>,
                  "flat_map: the functions must be callable as void(const T1&, Collector<OUT>&) and "
                  "void(const T2&, Collector<OUT>&)");
    return add<OUT>("Co-Flat Map",
                    [g1, g2] { return std::make_unique<detail::CoFlatMapOperator<T1, T2, OUT, G1, G2>>(g1, g2); });
  }

 public:
  /// Adds a two-input operator (for the API's own builders).
  template <class OUT, class Factory>
  DataStream<OUT> add_public(std::string name, Factory factory) const {
    return add<OUT>(std::move(name), std::move(factory));
  }

 protected:
  template <class OUT, class Factory>
  DataStream<OUT> add(std::string name, Factory factory) const {
    first_.node();
    second_.node();
    auto& env = first_.env_;
    auto& n = env->graph.add(detail::LogicalNode::Kind::kOperator, std::move(name));
    n.inputs.push_back({first_.get_id(), 0});
    n.inputs.push_back({second_.get_id(), 1});
    n.out_type = detail::type_ops<OUT>();
    n.factory = std::move(factory);
    return DataStream<OUT>(env, n.id);
  }

  DataStream<T1> first_;
  DataStream<T2> second_;
};

template <class T>
template <class U>
ConnectedStreams<T, U> DataStream<T>::connect(const DataStream<U>& other) const {
  check_same_env(other);
  return ConnectedStreams<T, U>(*this, other);
}

/// Two keyed streams with the same key type, connected.
template <class T1, class T2, class K>
class KeyedConnectedStreams : public ConnectedStreams<T1, T2> {
 public:
  KeyedConnectedStreams(KeyedStream<T1, K> first, KeyedStream<T2, K> second)
      : ConnectedStreams<T1, T2>(first, second), k1_(first.get_key_selector()), k2_(second.get_key_selector()) {}

  /// Runs a `weir::KeyedCoProcessFunction<K, T1, T2, OUT>` subclass.
  template <class PF>
  auto process(PF f) const {
    using OUT = typename PF::output_type;
    static_assert(std::is_base_of_v<KeyedCoProcessFunction<K, T1, T2, OUT>, PF>,
                  "process: the function must derive from weir::KeyedCoProcessFunction<K, T1, T2, OUT>");
    auto k1 = k1_;
    auto k2 = k2_;
    auto s = this->template add<OUT>("Keyed Co-Process", [k1, k2, f] {
      using KF1 = std::function<K(const T1&)>;
      using KF2 = std::function<K(const T2&)>;
      return std::make_unique<detail::KeyedCoProcessOperator<K, T1, T2, OUT, KF1, KF2, PF>>(k1, k2, f);
    });
    this->get_first_input().env_->graph.at(s.get_id()).side_outputs_allowed = true;
    return s;
  }

 private:
  std::function<K(const T1&)> k1_;
  std::function<K(const T2&)> k2_;
};

template <class T, class K>
template <class U>
KeyedConnectedStreams<T, U, K> KeyedStream<T, K>::connect(const KeyedStream<U, K>& other) const {
  this->check_same_env(other);
  return KeyedConnectedStreams<T, U, K>(*this, other);
}

}  // namespace weir
