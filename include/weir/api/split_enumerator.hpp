#pragma once
/// Split enumerators (as Flink's FLIP-27 `SplitEnumerator`): the coordinator side of a source
/// whose splits are found while the job runs (Kafka partitions added to a topic, files appearing
/// in a folder). One enumerator runs per source and job run, on its own thread (never on a
/// worker thread); it hands splits to the source's parallel readers with
/// `SplitEnumeratorContext::assign_split` and ends a bounded source with
/// `signal_no_more_splits`. Its state and the readers' splits (with their positions) go into
/// checkpoints and savepoints together and consistently.
///
/// Threading: every `SplitEnumerator` method and every `call_async` handler is called one at a
/// time (never concurrently), under the enumerator's lock: most on the enumerator's thread,
/// `snapshot_state` and `notify_checkpoint_complete` on the thread of the reader subtask that
/// takes the checkpoint. Keep them short; slow work (a metadata request) belongs in the callable
/// of `call_async`, which runs on the enumerator's thread without the lock.
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace weir {

template <class T>
class SplitReader;

/// What an enumerator can do. Given to `EnumeratedSource::create_enumerator`; valid until the
/// enumerator is closed. `assign_split` and `signal_no_more_splits` must be called from the
/// enumerator's methods or handlers (they throw `std::logic_error` otherwise);
/// `call_async` and `run_in_enumerator_thread` may be called from any thread.
template <class Split>
class SplitEnumeratorContext {
 public:
  virtual ~SplitEnumeratorContext() = default;
  /// The number of reader subtasks.
  virtual int current_parallelism() const = 0;
  /// Hands `split` to reader subtask `subtask` (in [0, current_parallelism())), which starts
  /// reading it soon; splits reach a subtask in the order they were assigned.
  virtual void assign_split(int subtask, Split split) = 0;
  /// Subtask `subtask` gets no more splits: it ends once it has read the ones it has. After a
  /// restore the enumerator signals this again (for instance from `add_reader`).
  virtual void signal_no_more_splits(int subtask) = 0;
  /// Runs `fn` on the enumerator's thread under its lock (as Flink's `runInCoordinatorThread`):
  /// the way for another thread (a client library's callback) to reach the enumerator.
  virtual void run_in_enumerator_thread(std::function<void()> fn) = 0;

  /// Calls `callable()` on the enumerator's thread without the lock, then `handler(result,
  /// error)` under it (`error` set and `result` value-initialised when the callable threw), once
  /// after `initial_delay` or, with a `period` above zero, every `period` (as Flink's
  /// `callAsync`). Periodic split discovery: the callable lists what exists, the handler assigns
  /// what is new. A handler that throws fails the job.
  template <class F, class H>
  void call_async(F callable, H handler, std::chrono::milliseconds initial_delay = std::chrono::milliseconds(0),
                  std::chrono::milliseconds period = std::chrono::milliseconds(0)) {
    static_assert(std::is_invocable_v<F&>, "call_async: the callable must take no arguments");
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<R>) {
      static_assert(std::is_invocable_v<H&, std::exception_ptr>,
                    "call_async: with a callable returning void the handler is called as handler(std::exception_ptr)");
    } else {
      static_assert(std::is_default_constructible_v<R>, "call_async: the callable's result must be default-constructible");
      static_assert(std::is_invocable_v<H&, R, std::exception_ptr>,
                    "call_async: the handler must be callable as handler(result, std::exception_ptr)");
    }
    schedule_async(
        [callable = std::move(callable), handler = std::move(handler)]() mutable -> std::function<void()> {
          std::exception_ptr error;
          if constexpr (std::is_void_v<R>) {
            try {
              callable();
            } catch (...) {
              error = std::current_exception();  // handed to the handler
            }
            return [&handler, error] { handler(error); };
          } else {
            R result{};
            try {
              result = callable();
            } catch (...) {
              error = std::current_exception();  // handed to the handler
            }
            return [&handler, result = std::move(result), error]() mutable { handler(std::move(result), error); };
          }
        },
        initial_delay, period);
  }

 protected:
  /// `work()` runs without the lock and returns what to run under it (see `call_async`).
  virtual void schedule_async(std::function<std::function<void()>()> work, std::chrono::milliseconds initial_delay,
                              std::chrono::milliseconds period) = 0;
};

/// The coordinator side of an `EnumeratedSource`. See the file comment for threading.
template <class Split>
class SplitEnumerator {
 public:
  virtual ~SplitEnumerator() = default;
  /// Called once, first: assign the initial splits, start periodic discovery (`call_async`).
  virtual void start() {}
  /// Reader subtask `subtask` is running (after a start or restore).
  virtual void add_reader(int subtask) {}
  /// The enumerator's state for checkpoint `checkpoint_id`: what it has found and assigned.
  /// Splits assigned before this call are in the readers' part of the same checkpoint; splits
  /// assigned after it are not, so a restored enumerator assigns them again.
  virtual std::string snapshot_state(int64_t checkpoint_id) { return {}; }
  /// Checkpoint `checkpoint_id` is complete.
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  /// The job run ends (or restarts): release resources. Nothing is called after it.
  virtual void close() {}
};

/// A source whose splits an enumerator finds and assigns while the job runs (FLIP-27), read by
/// `env.from_source(source, strategy, name)` like a `Source<T>`. `Split` needs a `weir::Serde`
/// (splits are stored in checkpoints). Copied into the job; one enumerator per job run, one
/// `SplitReader` per split. A split's position is its reader's `snapshot_position`.
template <class T, class SplitT>
class EnumeratedSource {
 public:
  using value_type = T;
  using split_type = SplitT;
  virtual ~EnumeratedSource() = default;
  /// A new enumerator (a fresh start, or a restore from a checkpoint without its state).
  virtual std::unique_ptr<SplitEnumerator<SplitT>> create_enumerator(SplitEnumeratorContext<SplitT>& ctx) const = 0;
  /// An enumerator from the state its `snapshot_state` returned.
  virtual std::unique_ptr<SplitEnumerator<SplitT>> restore_enumerator(SplitEnumeratorContext<SplitT>& ctx,
                                                                      std::string_view state) const = 0;
  /// A reader of `split`, on the reader subtask's thread.
  virtual std::unique_ptr<SplitReader<T>> create_reader(const SplitT& split) const = 0;
};

}  // namespace weir
