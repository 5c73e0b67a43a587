#pragma once
/// An ordered key-value store on local disk, the storage under the RocksDB state backend.
/// Keys and values are byte strings; keys sort bytewise. Implemented on RocksDB in the compiled
/// library (`open_rocksdb_store`). Errors are thrown as `weir::StateError`.
///
/// Threading: one owner thread (the operator's task) calls the store; a `KvSnapshot` taken on
/// it may then be uploaded from another thread while the owner goes on writing.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/common/errors.hpp"

namespace weir::detail {

/// One file of a store checkpoint, kept in a shared directory: its name there, size, and
/// XXH64 checksum of its contents.
struct KvFile {
  std::string name;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

/// A point-in-time copy of a store, taken synchronously (cheap: hard links), written out later.
class KvSnapshot {
 public:
  virtual ~KvSnapshot() = default;
  /// Copies into `shared_dir` the files of this snapshot that are not already there (those
  /// named in `already_uploaded` are not copied again, only referenced), and returns every
  /// file the snapshot consists of. Incremental: immutable data files are uploaded once.
  virtual std::vector<KvFile> upload(const std::string& shared_dir, const std::vector<KvFile>& already_uploaded) = 0;
};

struct KvStoreOptions {
  std::string dir;                            ///< working directory (created; emptied first)
  std::size_t memory_budget_bytes = 64 << 20; ///< memtables + block cache
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  /// Reads `key` into `value`; false when absent.
  virtual bool get(std::string_view key, std::string& value) = 0;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void remove(std::string_view key) = 0;
  /// Calls `fn(key, value)` for each key in [begin, end) in key order; `fn` returns false to
  /// stop. An empty `end` means no upper bound.
  virtual void scan(std::string_view begin, std::string_view end,
                    const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  /// Removes every key in [begin, end). An empty `end` means no upper bound.
  virtual void remove_range(std::string_view begin, std::string_view end) = 0;
  /// Memory the store holds now (memtables, block cache, table readers), in bytes.
  virtual std::size_t memory_usage() = 0;
  /// Bytes of live data files on disk.
  virtual std::size_t disk_usage() = 0;
  /// A consistent snapshot of everything written so far (flushes memtables).
  virtual std::unique_ptr<KvSnapshot> snapshot() = 0;
};

/// Opens an empty store in `options.dir`.
std::unique_ptr<KvStore> open_rocksdb_store(const KvStoreOptions& options);
/// Opens a store in `options.dir` holding exactly the contents of a snapshot whose files
/// (`files`, as returned by `KvSnapshot::upload`) are in `shared_dir`. Verifies sizes and
/// checksums first and throws `StateError` naming the file that does not match.
std::unique_ptr<KvStore> restore_rocksdb_store(const KvStoreOptions& options, const std::string& shared_dir,
                                               const std::vector<KvFile>& files);

}  // namespace weir::detail
