#pragma once
/// Exactly-once files, as Flink's FileSink in row format:
///
///   stream.sink_to(weir::FileSink<T>::for_row_format(dir)
///                      .with_rolling_policy(weir::DefaultRollingPolicy::builder()
///                                               .with_max_part_size(128 << 20)
///                                               .with_rollover_interval(std::chrono::minutes(15))
///                                               .build())
///                      .build());
///
/// Each subtask writes part files `part-<subtask>-<run>-<n>` into `dir`, one encoded record per
/// line by default. A part file is written as `.part-...inprogress`, becomes
/// `.part-...pending` when it rolls or at a checkpoint (pre-commit, fsync'ed), and gets its
/// visible name when the checkpoint completes (commit). Files whose names start with `.` are
/// not part of the output. Without checkpoints the files are committed when the input ends.
/// Part files roll at every checkpoint, and when they reach the size or age of the policy.
///
/// Hidden part files that a failure, a kill or a checkpoint that never completed left behind
/// are removed when a subtask restores and when it has committed its last file: subtask i of
/// p removes `.<prefix>-<s>-<run>-<n><suffix>.inprogress/.pending` with s mod p = i that the
/// restored checkpoint does not name. Other files in the folder are never touched; two jobs
/// may share a folder only with different part prefixes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string_view>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "weir/api/two_phase_commit.hpp"
#include "weir/serde/text.hpp"

namespace weir {

class DefaultRollingPolicyBuilder;

/// When a part file closes and a new one starts (besides at every checkpoint).
class DefaultRollingPolicy {
 public:
  using Builder = DefaultRollingPolicyBuilder;
  static DefaultRollingPolicyBuilder builder();
  uint64_t max_part_size() const { return max_part_size_; }
  int64_t rollover_interval_ms() const { return rollover_ms_; }
  int64_t inactivity_interval_ms() const { return inactivity_ms_; }

 private:
  friend class DefaultRollingPolicyBuilder;
  uint64_t max_part_size_ = 128ull << 20;
  int64_t rollover_ms_ = 60 * 1000;
  int64_t inactivity_ms_ = 60 * 1000;
};

class DefaultRollingPolicyBuilder {
 public:
  DefaultRollingPolicyBuilder& with_max_part_size(uint64_t bytes) {
    if (bytes == 0) throw GraphError("DefaultRollingPolicy: the max part size must be positive");
    p_.max_part_size_ = bytes;
    return *this;
  }
  /// Roll a part file once it has been open this long (processing time; checked when records
  /// arrive).
  DefaultRollingPolicyBuilder& with_rollover_interval(std::chrono::milliseconds d) {
    if (d.count() <= 0) throw GraphError("DefaultRollingPolicy: the rollover interval must be positive");
    p_.rollover_ms_ = d.count();
    return *this;
  }
  /// Roll a part file that received nothing for this long (checked when records arrive and at
  /// checkpoints).
  DefaultRollingPolicyBuilder& with_inactivity_interval(std::chrono::milliseconds d) {
    if (d.count() <= 0) throw GraphError("DefaultRollingPolicy: the inactivity interval must be positive");
    p_.inactivity_ms_ = d.count();
    return *this;
  }
  DefaultRollingPolicy build() const { return p_; }

 private:
  DefaultRollingPolicy p_;
};

inline DefaultRollingPolicyBuilder DefaultRollingPolicy::builder() { return DefaultRollingPolicyBuilder(); }

/// Rolls only at checkpoints (Flink's OnCheckpointRollingPolicy).
class OnCheckpointRollingPolicy {
 public:
  static DefaultRollingPolicy build() {
    return DefaultRollingPolicy::builder()
        .with_max_part_size(UINT64_MAX)
        .with_rollover_interval(std::chrono::milliseconds(INT64_MAX / 2))
        .with_inactivity_interval(std::chrono::milliseconds(INT64_MAX / 2))
        .build();
  }
};

/// One record per line: its text form (`weir::to_text`) and '\n' (Flink's SimpleStringEncoder;
/// the charset is UTF-8).
template <class T>
class SimpleStringEncoder {
 public:
  explicit SimpleStringEncoder(std::string charset = "UTF-8") {
    if (charset != "UTF-8" && charset != "utf-8") throw GraphError("SimpleStringEncoder: only UTF-8 is supported");
  }
  void operator()(const T& v, std::string& out) const {
    append_text(out, v);
    out.push_back('\n');
  }
};

/// The files of one transaction: pending (rolled, durable) ones, and the one being written.
struct FileSinkTransaction {
  std::vector<std::string> pending;  ///< names in the folder, ".part-...pending"
  std::string in_progress;           ///< ".part-...inprogress" or empty
  bool operator==(const FileSinkTransaction&) const = default;
};
WEIR_SERDE(FileSinkTransaction, pending, in_progress)

template <class T>
class FileSink final : public TwoPhaseCommitSink<T, FileSinkTransaction> {
 public:
  /// Appends the bytes of one record (with its line end) to `out`.
  using Encoder = std::function<void(const T&, std::string& out)>;

  class Builder {
   public:
    Builder(std::string dir, Encoder enc) : dir_(std::move(dir)), enc_(std::move(enc)) {
      if (dir_.empty()) throw GraphError("FileSink::for_row_format: the folder must not be empty");
    }
    Builder& with_rolling_policy(DefaultRollingPolicy p) {
      policy_ = p;
      return *this;
    }
    /// Part files are named `<prefix>-<subtask>-<run>-<n><suffix>` (default "part", "").
    Builder& with_output_file_config(std::string prefix, std::string suffix = "") {
      if (prefix.empty() || prefix[0] == '.') throw GraphError("FileSink: the part prefix must not be empty or start with '.'");
      prefix_ = std::move(prefix);
      suffix_ = std::move(suffix);
      return *this;
    }
    FileSink build() const { return FileSink(dir_, enc_, policy_, prefix_, suffix_); }

   private:
    std::string dir_;
    Encoder enc_;
    DefaultRollingPolicy policy_;
    std::string prefix_ = "part";
    std::string suffix_;
  };

  /// Row format: by default one line per record, its text form (`weir::to_text`) then '\n'.
  static Builder for_row_format(std::string dir) {
    return Builder(std::move(dir), [](const T& v, std::string& out) {
      append_text(out, v);
      out.push_back('\n');
    });
  }
  static Builder for_row_format(std::string dir, Encoder encoder) { return Builder(std::move(dir), std::move(encoder)); }

  FileSink(const FileSink& o)
      : dir_(o.dir_), enc_(o.enc_), policy_(o.policy_), prefix_(o.prefix_), suffix_(o.suffix_) {}
  ~FileSink() override { close_file(); }

  void open(RuntimeContext& rc) override {
    subtask_ = rc.get_index_of_this_subtask();
    parallelism_ = rc.get_number_of_parallel_subtasks();
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw StateError("FileSink: cannot create '" + dir_ + "': " + ec.message());
    std::random_device rd;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
    run_ = buf;
  }
  FileSinkTransaction begin_transaction() override { return {}; }
  void invoke(FileSinkTransaction& txn, const T& value, SinkContext& ctx) override {
    const int64_t now = ctx.current_processing_time();
    if (!txn.in_progress.empty() && should_roll(now)) roll(txn);
    if (txn.in_progress.empty()) start_part(txn, now);
    buf_.clear();
    enc_(value, buf_);
    write_all(buf_);
    bytes_ += buf_.size();
    last_write_ = now;
  }
  void pre_commit(FileSinkTransaction& txn) override {
    if (!txn.in_progress.empty()) roll(txn);
  }
  void commit(FileSinkTransaction& txn) override {
    for (const auto& p : txn.pending) {
      const std::string from = dir_ + "/" + p;
      const std::string to = dir_ + "/" + visible_name(p);
      if (::rename(from.c_str(), to.c_str()) != 0) {
        std::error_code ec;
        if (errno == ENOENT && std::filesystem::exists(to, ec)) continue;  // committed before
        throw StateError("FileSink: cannot commit '" + from + "': " + std::strerror(errno));
      }
    }
    sync_dir();
  }
  void abort(FileSinkTransaction& txn) override {
    if (!txn.in_progress.empty() && txn.in_progress == open_name_) close_file();
    auto drop = [&](const std::string& name) {
      if (name.empty()) return;
      std::error_code ec;
      std::filesystem::remove(dir_ + "/" + name, ec);
    };
    drop(txn.in_progress);
    for (const auto& p : txn.pending) drop(p);
    txn = {};
  }
  void clean_up(const std::vector<FileSinkTransaction>& referenced) override {
    std::set<std::string> keep;
    for (const auto& t : referenced) {
      keep.insert(t.pending.begin(), t.pending.end());
      if (!t.in_progress.empty()) keep.insert(t.in_progress);
    }
    std::error_code ec;
    std::vector<std::string> leftovers;
    for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const auto owner = leftover_subtask(name);
      if (owner && *owner % static_cast<uint64_t>(parallelism_) == static_cast<uint64_t>(subtask_) && !keep.count(name)) leftovers.push_back(name);
    }
    if (ec) throw StateError("FileSink: cannot list '" + dir_ + "' to remove leftover part files: " + ec.message());
    for (const auto& name : leftovers) {
      const std::string path = dir_ + "/" + name;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw StateError("FileSink: cannot remove the leftover part file '" + path + "': " + std::strerror(errno));
      }
    }
  }
  void close() override { close_file(); }

 private:
  /// The subtask index in a hidden part file's name of this sink's pattern
  /// (".<prefix>-<subtask>-<run>-<n><suffix>.inprogress|.pending"), other than this subtask's
  /// own current run; nullopt for any other file.
  std::optional<uint64_t> leftover_subtask(const std::string& name) const {
    std::string_view v(name);
    const std::string head = "." + prefix_ + "-";
    if (v.substr(0, head.size()) != head) return std::nullopt;
    v.remove_prefix(head.size());
    for (std::string_view end : {std::string_view(".inprogress"), std::string_view(".pending")}) {
      if (v.size() > end.size() && v.substr(v.size() - end.size()) == end) {
        v.remove_suffix(end.size());
        if (v.size() < suffix_.size() || v.substr(v.size() - suffix_.size()) != suffix_) return std::nullopt;
        v.remove_suffix(suffix_.size());
        // <subtask>-<run>-<n>
        const auto d1 = v.find('-');
        const auto d2 = d1 == std::string_view::npos ? d1 : v.find('-', d1 + 1);
        if (d2 == std::string_view::npos) return std::nullopt;
        const auto sub = v.substr(0, d1), run = v.substr(d1 + 1, d2 - d1 - 1), n = v.substr(d2 + 1);
        auto digits = [](std::string_view x, std::size_t max) {
          return !x.empty() && x.size() <= max && std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
        };
        const bool hex_run = run.size() == 16 && std::all_of(run.begin(), run.end(), [](char c) {
                               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                             });
        if (!digits(sub, 9) || !hex_run || !digits(n, 20) || run == run_) return std::nullopt;
        return std::stoull(std::string(sub));
      }
    }
    return std::nullopt;
  }

  FileSink(std::string dir, Encoder enc, DefaultRollingPolicy policy, std::string prefix, std::string suffix)
      : dir_(std::move(dir)), enc_(std::move(enc)), policy_(policy), prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}

  bool should_roll(int64_t now) const {
    return bytes_ >= policy_.max_part_size() || now - opened_at_ >= policy_.rollover_interval_ms() ||
           now - last_write_ >= policy_.inactivity_interval_ms();
  }
  void start_part(FileSinkTransaction& txn, int64_t now) {
    const std::string base = prefix_ + "-" + std::to_string(subtask_) + "-" + run_ + "-" + std::to_string(counter_++) + suffix_;
    open_name_ = "." + base + ".inprogress";
    const std::string path = dir_ + "/" + open_name_;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw StateError("FileSink: cannot create '" + path + "': " + std::strerror(errno));
    txn.in_progress = open_name_;
    bytes_ = 0;
    opened_at_ = now;
    last_write_ = now;
  }
  /// Closes the part being written (fsync) and makes it pending.
  void roll(FileSinkTransaction& txn) {
    if (txn.in_progress == open_name_ && fd_ >= 0) {
      flush();
      if (::fsync(fd_) != 0) throw StateError("FileSink: cannot fsync '" + dir_ + "/" + open_name_ + "': " + std::strerror(errno));
      close_file();
    }
    const std::string pending = txn.in_progress.substr(0, txn.in_progress.size() - std::strlen(".inprogress")) + ".pending";
    const std::string from = dir_ + "/" + txn.in_progress;
    const std::string to = dir_ + "/" + pending;
    if (::rename(from.c_str(), to.c_str()) != 0) throw StateError("FileSink: cannot rename '" + from + "': " + std::strerror(errno));
    txn.pending.push_back(pending);
    txn.in_progress.clear();
    sync_dir();
  }
  /// ".part-0-run-3.pending" → "part-0-run-3"
  static std::string visible_name(const std::string& pending) {
    return pending.substr(1, pending.size() - 1 - std::strlen(".pending"));
  }
  void write_all(const std::string& data) {
    out_.append(data);
    if (out_.size() >= (1 << 16)) flush();
  }
  void flush() {
    std::size_t done = 0;
    while (done < out_.size()) {
      const ssize_t n = ::write(fd_, out_.data() + done, out_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw StateError("FileSink: cannot write '" + dir_ + "/" + open_name_ + "': " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    out_.clear();
  }
  void close_file() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    out_.clear();
    open_name_.clear();
  }
  void sync_dir() {
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }

  std::string dir_;
  Encoder enc_;
  DefaultRollingPolicy policy_;
  std::string prefix_;
  std::string suffix_;
  int subtask_ = 0;
  int parallelism_ = 1;
  std::string run_;
  uint64_t counter_ = 0;
  int fd_ = -1;
  std::string open_name_;
  std::string out_;
  std::string buf_;
  uint64_t bytes_ = 0;
  int64_t opened_at_ = 0;
  int64_t last_write_ = 0;
};

}  // namespace weir
