#pragma once
/// StreamExecutionEnvironment: where a job is declared, configured and run.
#include <concepts>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "weir/api/datastream.hpp"

namespace weir {

namespace detail {
/// Sources implemented in the library (src/connectors/).
std::unique_ptr<runtime::StreamOperator> make_text_file_source(std::string path);
/// A source's `bad_record_policy()`, for sources that have one (connectors); `fail` otherwise.
template <class S>
BadRecordPolicy bad_record_policy_of(const S& source) {
  if constexpr (requires { { source.bad_record_policy() } -> std::convertible_to<BadRecordPolicy>; }) {
    return source.bad_record_policy();
  } else {
    return BadRecordPolicy::fail();
  }
}
}  // namespace detail

/// The context a streaming job is declared in and run from. Embedded: `execute()` runs the job
/// in this process on a pool of worker threads. Copies share one state.
class StreamExecutionEnvironment {
 public:
  /// A new environment that runs jobs in this process.
  static StreamExecutionEnvironment create() { return StreamExecutionEnvironment(); }
  static StreamExecutionEnvironment get_execution_environment() { return create(); }

  /// Default parallelism of operators (default: the hardware threads).
  StreamExecutionEnvironment& set_parallelism(int parallelism) {
    if (parallelism < 1) {
      throw GraphError("set_parallelism(" + std::to_string(parallelism) + "): parallelism must be at least 1");
    }
    state_->config.parallelism = parallelism;
    return *this;
  }
  int get_parallelism() const { return state_->config.parallelism; }

  /// Number of key groups, the upper bound of any keyed operator's parallelism (default 128,
  /// or more when an operator's parallelism is above 128).
  StreamExecutionEnvironment& set_max_parallelism(int max_parallelism) {
    if (max_parallelism < 1 || max_parallelism > 32768) {
      throw GraphError("set_max_parallelism(" + std::to_string(max_parallelism) +
                       "): the maximum parallelism must be in [1, 32768]");
    }
    state_->config.max_parallelism = max_parallelism;
    return *this;
  }
  int get_max_parallelism() const { return state_->config.max_parallelism > 0 ? state_->config.max_parallelism : 128; }

  /// Threads that run the tasks of a job (default: the hardware threads).
  StreamExecutionEnvironment& set_worker_threads(int threads) {
    if (threads < 1) throw GraphError("set_worker_threads: at least 1 thread is needed");
    state_->config.worker_threads = threads;
    return *this;
  }
  /// Turns off operator chaining: every operator runs in its own task.
  StreamExecutionEnvironment& disable_operator_chaining() {
    state_->config.chaining = false;
    return *this;
  }
  ExecutionConfig& get_config() { return state_->config; }

  /// The longest a partly filled output batch waits before it is sent downstream, in
  /// milliseconds (Flink's setBufferTimeout): 0 sends each record at once (lowest latency),
  /// -1 only full batches (throughput mode: a batch also leaves when its task's input runs dry
  /// or before a watermark or barrier). Default 0.25 ms; see the overload for sub-millisecond values.
  StreamExecutionEnvironment& set_buffer_timeout(int64_t timeout_ms) {
    state_->config.buffer_timeout = detail::buffer_timeout_of_ms(timeout_ms, "");
    return *this;
  }
  /// `set_buffer_timeout` with a finer unit, e.g. `std::chrono::microseconds(100)`; a negative
  /// duration means only full batches.
  StreamExecutionEnvironment& set_buffer_timeout(std::chrono::microseconds timeout) {
    state_->config.buffer_timeout = timeout.count() < 0 ? std::chrono::microseconds(-1) : timeout;
    return *this;
  }
  /// The buffer timeout (negative: only full batches).
  std::chrono::microseconds get_buffer_timeout() const { return state_->config.buffer_timeout; }

  // ---- sources -----------------------------------------------------------------------------

  /// The elements, in order, from one subtask (parallelism 1).
  template <class T>
  DataStream<T> from_collection(std::vector<T> items) {
    auto shared = std::make_shared<const std::vector<T>>(std::move(items));
    auto& n = add_source<T>("Collection Source", [shared] {
      return std::make_unique<detail::CollectionSource<T>>(shared);
    });
    n.non_parallel = true;
    n.parallelism = 1;
    return DataStream<T>(state_, n.id);
  }
  /// `from_collection` of the arguments.
  template <class T, class... R>
  DataStream<T> from_elements(T first, R... rest) {
    return from_collection(std::vector<T>{std::move(first), static_cast<T>(std::move(rest))...});
  }
  /// The numbers from..to (both included), split evenly over the parallel subtasks.
  DataStream<int64_t> from_sequence(int64_t from, int64_t to) {
    if (to < from) throw GraphError("from_sequence(" + std::to_string(from) + ", " + std::to_string(to) + "): 'to' must not be below 'from'");
    if (static_cast<__int128>(to) - from + 1 > std::numeric_limits<int64_t>::max()) {
      throw GraphError("from_sequence(" + std::to_string(from) + ", " + std::to_string(to) +
                       "): the range holds more than 2^63-1 numbers");
    }
    auto gen = [from](int64_t i) { return from + i; };
    auto& n = add_source<int64_t>("Sequence Source", [count = to - from + 1, gen] {
      return std::make_unique<detail::GeneratorSource<int64_t, decltype(gen)>>(count, gen);
    });
    return DataStream<int64_t>(state_, n.id);
  }
  /// `f(i)` for i in [0, count), split evenly over the parallel subtasks; deterministic per index.
  template <class F>
  auto from_generator(int64_t count, F f) {
    static_assert(std::is_invocable_v<const F&, int64_t>, "from_generator: the function must be callable as T(int64_t index)");
    using T = std::decay_t<std::invoke_result_t<const F&, int64_t>>;
    if (count < 0) throw GraphError("from_generator: the count must not be negative");
    auto& n = add_source<T>("Generator Source", [count, f] {
      return std::make_unique<detail::GeneratorSource<T, F>>(count, f);
    });
    return DataStream<T>(state_, n.id);
  }
  /// Reads a split source with a watermark generator per split (Flink's `fromSource`): a
  /// `Source<T>` (fixed splits) or an `EnumeratedSource<T, Split>` (splits assigned while the
  /// job runs by its enumerator).
  template <class S>
  auto from_source(S source, WatermarkStrategy<typename S::value_type> strategy, std::string source_name) {
    using T = typename S::value_type;
    if constexpr (std::is_base_of_v<Source<T>, S>) {
      const BadRecordPolicy policy = detail::bad_record_policy_of(source);
      auto shared = std::make_shared<const S>(std::move(source));
      auto& n = add_source<T>(std::move(source_name), [shared, strategy, policy] {
        auto op = std::make_unique<detail::SplitSourceOperator<T>>(shared, strategy);
        op->set_bad_record_policy(policy);
        return op;
      });
      n.side_outputs_allowed = policy.kind() == BadRecordPolicy::Kind::dead_letter;
      return DataStream<T>(state_, n.id);
    } else {
      static_assert(detail::is_enumerated_source_v<S>,
                    "from_source: the source must derive from weir::Source<T> or weir::EnumeratedSource<T, Split>");
      using Split = typename S::split_type;
      static_assert(SerdeType<Split>, "from_source: the split type of an EnumeratedSource needs a weir::Serde "
                                      "(splits are stored in checkpoints); declare one with WEIR_SERDE");
      const BadRecordPolicy policy = detail::bad_record_policy_of(source);
      std::shared_ptr<const EnumeratedSource<T, Split>> shared = std::make_shared<const S>(std::move(source));
      // One enumerator per job run attempt: the operators of an attempt share its coordinator.
      auto slot = std::make_shared<detail::SplitCoordinatorSlot<T, Split>>(shared);
      auto& n = add_source<T>(std::move(source_name), [shared, slot, strategy, policy] {
        auto op = std::make_unique<detail::EnumeratedSourceOperator<T, Split>>(shared, slot, strategy);
        op->set_bad_record_policy(policy);
        return op;
      });
      n.side_outputs_allowed = policy.kind() == BadRecordPolicy::Kind::dead_letter;
      return DataStream<T>(state_, n.id);
    }
  }

  /// Milliseconds between periodic watermarks (default 200; 0 turns periodic watermarks off).
  StreamExecutionEnvironment& set_auto_watermark_interval(std::chrono::milliseconds interval) {
    if (interval.count() < 0) throw GraphError("set_auto_watermark_interval: the interval must not be negative");
    state_->config.auto_watermark_interval = interval.count();
    return *this;
  }
  /// What a job does when a task fails (default: `RestartStrategy::no_restart()`). Without
  /// checkpoints a restarted job reads its sources from the beginning again.
  StreamExecutionEnvironment& set_restart_strategy(RestartStrategy strategy) {
    state_->config.restart_strategy = std::move(strategy);
    state_->config.restart_strategy_set = true;
    return *this;
  }

  // ---- state and checkpoints ---------------------------------------------------------------

  /// Takes a checkpoint every `interval_ms` (Flink's enableCheckpointing). With checkpoints and
  /// no restart strategy set, a failed job restarts (fixed delay, 1 s, unlimited attempts) from
  /// its latest completed checkpoint.
  StreamExecutionEnvironment& enable_checkpointing(int64_t interval_ms,
                                                   CheckpointingMode mode = CheckpointingMode::exactly_once) {
    if (interval_ms < 10) throw GraphError("enable_checkpointing: the interval must be at least 10 ms");
    state_->config.checkpoint.set_checkpoint_interval(interval_ms);
    state_->config.checkpoint.set_checkpointing_mode(mode);
    return *this;
  }
  StreamExecutionEnvironment& enable_checkpointing(std::chrono::milliseconds interval,
                                                   CheckpointingMode mode = CheckpointingMode::exactly_once) {
    return enable_checkpointing(interval.count(), mode);
  }
  CheckpointConfig& get_checkpoint_config() { return state_->config.checkpoint; }
  /// Where checkpoints are written: "file:///dir" or a path (local or shared file system).
  StreamExecutionEnvironment& set_checkpoint_storage(std::string uri) {
    if (uri.empty()) throw GraphError("set_checkpoint_storage: the location must not be empty");
    state_->config.checkpoint.set_checkpoint_storage(std::move(uri));
    return *this;
  }
  /// Where keyed state lives: `StateBackend::heap()` (default) or `StateBackend::rocksdb(dir)`.
  StreamExecutionEnvironment& set_state_backend(StateBackend backend) {
    state_->config.state_backend = std::move(backend);
    return *this;
  }
  /// Starts the next job from a savepoint (or retained checkpoint) folder.
  StreamExecutionEnvironment& set_savepoint_restore_settings(SavepointRestoreSettings settings) {
    state_->config.savepoint_restore = std::move(settings);
    return *this;
  }


  /// The processing-time clock of the jobs (a `ManualClock` makes tests deterministic).
  StreamExecutionEnvironment& set_clock(std::shared_ptr<Clock> clock) {
    if (!clock) throw GraphError("set_clock: the clock must not be null");
    state_->config.clock = std::move(clock);
    return *this;
  }

  /// The lines of a text file (without line terminators), from one subtask.
  DataStream<std::string> read_text_file(std::string path) {
    auto& n = add_source<std::string>("Text File Source " + path, [path] { return detail::make_text_file_source(path); });
    n.non_parallel = true;
    n.parallelism = 1;
    return DataStream<std::string>(state_, n.id);
  }
  /// In the socket connector library: link `weir::socket`, include
  /// `<weir/connectors/socket.hpp>` and call `weir::socket_text_stream(env, host, port)`.
  template <class... Args>
  DataStream<std::string> socket_text_stream(Args&&...) {
    static_assert(sizeof...(Args) == 0 && sizeof...(Args) != 0,
                  "env.socket_text_stream moved to the socket connector: link weir::socket, "
                  "#include <weir/connectors/socket.hpp> and call weir::socket_text_stream(env, host, port)");
    return DataStream<std::string>(state_, 0);
  }

  // ---- running -----------------------------------------------------------------------------

  /// Runs every declared sink's pipeline; returns when all sinks are done (bounded input) or
  /// throws JobFailure. Each call runs the sinks declared since the previous one; streams
  /// declared earlier stay usable and feed later jobs (their sources run again there).
  JobExecutionResult execute(const std::string& job_name = "Weir Streaming Job") {
    return detail::submit_job(*state_, job_name).wait();
  }
  /// Starts the job and returns its handle at once.
  JobClient execute_async(const std::string& job_name = "Weir Streaming Job") {
    return detail::submit_job(*state_, job_name);
  }
  /// The job graph (operators, chains, parallelism, edges) as JSON, without running it.
  std::string get_execution_plan() const { return detail::execution_plan(*state_); }

 private:
  template <class T>
  friend class DataStream;
  friend struct detail::EnvAccess;  // Weir's own tools (plans, bindings): src/api/env_access.h
  explicit StreamExecutionEnvironment(std::shared_ptr<detail::EnvState> s) : state_(std::move(s)) {}
  StreamExecutionEnvironment() : state_(std::make_shared<detail::EnvState>()) {}

  template <class T, class Factory>
  detail::LogicalNode& add_source(std::string name, Factory factory) {
    auto& n = state_->graph.add(detail::LogicalNode::Kind::kSource, std::move(name));
    n.out_type = detail::type_ops<T>();
    n.factory = std::move(factory);
    return n;
  }

  std::shared_ptr<detail::EnvState> state_;
};

template <class T>
StreamExecutionEnvironment DataStream<T>::get_execution_environment() const {
  return StreamExecutionEnvironment(env_);
}

}  // namespace weir
