// The FileSource's parts that do not depend on the record type: cutting records out of a file,
// CSV and JSON parsing, and the enumerator that lists the paths.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "weir/connectors/file.hpp"

namespace weir::file_detail {

namespace fs = std::filesystem;

// ---- records -------------------------------------------------------------------------------

RecordReader::RecordReader(std::string path, Framing framing, std::size_t max_record_bytes, uint64_t offset,
                           uint64_t line, int64_t end, bool align)
    : path_(std::move(path)), framing_(framing), max_(max_record_bytes), buf_(64 * 1024), offset_(offset), line_(line), end_(end) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("file source: cannot open '" + path_ + "': " + std::strerror(errno));
  if (offset > 0) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) < offset) {
      const std::string size = ::fstat(fd_, &st) == 0 ? std::to_string(st.st_size) : std::string("unknown");
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("file source: cannot resume '" + path_ + "' at byte " + std::to_string(offset) +
                               " (the checkpoint's position): the file has " + size + " bytes now");
    }
    const uint64_t seek_to = align ? offset - 1 : offset;
    if (::lseek(fd_, static_cast<off_t>(seek_to), SEEK_SET) < 0) {
      const int e = errno;
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("file source: cannot seek '" + path_ + "' to byte " + std::to_string(offset) + ": " +
                               std::strerror(e));
    }
    if (align) {
      // The byte before the range: the first record starts after the first line break from there.
      offset_ = seek_to;
      for (;;) {
        if (pos_ == len_ && !fill()) break;
        const void* nl = std::memchr(buf_.data() + pos_, '\n', len_ - pos_);
        const std::size_t n = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - (buf_.data() + pos_)) + 1 : len_ - pos_;
        pos_ += n;
        offset_ += n;
        if (nl) break;
      }
    }
  }
}

RecordReader::~RecordReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool RecordReader::fill() {
  if (eof_) return false;
  for (;;) {
    const ssize_t n = ::read(fd_, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("file source: cannot read '" + path_ + "': " + std::strerror(errno));
    pos_ = 0;
    len_ = static_cast<std::size_t>(n);
    if (n == 0) eof_ = true;
    return n > 0;
  }
}

bool RecordReader::next(Record& r) {
  if (end_ >= 0 && offset_ >= static_cast<uint64_t>(end_)) return false;  // the next split's
  r.bytes.clear();
  r.offset = offset_;
  r.line = line_;
  r.size = 0;
  r.oversized = false;
  csv_ = Csv::field_start;
  bool any = false;  // a byte of this record was seen
  char last = 0;     // the record's last byte so far
  for (;;) {
    if (pos_ == len_ && !fill()) {
      if (!any) return false;
      break;  // the last record, without a line break
    }
    any = true;
    const char* begin = buf_.data() + pos_;
    const std::size_t avail = len_ - pos_;
    std::size_t n;  // bytes of the record in this piece (without the line break)
    bool ended = false;
    if (framing_.quoted_newlines) {
      // RFC 4180: a quote opens a quoted field only at the start of a field, so a stray quote
      // elsewhere does not swallow the following lines; past the size limit quotes no longer
      // count (an unclosed quote costs one oversized record, not the rest of the file).
      n = 0;
      while (n < avail) {
        const char c = begin[n];
        if (c == '\n' && (csv_ != Csv::quoted || r.size + n > max_)) {
          ended = true;
          break;
        }
        switch (csv_) {
          case Csv::field_start: csv_ = c == framing_.quote ? Csv::quoted : c == framing_.delimiter ? Csv::field_start : Csv::unquoted; break;
          case Csv::unquoted: if (c == framing_.delimiter) csv_ = Csv::field_start; break;
          case Csv::quoted: if (c == framing_.quote) csv_ = Csv::quote_seen; break;
          case Csv::quote_seen: csv_ = c == framing_.quote ? Csv::quoted : c == framing_.delimiter ? Csv::field_start : Csv::unquoted; break;
        }
        ++n;
      }
    } else {
      const void* nl = std::memchr(begin, '\n', avail);
      n = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - begin) : avail;
      ended = nl != nullptr;
    }
    // Line breaks inside quotes are part of the record: count them for the line numbers.
    if (framing_.quoted_newlines && line_ > 0) line_ += static_cast<uint64_t>(std::count(begin, begin + n, '\n'));
    const std::size_t keep = r.size >= max_ ? 0 : std::min<std::size_t>(n, max_ - static_cast<std::size_t>(r.size));
    r.bytes.append(begin, keep);
    if (n > 0) last = begin[n - 1];
    r.size += n;
    pos_ += n;
    offset_ += n;
    if (ended) {
      ++pos_;
      ++offset_;
      if (line_ > 0) ++line_;  // 0: unknown (a byte range that does not start the file)
      break;
    }
  }
  if (last == '\r') {  // of a CRLF line break (or of the file's last line)
    --r.size;
    if (r.bytes.size() > r.size) r.bytes.pop_back();
  }
  r.oversized = r.size > max_;
  return true;
}

bool parse_csv(std::string_view s, char delim, char quote, CsvRow& out, std::string& error) {
  out.clear();
  std::size_t i = 0;
  const std::size_t n = s.size();
  for (;;) {
    std::string field;
    const std::size_t field_no = out.size() + 1;
    if (i < n && s[i] == quote) {
      const std::size_t opened = i;
      ++i;
      for (;;) {
        if (i >= n) {
          error = "field " + std::to_string(field_no) + ": the quoted field opened at column " + std::to_string(opened + 1) +
                  " is not closed";
          return false;
        }
        if (s[i] == quote) {
          if (i + 1 < n && s[i + 1] == quote) {
            field += quote;
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += s[i++];
      }
      if (i < n && s[i] != delim) {
        error = "field " + std::to_string(field_no) + ": unexpected character '" + std::string(1, s[i]) + "' at column " +
                std::to_string(i + 1) + " after the closing quote";
        return false;
      }
    } else {
      const std::size_t start = i;
      while (i < n && s[i] != delim) {
        if (s[i] == quote) {
          error = "field " + std::to_string(field_no) + ": a quote at column " + std::to_string(i + 1) +
                  " inside an unquoted field (quote the field and double the quote)";
          return false;
        }
        ++i;
      }
      field.assign(s.substr(start, i - start));
    }
    out.push_back(std::move(field));
    if (i >= n) return true;
    ++i;  // the delimiter: another field follows (empty at the end of the record)
  }
}

bool validate_json(std::string_view s, std::string& error) {
  if (nlohmann::json::accept(s)) return true;
  try {
    (void)nlohmann::json::parse(s);
    error = "not a valid JSON value";
  } catch (const nlohmann::json::exception& e) {
    error = std::string("not valid JSON: ") + e.what();
  }
  return false;
}

// ---- enumerator ----------------------------------------------------------------------------

namespace {

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

/// The files under `paths`, sorted: a file path itself, or the visible regular files in a
/// folder and its visible sub-folders. Throws naming a path that does not exist.
std::vector<std::pair<std::string, uint64_t>> list_files(const std::vector<std::string>& paths) {
  std::set<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    const auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      throw std::runtime_error("file source: the path '" + p + "' does not exist" + (ec ? " (" + ec.message() + ")" : ""));
    }
    if (fs::is_regular_file(st)) {
      files.insert(p);
      continue;
    }
    if (!fs::is_directory(st)) throw std::runtime_error("file source: '" + p + "' is neither a file nor a folder");
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    if (ec) throw std::runtime_error("file source: cannot list '" + p + "': " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) throw std::runtime_error("file source: cannot list '" + p + "': " + ec.message());
      if (hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) files.insert(it->path().string());
    }
  }
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& f : files) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    if (ec) throw std::runtime_error("file source: cannot read the size of '" + f + "': " + ec.message());
    out.emplace_back(f, static_cast<uint64_t>(size));
  }
  return out;
}

/// Lists the paths (once, or every interval) on the enumerator's thread and assigns the files
/// not seen before round-robin. State: the files seen, and whether a bounded listing is done.
class FileEnumerator final : public SplitEnumerator<FileSplit> {
 public:
  FileEnumerator(SplitEnumeratorContext<FileSplit>& ctx, std::vector<std::string> paths, std::chrono::milliseconds interval,
                 uint64_t split_size, std::optional<std::string_view> state)
      : ctx_(ctx), paths_(std::move(paths)), interval_(interval), split_size_(split_size) {
    if (state) {
      std::vector<std::string> seen;
      std::tie(seen, listed_, next_) = deserialize<std::tuple<std::vector<std::string>, bool, int64_t>>(*state);
      seen_.insert(seen.begin(), seen.end());
    }
  }

  void start() override {
    if (bounded() && listed_) return;  // restored after the listing: add_reader ends the readers
    ctx_.call_async([paths = paths_] { return list_files(paths); },
                    [this](std::vector<std::pair<std::string, uint64_t>> files, std::exception_ptr error) {
                      if (error) std::rethrow_exception(error);  // fails the job, naming the path
                      assign(files);
                    },
                    std::chrono::milliseconds(0), bounded() ? std::chrono::milliseconds(0) : interval_);
  }

  void add_reader(int subtask) override {
    if (bounded() && listed_) ctx_.signal_no_more_splits(subtask);
  }

  std::string snapshot_state(int64_t) override {
    return serialize(std::tuple<std::vector<std::string>, bool, int64_t>(
        std::vector<std::string>(seen_.begin(), seen_.end()), listed_, next_));
  }

 private:
  bool bounded() const { return interval_.count() == 0; }

  void assign(const std::vector<std::pair<std::string, uint64_t>>& files) {
    const int p = ctx_.current_parallelism();
    std::size_t found = 0;
    for (const auto& [f, size] : files) {
      if (!seen_.insert(f).second) continue;
      if (split_size_ == 0 || size <= split_size_) {
        ctx_.assign_split(static_cast<int>(next_++ % p), FileSplit{f, 0, -1});
      } else {
        // Byte ranges; the last one reads to the end of the file (bytes appended meanwhile too).
        for (uint64_t start = 0; start < size; start += split_size_) {
          const int64_t end = start + split_size_ >= size ? -1 : static_cast<int64_t>(start + split_size_);
          ctx_.assign_split(static_cast<int>(next_++ % p), FileSplit{f, start, end});
        }
      }
      ++found;
    }
    if (found > 0) spdlog::debug("file source: {} new file(s) to read", found);
    if (bounded()) {
      listed_ = true;
      for (int s = 0; s < p; ++s) ctx_.signal_no_more_splits(s);
    }
  }

  SplitEnumeratorContext<FileSplit>& ctx_;
  std::vector<std::string> paths_;
  std::chrono::milliseconds interval_;
  uint64_t split_size_;
  std::set<std::string> seen_;
  bool listed_ = false;
  int64_t next_ = 0;
};

}  // namespace

std::unique_ptr<SplitEnumerator<FileSplit>> make_file_enumerator(SplitEnumeratorContext<FileSplit>& ctx,
                                                                 std::vector<std::string> paths,
                                                                 std::chrono::milliseconds interval, uint64_t split_size,
                                                                 std::optional<std::string_view> state) {
  return std::make_unique<FileEnumerator>(ctx, std::move(paths), interval, split_size, state);
}

}  // namespace weir::file_detail
