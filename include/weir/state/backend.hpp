#pragma once
/// Where keyed state lives, as Flink's state backends: on the heap (fast, bounded by memory;
/// the default) or in RocksDB on local disk (bounded by disk; incremental checkpoints).
#include <cstddef>
#include <string>

#include "weir/common/errors.hpp"

namespace weir {

class StateBackend {
 public:
  enum class Kind { heap, rocksdb };
  static StateBackend heap() { return StateBackend(Kind::heap, {}); }
  /// RocksDB with its working files under `dir` (one folder per operator subtask).
  static StateBackend rocksdb(std::string dir) {
    if (dir.empty()) throw GraphError("StateBackend::rocksdb: the directory must not be empty");
    return StateBackend(Kind::rocksdb, std::move(dir));
  }
  /// Memory RocksDB may use per operator subtask (memtables and block cache); default 64 MiB.
  StateBackend& with_memory_budget(std::size_t bytes) {
    memory_budget_ = bytes;
    return *this;
  }
  /// RocksDB: how many entries (one key's value, list, map or open windows) each keyed state
  /// of an operator subtask keeps in memory, decoded, between accesses; default 16384. They
  /// reach RocksDB when evicted (least recently used first, approximately) and before every
  /// checkpoint or savepoint. 1 writes each entry back as soon as another key is used.
  StateBackend& with_cache_entries(std::size_t entries) {
    if (entries < 1) throw GraphError("StateBackend::with_cache_entries: at least 1 entry");
    cache_entries_ = entries;
    return *this;
  }
  std::size_t cache_entries() const { return cache_entries_; }
  Kind kind() const { return kind_; }
  const std::string& dir() const { return dir_; }
  std::size_t memory_budget() const { return memory_budget_; }
  const char* name() const { return kind_ == Kind::heap ? "heap" : "rocksdb"; }

 private:
  StateBackend(Kind k, std::string dir) : kind_(k), dir_(std::move(dir)) {}
  Kind kind_;
  std::string dir_;
  std::size_t memory_budget_ = 64 << 20;
  std::size_t cache_entries_ = 16384;
};

}  // namespace weir
