// The key-value store on RocksDB (weir/state/kv_store.hpp): one RocksDB instance per store, its
// memory held to a budget, snapshots as hard-linked RocksDB checkpoints uploaded incrementally.
//
// Files in the shared directory. SST files never change once written, so each is uploaded once
// and referenced by every later snapshot that still contains it; the other files of a checkpoint
// (CURRENT, MANIFEST-*, OPTIONS-*, ...) are uploaded again with every snapshot. Names:
//
//   <identity>.<sst>              an SST file, e.g. "6f1c...-3e2a.000012.sst"
//   <identity>.<n>.<original>     any other file of the store's n-th snapshot, e.g.
//                                 "6f1c...-3e2a.3.MANIFEST-000005"
//
// <identity> is the RocksDB DB identity (a UUID: letters, digits and '-', never '.'). The
// original name is what follows the first '.' when that is an SST name (digits, then ".sst"),
// else what follows the second '.'. A restored store gets a fresh identity (RocksDB checkpoints
// hold no IDENTITY file, so RocksDB makes a new one on open) and keeps referring to the SST
// files it was restored from by their names in the shared directory; so stores restored twice
// from the same snapshot (a retry, or two instances after rescaling) never write different
// contents under the same name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_buffer_manager.h>

#include "weir/state/kv_store.hpp"
#include "weir/common/fault_point.hpp"

namespace weir::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMinMemoryBudget = 1 << 20;
constexpr std::size_t kCopyBufferBytes = 1 << 20;

[[noreturn]] void fail(const std::string& message) { throw StateError(message); }

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// ---- files -----------------------------------------------------------------------------------

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  /// Closes now; false (errno set) when close fails.
  bool close() {
    const int fd = std::exchange(fd_, -1);
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

/// Removes a file on destruction unless released (a temporary that did not make it).
class UnlinkGuard {
 public:
  explicit UnlinkGuard(fs::path p) : path_(std::move(p)) {}
  UnlinkGuard(const UnlinkGuard&) = delete;
  UnlinkGuard& operator=(const UnlinkGuard&) = delete;
  ~UnlinkGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

struct Copied {
  uint64_t size = 0;
  uint64_t checksum = 0;
};

/// Copies `src` to `dst` (created or truncated) and returns the size and XXH64 of the bytes
/// copied; fsyncs `dst` when `sync`.
Copied copy_file(const fs::path& src, const fs::path& dst, bool sync) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) fail("cannot open " + quoted(src) + ": " + errno_text(errno));
  Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0) fail("cannot create " + quoted(dst) + ": " + errno_text(errno));
  std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> hash(XXH64_createState(), &XXH64_freeState);
  if (!hash || XXH64_reset(hash.get(), 0) != XXH_OK) fail("cannot start a checksum for " + quoted(src));
  std::vector<char> buf(kCopyBufferBytes);
  Copied result;
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read " + quoted(src) + ": " + errno_text(errno));
    }
    if (n == 0) break;
    XXH64_update(hash.get(), buf.data(), static_cast<std::size_t>(n));
    result.size += static_cast<uint64_t>(n);
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out.get(), buf.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("cannot write " + quoted(dst) + ": " + errno_text(errno));
      }
      done += w;
    }
  }
  if (sync && ::fsync(out.get()) != 0) fail("cannot fsync " + quoted(dst) + ": " + errno_text(errno));
  if (!out.close()) fail("cannot close " + quoted(dst) + ": " + errno_text(errno));
  result.checksum = XXH64_digest(hash.get());
  return result;
}

void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) fail("cannot fsync directory " + quoted(dir) + ": " + errno_text(errno));
}

uint64_t size_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) fail("cannot stat " + quoted(p) + ": " + errno_text(errno));
  return static_cast<uint64_t>(st.st_size);
}

/// The absolute, normalised form of a store directory, without a trailing separator.
fs::path store_dir(const std::string& dir) {
  if (dir.empty()) fail("the key-value store's directory is not set (KvStoreOptions::dir is empty)");
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  if (ec) fail("cannot resolve the key-value store directory '" + dir + "': " + ec.message());
  p = p.lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  if (p == p.root_path()) fail("the key-value store directory cannot be '" + dir + "'");
  return p;
}

/// Removes `dir` and everything in it, then creates it empty (and its parents).
void reset_dir(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) fail("cannot empty the key-value store directory " + quoted(dir) + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create the key-value store directory " + quoted(dir) + ": " + ec.message());
}

// ---- names in the shared directory -------------------------------------------------------------

/// "000012.sst": digits, then ".sst".
bool is_sst_name(std::string_view n) {
  constexpr std::string_view kExt = ".sst";
  if (n.size() <= kExt.size() || !n.ends_with(kExt)) return false;
  const auto stem = n.substr(0, n.size() - kExt.size());
  return std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// A plain file name: not empty, no separator, not "." or "..".
bool is_plain_name(std::string_view n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos &&
         n.find('\0') == std::string_view::npos;
}

/// The name a file had in the checkpoint, from its name in the shared directory (see the top).
std::optional<std::string> original_name(std::string_view shared) {
  auto dot = shared.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::string_view rest = shared.substr(dot + 1);
  if (is_sst_name(rest)) return std::string(rest);
  dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  rest = rest.substr(dot + 1);
  if (!is_plain_name(rest)) return std::nullopt;
  return std::string(rest);
}

/// The DB identity as used in file names: a UUID; anything but letters, digits, '-' and '_'
/// becomes '_' (so never a '.').
std::string name_safe(std::string_view identity) {
  std::string s(identity);
  for (char& c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return s;
}

// ---- snapshot directories ----------------------------------------------------------------------

/// Where the snapshots of the store in `dir` are kept: `<dir>-snapshots`, beside it.
fs::path snapshots_dir(const fs::path& dir) { return dir.parent_path() / (dir.filename().string() + "-snapshots"); }

/// Snapshot directories alive in this process, so a store opened on a directory only removes
/// the ones a crashed run left behind.
std::mutex g_live_mutex;
std::set<std::string> g_live_snapshots;

void remove_stale_snapshots(const fs::path& dir) {
  const fs::path root = snapshots_dir(dir);
  std::error_code ec;
  if (!fs::exists(root, ec)) return;
  std::lock_guard lock(g_live_mutex);
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (g_live_snapshots.count(it->path().string()) == 0) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);  // best effort: only disk space is at stake
    }
  }
}

/// A local SST file name -> its name in the shared directory, for the files a store was
/// restored from.
using InheritedFiles = std::unordered_map<std::string, std::string>;

class RocksDbSnapshot final : public KvSnapshot {
 public:
  /// Takes ownership of `root`, an existing empty directory; the checkpoint goes in `files_dir()`.
  RocksDbSnapshot(fs::path root, std::string identity, uint64_t number, std::shared_ptr<const InheritedFiles> inherited)
      : root_(std::move(root)), identity_(std::move(identity)), number_(number), inherited_(std::move(inherited)) {
    std::lock_guard lock(g_live_mutex);
    g_live_snapshots.insert(root_.string());
  }
  RocksDbSnapshot(const RocksDbSnapshot&) = delete;
  RocksDbSnapshot& operator=(const RocksDbSnapshot&) = delete;
  ~RocksDbSnapshot() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::remove(root_.parent_path(), ec);  // only succeeds once no other snapshot is there
    std::lock_guard lock(g_live_mutex);
    g_live_snapshots.erase(root_.string());
  }

  fs::path files_dir() const { return root_ / "checkpoint"; }

  std::vector<KvFile> upload(const std::string& shared_dir, const std::vector<KvFile>& already_uploaded) override {
    const fs::path shared(shared_dir);
    std::error_code ec;
    fs::create_directories(shared, ec);
    if (ec) fail("cannot create the checkpoint directory " + quoted(shared) + ": " + ec.message());
    std::unordered_map<std::string_view, const KvFile*> uploaded;
    for (const auto& f : already_uploaded) uploaded.emplace(f.name, &f);

    std::vector<std::string> names;
    const fs::path from = files_dir();
    for (fs::directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file()) names.push_back(it->path().filename().string());
    }
    if (ec) fail("cannot list the snapshot directory " + quoted(from) + ": " + ec.message());
    std::sort(names.begin(), names.end());

    std::vector<KvFile> files;
    bool copied = false;
    for (const auto& local : names) {
      // A restored store takes a fresh identity (RocksDB 7.8 checkpoints hold no IDENTITY).
      if (local == "IDENTITY") continue;
      const fs::path src = from / local;
      std::string name;
      if (is_sst_name(local)) {
        name = identity_ + "." + local;
        if (inherited_) {
          if (auto in = inherited_->find(local); in != inherited_->end()) name = in->second;
        }
        if (auto it = uploaded.find(name); it != uploaded.end()) {
          const uint64_t size = size_of(src);
          if (size != it->second->size) {
            fail("snapshot file " + quoted(src) + " (" + std::to_string(size) + " bytes) does not match the uploaded '" +
                 name + "' (" + std::to_string(it->second->size) + " bytes)");
          }
          files.push_back(*it->second);
          continue;
        }
      } else {
        name = identity_ + "." + std::to_string(number_) + "." + local;
      }
      files.push_back(copy_to_shared(src, shared, name));
      copied = true;
    }
    if (copied) fsync_dir(shared);
    return files;
  }

 private:
  /// Writes `src` as `shared/name`: to a temporary name, fsync, rename.
  static KvFile copy_to_shared(const fs::path& src, const fs::path& shared, const std::string& name) {
    static std::atomic<uint64_t> temp_counter{0};
    const fs::path tmp =
        shared / ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter.fetch_add(1)));
    UnlinkGuard guard(tmp);
    // The checkpoint file system's fault points (see weir/testing/faults.hpp).
    fault_point("fs.write");
    const Copied c = copy_file(src, tmp, /*sync=*/true);
    fault_point("fs.torn_write");
    fault_point("fs.fsync");
    const fs::path dst = shared / name;
    fault_point("fs.rename");
    if (::rename(tmp.c_str(), dst.c_str()) != 0) {
      fail("cannot rename " + quoted(tmp) + " to " + quoted(dst) + ": " + errno_text(errno));
    }
    guard.release();
    return KvFile{name, c.size, c.checksum};
  }

  fs::path root_;
  std::string identity_;
  uint64_t number_;
  std::shared_ptr<const InheritedFiles> inherited_;
};

// ---- the store ---------------------------------------------------------------------------------

rocksdb::CompressionType pick_compression() {
  const auto supported = rocksdb::GetSupportedCompressions();
  for (auto c : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), c) != supported.end()) return c;
  }
  return rocksdb::kNoCompression;
}

class RocksDbStore final : public KvStore {
 public:
  /// Opens the database in `dir` (already prepared): a new one when `create`, else the
  /// restored files there.
  RocksDbStore(fs::path dir, std::size_t memory_budget, bool create, std::shared_ptr<const InheritedFiles> inherited)
      : dir_(std::move(dir)), inherited_(std::move(inherited)) {
    const std::size_t budget = std::max(memory_budget, kMinMemoryBudget);
    // One LRU cache holds the whole budget: data, index and filter blocks, and the memtables,
    // which the write buffer manager charges to it (up to half the budget).
    cache_ = rocksdb::NewLRUCache(budget);
    write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(budget / 2, cache_);

    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache_;
    table.cache_index_and_filter_blocks = true;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

    rocksdb::Options options;
    options.create_if_missing = create;
    options.write_buffer_manager = write_buffers_;
    options.write_buffer_size = budget / 4;
    options.max_write_buffer_number = 2;  // one being written, one being flushed
    options.compression = pick_compression();
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    options.avoid_flush_during_shutdown = true;  // the directory is discarded after close
    options.keep_log_file_num = 2;
    // Keyed state overwrites the same keys again and again (a window's accumulator per
    // record): update values in the memtable in place instead of stacking versions, which
    // keeps the memtable's skip list small. Snapshots are checkpoints (flush + hard links),
    // never iterator snapshots over a live memtable, so in-place updates are safe here.
    options.allow_concurrent_memtable_write = false;
    options.inplace_update_support = true;

    write_options_.disableWAL = true;  // durability comes from checkpoints

    rocksdb::DB* db = nullptr;
    check(rocksdb::DB::Open(options, dir_.string(), &db), "open");
    db_.reset(db);
    std::string identity;
    check(db_->GetDbIdentity(identity), "read the DB identity");
    identity_ = name_safe(identity);
    if (identity_.empty()) fail("the RocksDB store in " + quoted(dir_) + " has an empty DB identity");
  }

  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;

  ~RocksDbStore() override {
    if (db_) db_->Close().PermitUncheckedError();  // nothing to do about a failure here
    db_.reset();
    std::error_code ec;
    fs::remove(snapshots_dir(dir_), ec);  // when empty
  }

  bool get(std::string_view key, std::string& value) override {
    const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), slice(key), &value);
    if (s.IsNotFound()) return false;
    check(s, "get");
    return true;
  }

  void put(std::string_view key, std::string_view value) override {
    check(db_->Put(write_options_, slice(key), slice(value)), "put");
  }

  void remove(std::string_view key) override { check(db_->Delete(write_options_, slice(key)), "remove"); }

  void scan(std::string_view begin, std::string_view end,
            const std::function<bool(std::string_view, std::string_view)>& fn) override {
    if (!end.empty() && end <= begin) return;  // std::string_view compares bytes as unsigned
    rocksdb::ReadOptions ro;
    const rocksdb::Slice upper = slice(end);
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(slice(begin)); it->Valid(); it->Next()) {
      if (!fn(view(it->key()), view(it->value()))) break;
    }
    check(it->status(), "scan");
  }

  /// An empty `end` means no upper bound, as for `scan`.
  void remove_range(std::string_view begin, std::string_view end) override {
    // Key by key: range tombstones and backward iteration do not mix with in-place memtable
    // updates.
    if (!end.empty() && end <= begin) return;
    rocksdb::WriteBatch batch;
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper = slice(end);
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(slice(begin)); it->Valid(); it->Next()) batch.Delete(it->key());
    check(it->status(), "remove_range");
    check(db_->Write(write_options_, &batch), "remove_range");
  }

  std::size_t memory_usage() override {
    // The cache's usage includes the memtables charged to it by the write buffer manager.
    uint64_t readers = 0;
    if (!db_->GetIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &readers)) readers = 0;
    return cache_->GetUsage() + static_cast<std::size_t>(readers);
  }

  std::size_t disk_usage() override {
    uint64_t bytes = 0;
    if (!db_->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &bytes)) {
      fail("the RocksDB store in " + quoted(dir_) + " does not report its SST file size");
    }
    return static_cast<std::size_t>(bytes);
  }

  std::unique_ptr<KvSnapshot> snapshot() override {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    check(db_->Flush(flush), "flush");
    const uint64_t number = ++snapshots_;
    auto snap = std::make_unique<RocksDbSnapshot>(make_snapshot_root(number), identity_, number, inherited_);
    rocksdb::Checkpoint* raw = nullptr;
    check(rocksdb::Checkpoint::Create(db_.get(), &raw), "prepare a checkpoint");
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    const fs::path to = snap->files_dir();
    const rocksdb::Status s = checkpoint->CreateCheckpoint(to.string());
    if (!s.ok()) fail("the RocksDB store in " + quoted(dir_) + ": checkpoint into " + quoted(to) + " failed: " + s.ToString());
    return snap;
  }

 private:
  void check(const rocksdb::Status& s, const char* what) const {
    if (!s.ok()) fail("the RocksDB store in " + quoted(dir_) + ": " + what + " failed: " + s.ToString());
  }

  /// A new empty directory under `<dir>-snapshots` (created if missing).
  fs::path make_snapshot_root(uint64_t number) const {
    const fs::path root = snapshots_dir(dir_);
    int err = 0;
    // A finishing snapshot may remove `root` between the two steps: then try again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::error_code ec;
      fs::create_directories(root, ec);
      if (ec) fail("cannot create the snapshot directory " + quoted(root) + ": " + ec.message());
      std::string tmpl = (root / (std::to_string(number) + "-XXXXXX")).string();
      if (::mkdtemp(tmpl.data()) != nullptr) return fs::path(tmpl);
      err = errno;
      if (err != ENOENT) break;
    }
    fail("cannot create a snapshot directory in " + quoted(root) + ": " + errno_text(err));
  }

  fs::path dir_;
  std::shared_ptr<const InheritedFiles> inherited_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::unique_ptr<rocksdb::DB> db_;  // last: closed before the cache and buffers go
  rocksdb::WriteOptions write_options_;
  std::string identity_;
  uint64_t snapshots_ = 0;
};

}  // namespace

std::unique_ptr<KvStore> open_rocksdb_store(const KvStoreOptions& options) {
  const fs::path dir = store_dir(options.dir);
  reset_dir(dir);
  remove_stale_snapshots(dir);
  return std::make_unique<RocksDbStore>(dir, options.memory_budget_bytes, /*create=*/true, nullptr);
}

std::unique_ptr<KvStore> restore_rocksdb_store(const KvStoreOptions& options, const std::string& shared_dir,
                                               const std::vector<KvFile>& files) {
  const fs::path dir = store_dir(options.dir);
  reset_dir(dir);
  remove_stale_snapshots(dir);
  const fs::path shared(shared_dir);
  auto inherited = std::make_shared<InheritedFiles>();
  std::set<std::string> restored;
  for (const auto& f : files) {
    const fs::path src = shared / f.name;
    const auto original = is_plain_name(f.name) ? original_name(f.name) : std::nullopt;
    if (!original) fail("checkpoint file " + quoted(src) + " does not have the name of a store file");
    if (!restored.insert(*original).second) fail("checkpoint file " + quoted(src) + " is a second '" + *original + "'");
    if (*original == "IDENTITY") continue;  // the restored store takes a fresh identity
    struct stat st {};
    if (::stat(src.c_str(), &st) != 0) {
      if (errno == ENOENT) fail("checkpoint file " + quoted(src) + " is missing");
      fail("cannot stat checkpoint file " + quoted(src) + ": " + errno_text(errno));
    }
    if (static_cast<uint64_t>(st.st_size) != f.size) {
      fail("checkpoint file " + quoted(src) + " is corrupt: " + std::to_string(st.st_size) + " bytes, expected " +
           std::to_string(f.size));
    }
    const Copied c = copy_file(src, dir / *original, /*sync=*/false);
    if (c.size != f.size) {
      fail("checkpoint file " + quoted(src) + " is corrupt: read " + std::to_string(c.size) + " bytes, expected " +
           std::to_string(f.size));
    }
    if (c.checksum != f.checksum) fail("checkpoint file " + quoted(src) + " is corrupt: checksum mismatch");
    if (is_sst_name(*original)) inherited->emplace(*original, f.name);
  }
  return std::make_unique<RocksDbStore>(dir, options.memory_budget_bytes, /*create=*/false, std::move(inherited));
}

}  // namespace weir::detail
