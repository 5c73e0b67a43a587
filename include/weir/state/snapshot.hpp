#pragma once
/// The state an operator writes at a checkpoint and reads on restore: the records every state
/// backend writes, so that a checkpoint or savepoint restores into any backend.
///
/// At a checkpoint each operator subtask writes, synchronously on its task thread:
/// - keyed state, per key group, as a stream of records (the same canonical records on every
///   backend, so a savepoint restores into any backend and any parallelism: key groups move
///   whole);
/// - operator state: named lists of elements, redistributed on restore either evenly
///   (each subtask gets a share) or as a union (each subtask gets every element);
/// - optionally a backend snapshot (RocksDB files) to upload asynchronously.
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/common/errors.hpp"
#include "weir/serde/serde.hpp"
#include "weir/state/kv_store.hpp"

namespace weir {
namespace runtime {

/// The checkpoint id of the snapshot a task takes when it has finished. That snapshot stands
/// in for the task in every later checkpoint; when one of them completes, the task's
/// operators hear `notify_checkpoint_complete(kFinalCheckpointId)`: commit everything.
inline constexpr int64_t kFinalCheckpointId = std::numeric_limits<int64_t>::max();

/// How operator list state is split when the parallelism changes (Flink's operator state).
enum class Redistribution : uint8_t { even_split = 0, union_ = 1 };

/// One named list of operator state.
struct OperatorList {
  std::string name;
  Redistribution mode = Redistribution::even_split;
  std::vector<std::string> elements;
};

/// Which family a recorded state type belongs to; names are unique within a family.
enum class StateScope : uint8_t {
  key = 0,            ///< the key type of a keyed operator (name empty)
  keyed = 1,          ///< keyed state: ValueState, ListState, MapState, ReducingState, AggregatingState
  operator_list = 2,  ///< operator list and union list state of a CheckpointedFunction
  broadcast = 3,      ///< broadcast state
};

/// The type one state was written with: the identity of its serializer (`serde_type_id`,
/// wrapped in the kind of state, e.g. "ValueState<int64>") and its version. A restore refuses
/// a state whose type differs.
struct StateType {
  StateScope scope = StateScope::keyed;
  std::string name;
  std::string type;
  uint32_t version = 1;

  bool same_type(const StateType& o) const { return type == o.type && version == o.version; }
  /// "ValueState<int64> (v1)".
  std::string describe() const { return type + " (v" + std::to_string(version) + ")"; }
};

/// Adds `t` to `types` unless its scope and name are there already.
inline void add_state_type(std::vector<StateType>& types, StateType t) {
  for (const auto& x : types) {
    if (x.scope == t.scope && x.name == t.name) return;
  }
  types.push_back(std::move(t));
}

/// Throws IncompatibleStateError when a state restored as `now` was saved as another type: the message
/// names the operator, the state, and both types. `saved` may be null (nothing recorded: a
/// snapshot of an older format, or a new state).
inline void check_state_type(const std::string& operator_uid, const StateType* saved, const StateType& now) {
  if (!saved || saved->same_type(now)) return;
  if (now.scope == StateScope::key) {
    throw IncompatibleStateError("operator uid '" + operator_uid + "', key type: saved as " + saved->describe() + ", restored as " +
                     now.describe() +
                     "; the key type of keyed state cannot change across a restore: keep the saved key type, or give "
                     "the operator a new uid and restore with allow_non_restored_state (its state starts empty)");
  }
  const std::string what = now.scope == StateScope::broadcast ? "broadcast state '" + now.name + "'" : "state '" + now.name + "'";
  throw IncompatibleStateError("operator uid '" + operator_uid + "', " + what + ": saved as " + saved->describe() + ", restored as " +
                   now.describe() +
                   "; state types cannot change across a restore: keep the saved type, or register the new type "
                   "under a new state name (it starts empty), or give the operator a new uid and restore with "
                   "allow_non_restored_state");
}

/// Events in flight in one channel at an unaligned checkpoint, in order: kind (0 batch,
/// 1 watermark, 2 watermark status) and the encoded batch or the value.
struct InFlightEvent {
  uint8_t kind = 0;
  int64_t value = 0;
  std::string bytes;
};
struct ChannelState {
  int32_t partition = 0;  ///< output: the task's partition; input: unused
  int32_t channel = 0;    ///< output: channel within the partition; input: gate index
  std::vector<InFlightEvent> events;
};

/// What one operator subtask wrote at one checkpoint.
struct OperatorSnapshot {
  std::map<int, std::string> key_groups;  ///< key group → its canonical records
  std::vector<OperatorList> lists;
  /// Unaligned checkpoints (kept with the task's head operator): records the task had taken
  /// from an input before that input's barrier, and records its barriers overtook in its
  /// output channels.
  std::vector<ChannelState> inflight_in;
  std::vector<ChannelState> inflight_out;
  /// A backend snapshot to upload after the synchronous part (RocksDB incremental files).
  std::shared_ptr<detail::KvSnapshot> kv;
  /// The type of every state the operator holds (registered, or restored and kept).
  std::vector<StateType> state_types;
  bool empty() const {
    return key_groups.empty() && lists.empty() && !kv && inflight_in.empty() && inflight_out.empty() && state_types.empty();
  }
};

/// The synchronous part of a checkpoint, as an operator sees it.
class SnapshotContext {
 public:
  SnapshotContext(int64_t checkpoint_id, int64_t timestamp, bool savepoint, OperatorSnapshot* out)
      : id_(checkpoint_id), timestamp_(timestamp), savepoint_(savepoint), out_(out) {}
  int64_t get_checkpoint_id() const { return id_; }
  int64_t get_checkpoint_timestamp() const { return timestamp_; }
  /// Savepoints are written in the canonical format even by backends with their own files.
  bool is_savepoint() const { return savepoint_; }
  /// The record stream of key group `kg`, to append to.
  std::string& key_group(int kg) { return out_->key_groups[kg]; }
  void add_list(std::string name, Redistribution mode, std::vector<std::string> elements) {
    for (auto& l : out_->lists) {
      if (l.name == name) {
        l.elements.insert(l.elements.end(), std::make_move_iterator(elements.begin()), std::make_move_iterator(elements.end()));
        return;
      }
    }
    out_->lists.push_back(OperatorList{std::move(name), mode, std::move(elements)});
  }
  /// Records the type of a state (once per scope and name).
  void add_state_type(StateType t) { runtime::add_state_type(out_->state_types, std::move(t)); }
  OperatorSnapshot& snapshot() { return *out_; }

 private:
  int64_t id_;
  int64_t timestamp_;
  bool savepoint_;
  OperatorSnapshot* out_;
};

/// The state an operator subtask starts from. Empty when the job starts fresh.
class StateRestore {
 public:
  bool is_restored() const { return restored_; }
  /// Key groups this subtask owns, [first, last].
  int first_key_group() const { return first_kg_; }
  int last_key_group() const { return last_kg_; }
  /// The records of every owned key group, from however many old subtasks held them.
  const std::vector<std::pair<int, std::string_view>>& key_groups() const { return groups_; }
  /// The elements of operator list `name` this subtask gets (its share, or all for a union).
  std::vector<std::string> list(const std::string& name) const {
    auto it = lists_.find(name);
    return it == lists_.end() ? std::vector<std::string>{} : it->second;
  }
  bool has_list(const std::string& name) const { return lists_.count(name) != 0; }
  /// Backend files (RocksDB incremental checkpoints) of the old subtasks whose key groups
  /// overlap this subtask's, with their key-group ranges.
  struct KvSource {
    int first_key_group = 0;
    int last_key_group = 0;
    std::vector<detail::KvFile> files;
  };
  const std::vector<KvSource>& kv_sources() const { return kv_sources_; }
  const std::string& kv_shared_dir() const { return kv_dir_; }
  /// The operator's uid, for messages.
  const std::string& operator_uid() const { return uid_; }
  /// The types the operator's states were saved with (none from snapshots of format 1).
  const std::vector<StateType>& state_types() const { return types_; }
  /// The saved type of state `name` in `scope`, or null when none was recorded.
  const StateType* saved_type(StateScope scope, std::string_view name) const {
    for (const auto& t : types_) {
      if (t.scope == scope && t.name == name) return &t;
    }
    return nullptr;
  }

  // Filled by the runtime.
  bool restored_ = false;
  int first_kg_ = 0;
  int last_kg_ = 0;
  std::vector<std::pair<int, std::string_view>> groups_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::vector<KvSource> kv_sources_;
  std::string kv_dir_;
  std::string uid_;
  std::vector<StateType> types_;
  std::vector<ChannelState> inflight_in_;
  std::vector<ChannelState> inflight_out_;
  std::vector<std::shared_ptr<const std::string>> keep_alive_;  ///< owns the bytes the views point into
};

/// Record kinds inside a key group's stream.
enum class KeyedRecord : uint8_t { kState = 1, kEventTimer = 2, kProcessingTimer = 3, kOperator = 4 };

/// Appends one record to a key group's stream: kind, name (state or operator part), the
/// serialised key, and the payload (the entry; for timers the time and namespace).
inline void write_keyed_record(std::string& out, KeyedRecord kind, std::string_view name, std::string_view key,
                               std::string_view payload) {
  ByteWriter w(out);
  w.write_u8(static_cast<uint8_t>(kind));
  w.write_varint(name.size());
  w.write_bytes(name.data(), name.size());
  w.write_varint(key.size());
  w.write_bytes(key.data(), key.size());
  w.write_varint(payload.size());
  w.write_bytes(payload.data(), payload.size());
}

struct KeyedRecordView {
  KeyedRecord kind;
  std::string_view name;
  std::string_view key;
  std::string_view payload;
};

/// Calls `fn(record)` for each record of a key group's stream. Throws StateError on a
/// malformed stream.
template <class F>
void for_each_keyed_record(std::string_view bytes, F&& fn) {
  ByteReader r(bytes);
  try {
    while (!r.at_end()) {
      KeyedRecordView v;
      const uint8_t k = r.read_u8();
      if (k < 1 || k > 4) throw StateError("keyed state stream: unknown record kind " + std::to_string(k));
      v.kind = static_cast<KeyedRecord>(k);
      v.name = r.read_view(r.read_varint());
      v.key = r.read_view(r.read_varint());
      v.payload = r.read_view(r.read_varint());
      fn(v);
    }
  } catch (const SerdeError& e) {
    throw StateError(std::string("keyed state stream is malformed: ") + e.what());
  }
}

}  // namespace runtime
}  // namespace weir
