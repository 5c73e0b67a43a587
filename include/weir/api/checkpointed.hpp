#pragma once
/// Operator state for user functions, as Flink's CheckpointedFunction and CheckpointListener.
///
/// A function (map, flat_map, filter, sink, process, generator, ...) that derives from
/// `CheckpointedFunction` gets `initialize_state` before `open` and `snapshot_state` at every
/// checkpoint; its list states are written into the checkpoint and given back on restore. A
/// function deriving from `CheckpointListener` hears when checkpoints complete or abort.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/state/snapshot.hpp"
#include "weir/serde/serde.hpp"
#include "weir/state/keyed_state.hpp"

namespace weir {

/// Hears the fate of checkpoints (on the function's task thread).
class CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) = 0;
  virtual void notify_checkpoint_aborted(int64_t checkpoint_id) {}
};

namespace detail {
class OperatorListBase {
 public:
  virtual ~OperatorListBase() = default;
  virtual std::vector<std::string> encode() const = 0;
};
}  // namespace detail

/// A list of elements held by one operator subtask (not per key). On restore with another
/// parallelism the elements are split evenly across the subtasks, or (union) every subtask
/// gets all of them.
template <class T>
class OperatorListState final : public detail::OperatorListBase {
 public:
  /// The elements (empty, never null).
  const std::vector<T>& get() const { return items_; }
  void add(T v) { items_.push_back(std::move(v)); }
  void add_all(const std::vector<T>& vs) { items_.insert(items_.end(), vs.begin(), vs.end()); }
  /// Replaces the list; an empty list clears it.
  void update(std::vector<T> vs) { items_ = std::move(vs); }
  void clear() { items_.clear(); }

  std::vector<std::string> encode() const override {
    std::vector<std::string> out;
    out.reserve(items_.size());
    for (const auto& v : items_) out.push_back(serialize(v));
    return out;
  }
  void decode(const std::vector<std::string>& elements, const std::string& name) {
    for (const auto& e : elements) {
      try {
        items_.push_back(deserialize<T>(e));
      } catch (const SerdeError& err) {
        throw IncompatibleStateError("operator state '" + name + "' does not decode: " + err.what() +
                                     "; it was written as another type: restore it with the type it was saved with");
      }
    }
  }

 private:
  std::vector<T> items_;
};

/// The operator states of one function, by name.
class OperatorStateStore {
 public:
  /// A list redistributed evenly on rescaling.
  template <class T>
  OperatorListState<T>& get_list_state(const ListStateDescriptor<T>& d) {
    return get<T>(d.get_name(), runtime::Redistribution::even_split);
  }
  /// A list every subtask gets whole on restore (e.g. all source positions).
  template <class T>
  OperatorListState<T>& get_union_list_state(const ListStateDescriptor<T>& d) {
    return get<T>(d.get_name(), runtime::Redistribution::union_);
  }

  // Runtime side.
  void set_restore(const runtime::StateRestore* r) { restore_ = r; }
  bool is_restored() const { return restore_ && restore_->is_restored(); }
  void snapshot(runtime::SnapshotContext& ctx) const {
    for (const auto& e : entries_) {
      ctx.add_list(e.name, e.mode, e.list->encode());
      ctx.add_state_type(e.type);
    }
  }

 private:
  template <class T>
  OperatorListState<T>& get(const std::string& name, runtime::Redistribution mode) {
    static_assert(SerdeType<T>, "operator state elements need a weir::Serde: declare the type with WEIR_SERDE");
    for (auto& e : entries_) {
      if (e.name == name) {
        auto* l = dynamic_cast<OperatorListState<T>*>(e.list.get());
        if (!l || e.mode != mode) throw GraphError("operator state '" + name + "' was already registered with another type or mode");
        return *l;
      }
    }
    runtime::StateType type{runtime::StateScope::operator_list, name,
                            std::string(mode == runtime::Redistribution::union_ ? "UnionListState<" : "ListState<") +
                                serde_type_id<T>() + ">",
                            serde_type_version<T>()};
    auto list = std::make_unique<OperatorListState<T>>();
    if (restore_ && restore_->is_restored()) {
      runtime::check_state_type(restore_->operator_uid(), restore_->saved_type(runtime::StateScope::operator_list, name), type);
      list->decode(restore_->list(name), name);
    }
    auto& ref = *list;
    entries_.push_back(Entry{name, mode, std::move(list), std::move(type)});
    return ref;
  }
  struct Entry {
    std::string name;
    runtime::Redistribution mode;
    std::unique_ptr<detail::OperatorListBase> list;
    runtime::StateType type;
  };
  std::vector<Entry> entries_;
  const runtime::StateRestore* restore_ = nullptr;
};

class FunctionInitializationContext {
 public:
  explicit FunctionInitializationContext(OperatorStateStore* store) : store_(store) {}
  /// True when the job resumes from a checkpoint or savepoint.
  bool is_restored() const { return store_->is_restored(); }
  OperatorStateStore& get_operator_state_store() { return *store_; }

 private:
  OperatorStateStore* store_;
};

class FunctionSnapshotContext {
 public:
  FunctionSnapshotContext(int64_t id, int64_t ts) : id_(id), ts_(ts) {}
  int64_t get_checkpoint_id() const { return id_; }
  int64_t get_checkpoint_timestamp() const { return ts_; }

 private:
  int64_t id_, ts_;
};

/// A function with operator state: `initialize_state` runs before `open` (also on restore),
/// `snapshot_state` at every checkpoint, before its lists are written.
class CheckpointedFunction {
 public:
  virtual ~CheckpointedFunction() = default;
  virtual void snapshot_state(const FunctionSnapshotContext& ctx) = 0;
  virtual void initialize_state(FunctionInitializationContext& ctx) = 0;
};

namespace detail {

/// The checkpoint hooks of a user function, whatever it implements.
template <class F>
class FunctionState {
 public:
  void initialize(F& f, const runtime::StateRestore& r) {
    restore_ = r;
    store_.set_restore(&restore_);
    if constexpr (std::is_base_of_v<CheckpointedFunction, F>) {
      FunctionInitializationContext ctx(&store_);
      f.initialize_state(ctx);
    }
  }
  void snapshot(F& f, runtime::SnapshotContext& ctx) {
    if constexpr (std::is_base_of_v<CheckpointedFunction, F>) {
      f.snapshot_state(FunctionSnapshotContext(ctx.get_checkpoint_id(), ctx.get_checkpoint_timestamp()));
      store_.snapshot(ctx);
    }
  }

 private:
  OperatorStateStore store_;
  runtime::StateRestore restore_;
};

template <class F>
void notify_complete(F& f, int64_t id) {
  if constexpr (std::is_base_of_v<CheckpointListener, F>) f.notify_checkpoint_complete(id);
}
template <class F>
void notify_aborted(F& f, int64_t id) {
  if constexpr (std::is_base_of_v<CheckpointListener, F>) f.notify_checkpoint_aborted(id);
}

}  // namespace detail
}  // namespace weir
