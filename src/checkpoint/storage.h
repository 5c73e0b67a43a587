#pragma once
/// The on-disk format of checkpoints and savepoints.
///
/// A checkpoint is a folder `chk-<id>` (a savepoint: the folder the user names) holding one
/// state file per operator subtask that has state and a `_metadata` file written last and atomically (write
/// to a temporary name, fsync, rename, fsync the folder). A folder without a valid
/// `_metadata` is not a checkpoint. Every file's size and XXH64 checksum are in the metadata;
/// both files start with a magic string and the format version. RocksDB files of incremental
/// checkpoints live in the job's `shared/` folder, referenced by the metadata.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "weir/state/snapshot.hpp"
#include "weir/serde/serde.hpp"
#include "weir/state/kv_store.hpp"

namespace weir::checkpoint {

/// 2: the metadata records each state's type (`SubtaskMeta::state_types`). Version 1 is still
/// read (its states restore unchecked).
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestReadableVersion = 1;
inline constexpr const char* kMetadataFile = "_metadata";

struct FileRef {
  std::string name;  ///< relative to the checkpoint folder
  uint64_t size = 0;
  uint64_t checksum = 0;
};

struct SubtaskMeta {
  int32_t subtask = 0;
  int32_t first_key_group = 0;
  int32_t last_key_group = 0;
  FileRef file;                          ///< keyed records and operator lists
  std::vector<detail::KvFile> kv_files;  ///< RocksDB files in `shared/` (incremental checkpoints)
  uint64_t keyed_bytes = 0;
  uint64_t keyed_records = 0;
  uint64_t keys = 0;  ///< distinct keys with keyed state or timers
  std::vector<std::string> state_names;  ///< keyed state names and operator list names
  std::vector<runtime::StateType> state_types;  ///< the type of each state (format 2)
};

struct OperatorMeta {
  std::string uid;
  std::string name;
  int32_t parallelism = 1;
  int32_t max_parallelism = 128;
  std::vector<SubtaskMeta> subtasks;
};

struct Metadata {
  uint32_t version = kFormatVersion;
  int64_t checkpoint_id = 0;
  int64_t timestamp = 0;
  bool savepoint = false;
  std::string job_name;
  std::string backend;  ///< "heap" or "rocksdb"; "canonical" for savepoints (any backend reads them)
  std::string shared_dir;  ///< the job's folder of shared RocksDB files, if any
  std::vector<OperatorMeta> operators;
};

uint64_t checksum(std::string_view bytes);

/// Writes `data` to `path` atomically and durably (temporary file, fsync, rename, fsync of the
/// folder). Throws StateError.
void write_file_atomic(const std::string& path, std::string_view data);
/// Reads a whole file. Throws StateError when it cannot.
std::string read_file(const std::string& path);
void make_dirs(const std::string& path);
void remove_all(const std::string& path) noexcept;

/// The bytes of one subtask's state file.
std::string encode_state_file(const runtime::OperatorSnapshot& snapshot);
/// Decodes a state file into key groups, operator lists and (when asked) the records in flight
/// of an unaligned checkpoint. Throws StateError when malformed.
void decode_state_file(std::string_view bytes, std::map<int, std::string>& key_groups,
                       std::vector<runtime::OperatorList>& lists, std::vector<runtime::ChannelState>* inflight_in = nullptr,
                       std::vector<runtime::ChannelState>* inflight_out = nullptr);

/// Writes `_metadata` into `dir` (last, atomically).
void write_metadata(const std::string& dir, const Metadata& meta);
/// Reads and checks `_metadata` of `dir`. Throws StateError when it is missing, corrupt, of an
/// unknown format version, or describes impossible state (`validate_metadata`).
Metadata read_metadata(const std::string& dir);
/// Reads a file the metadata references and checks its size and checksum. Throws StateError
/// when `ref.name` is not a plain file name inside `dir` (see `check_file_name`).
std::string read_verified(const std::string& dir, const FileRef& ref);

/// The most key groups a job may have (as Flink's upper bound of the max parallelism).
inline constexpr int kMaxKeyGroups = 32768;

/// What is impossible in metadata whose checksum is valid: per operator, a parallelism
/// outside 1..max parallelism (max parallelism 1..kMaxKeyGroups), subtasks other than
/// 0..parallelism-1 once each, key-group ranges that do not tile 0..max parallelism-1 exactly
/// (gaps, overlaps, reversed), duplicate uids, and file names that are not plain names inside
/// their folder. Each problem is one sentence naming the operator and subtask. Empty: valid.
std::vector<std::string> metadata_problems(const std::string& dir, const Metadata& meta);
/// Throws StateError listing `metadata_problems` (and what to do) when there are any.
void validate_metadata(const std::string& dir, const Metadata& meta);
/// Throws StateError unless `name` is a plain file name (not empty, no '/', not "." or "..")
/// that resolves (following symbolic links) to a path directly inside `dir`.
void check_file_name(const std::string& dir, const std::string& name);

/// Key groups [first, last] of subtask `index` of `parallelism` (the inverse of the hash
/// partitioner's key group → subtask mapping).
std::pair<int, int> key_group_range(int max_parallelism, int parallelism, int index);

/// A path from a storage URI: "file:///dir" or a plain path.
std::string path_of_uri(const std::string& uri);


/// Format 1 of the metadata (before state types), as it was written: read by `read_metadata`,
/// and written by tests that check old snapshots still read.
namespace format1 {
struct SubtaskMeta {
  int32_t subtask = 0;
  int32_t first_key_group = 0;
  int32_t last_key_group = 0;
  FileRef file;
  std::vector<detail::KvFile> kv_files;
  uint64_t keyed_bytes = 0;
  uint64_t keyed_records = 0;
  uint64_t keys = 0;
  std::vector<std::string> state_names;
};
struct OperatorMeta {
  std::string uid;
  std::string name;
  int32_t parallelism = 1;
  int32_t max_parallelism = 128;
  std::vector<SubtaskMeta> subtasks;
};
struct Metadata {
  uint32_t version = 1;
  int64_t checkpoint_id = 0;
  int64_t timestamp = 0;
  bool savepoint = false;
  std::string job_name;
  std::string backend;
  std::string shared_dir;
  std::vector<OperatorMeta> operators;
};
WEIR_SERDE(SubtaskMeta, subtask, first_key_group, last_key_group, file, kv_files, keyed_bytes, keyed_records, keys,
           state_names)
WEIR_SERDE(OperatorMeta, uid, name, parallelism, max_parallelism, subtasks)
WEIR_SERDE(Metadata, version, checkpoint_id, timestamp, savepoint, job_name, backend, shared_dir, operators)
}  // namespace format1
}  // namespace weir::checkpoint

namespace weir::detail {
WEIR_SERDE(KvFile, name, size, checksum)
}  // namespace weir::detail
namespace weir::runtime {
WEIR_SERDE(StateType, scope, name, type, version)
}  // namespace weir::runtime
namespace weir::checkpoint {
WEIR_SERDE(FileRef, name, size, checksum)
WEIR_SERDE(SubtaskMeta, subtask, first_key_group, last_key_group, file, kv_files, keyed_bytes, keyed_records, keys,
           state_names, state_types)
WEIR_SERDE(OperatorMeta, uid, name, parallelism, max_parallelism, subtasks)
WEIR_SERDE(Metadata, version, checkpoint_id, timestamp, savepoint, job_name, backend, shared_dir, operators)
}  // namespace weir::checkpoint
