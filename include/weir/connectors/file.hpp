#pragma once
/// The file connector (library `weir::file`): records read from files, as Flink's FileSource
/// (FLIP-27):
///
///     #include <weir/connectors/file.hpp>   // and link weir::file
///     auto source = weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {"/data/in"})
///                       .monitor_continuously(std::chrono::seconds(10))
///                       .build();
///     auto lines = env.from_source(source, weir::WatermarkStrategy<std::string>::no_watermarks(), "files");
///
/// Paths are files or folders (read recursively; names starting with '.' or '_' inside a folder
/// are skipped, as Flink's default filter: in-progress files of a FileSink stay out). Each file
/// (or byte range, see `set_split_size`) is one split, read by one subtask from start to end; an enumerator lists the paths and deals
/// the files out to the subtasks round-robin.
/// - Bounded (default): the paths are listed once; the job ends when every file is read.
/// - `monitor_continuously(interval)`: the paths are listed every `interval` and files not seen
///   before are read (unbounded). A file is read once, by path: appending to a file already
///   seen is not read; write files elsewhere and move them in.
/// Replayable: a checkpoint holds each split's byte offset and line number, and the set of
/// files already seen; a restore reads on from the offset (nothing read twice, nothing lost) and
/// does not read seen files again.
///
/// Formats (records are split at '\n'; a '\r' before it is dropped):
/// - `TextLineFormat` → `std::string`, every line (empty lines too);
/// - `CsvFormat` → `CsvRow` (the fields), RFC 4180 quoting (a quoted field may hold the
///   delimiter, `""` for a quote, and line breaks), delimiter and header-skip options;
/// - `JsonLinesFormat` → `std::string`, each line validated as one JSON value;
/// - `format.map(fn)`: the format's records turned into the user's type by `fn`; an exception
///   from `fn` makes the record a bad record.
/// Blank lines are skipped by the CSV and JSON formats. A record that does not parse, or is
/// longer than `set_max_record_bytes` (default 1 MiB; the reader skips to the next line without
/// holding more than the limit), goes to the source's `BadRecordPolicy` with origin
/// "file <path> line <n> (byte <offset>)" and its original bytes (cut at the limit when too long).
/// Records carry no timestamp (`kNoTimestamp`): assign them with the watermark strategy.
/// Metrics of each subtask: `records` (records emitted), `bytes` (bytes read), `files` (files
/// finished), `splits` (splits finished), and `bad_records_skipped` /
/// `bad_records_dead_lettered` from the policy. `set_split_size(bytes)` cuts large text and JSON
/// files into byte ranges read by several subtasks.
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/api/bad_records.hpp"
#include "weir/api/source.hpp"
#include "weir/api/split_enumerator.hpp"
#include "weir/common/errors.hpp"
#include "weir/serde/serde.hpp"

namespace weir {

/// A split of a `FileSource`: a file, or with `set_split_size` a byte range of one: the records
/// that start in [start, end) (a record may end past `end`).
struct FileSplit {
  std::string path;
  uint64_t start = 0;
  int64_t end = -1;  ///< -1: to the end of the file
  bool operator==(const FileSplit&) const = default;
};
WEIR_SERDE(FileSplit, path, start, end)

/// The fields of a CSV record.
using CsvRow = std::vector<std::string>;

namespace file_detail {
/// How records are cut from the bytes of a file.
struct Framing {
  bool quoted_newlines = false;  ///< a line break inside a quoted field does not end the record (CSV)
  char quote = '"';
  char delimiter = ',';          ///< with `quoted_newlines`: where fields start
  bool skip_header = false;      ///< the first record of each file is not read
  bool skip_blank = false;       ///< empty records (after dropping '\r') are not read
};
/// Parses one CSV record (RFC 4180); false with `error` set when it is malformed.
bool parse_csv(std::string_view record, char delimiter, char quote, CsvRow& out, std::string& error);
/// Validates one JSON value; false with the parser's message in `error`.
bool validate_json(std::string_view record, std::string& error);
}  // namespace file_detail

/// Lines of text, as Flink's `TextLineInputFormat`: every line is a record.
struct TextLineFormat {
  using value_type = std::string;
  file_detail::Framing framing() const { return {}; }
  bool parse(std::string_view record, std::string& out, std::string&) const {
    out.assign(record);
    return true;
  }
};

template <class Format, class Fn>
class MappedFormat;

/// CSV (RFC 4180) into `CsvRow`s. Options: `set_delimiter` (default ','), `set_quote` (default
/// '"'), `set_skip_header` (default false: the first record of each file is data),
/// `set_expected_fields` (default 0: any number; otherwise a record with another number of
/// fields is a bad record). `map(fn)` turns rows into the user's type.
class CsvFormat {
 public:
  using value_type = CsvRow;
  CsvFormat& set_delimiter(char d) {
    if (d == '\n' || d == '\r') throw GraphError("CsvFormat: the delimiter cannot be a line break");
    delimiter_ = d;
    return *this;
  }
  CsvFormat& set_quote(char q) {
    if (q == '\n' || q == '\r') throw GraphError("CsvFormat: the quote cannot be a line break");
    quote_ = q;
    return *this;
  }
  CsvFormat& set_skip_header(bool skip = true) {
    skip_header_ = skip;
    return *this;
  }
  CsvFormat& set_expected_fields(std::size_t n) {
    expected_fields_ = n;
    return *this;
  }
  file_detail::Framing framing() const { return {true, quote_, delimiter_, skip_header_, true}; }
  bool parse(std::string_view record, CsvRow& out, std::string& error) const {
    if (delimiter_ == quote_) {
      error = "the CSV delimiter and quote are the same character";
      return false;
    }
    if (!file_detail::parse_csv(record, delimiter_, quote_, out, error)) return false;
    if (expected_fields_ > 0 && out.size() != expected_fields_) {
      error = "expected " + std::to_string(expected_fields_) + " fields, found " + std::to_string(out.size());
      return false;
    }
    return true;
  }
  template <class Fn>
  MappedFormat<CsvFormat, Fn> map(Fn fn) const;

 private:
  char delimiter_ = ',';
  char quote_ = '"';
  bool skip_header_ = false;
  std::size_t expected_fields_ = 0;
};

/// JSON Lines: each non-blank line one JSON value, validated, emitted as its text.
/// `map(fn)` with `fn(const std::string& json)` turns it into the user's type.
struct JsonLinesFormat {
  using value_type = std::string;
  file_detail::Framing framing() const { return {false, '"', ',', false, true}; }
  bool parse(std::string_view record, std::string& out, std::string& error) const {
    if (!file_detail::validate_json(record, error)) return false;
    out.assign(record);
    return true;
  }
  template <class Fn>
  MappedFormat<JsonLinesFormat, Fn> map(Fn fn) const;
};

/// A format whose records `fn` turns into another type; an exception from `fn` makes the
/// record a bad record (with the exception's message).
template <class Format, class Fn>
class MappedFormat {
 public:
  using inner_type = typename Format::value_type;
  static_assert(std::is_invocable_v<const Fn&, const inner_type&>,
                "map: the function must be callable with the format's record (const CsvRow& / const std::string&)");
  using value_type = std::decay_t<std::invoke_result_t<const Fn&, const inner_type&>>;
  MappedFormat(Format f, Fn fn) : format_(std::move(f)), fn_(std::move(fn)) {}
  file_detail::Framing framing() const { return format_.framing(); }
  bool parse(std::string_view record, value_type& out, std::string& error) const {
    inner_type v{};
    if (!format_.parse(record, v, error)) return false;
    try {
      out = fn_(std::as_const(v));
    } catch (const std::exception& e) {
      error = std::string("the mapping function failed: ") + e.what();
      return false;
    }
    return true;
  }

 private:
  Format format_;
  Fn fn_;
};

template <class Fn>
MappedFormat<CsvFormat, Fn> CsvFormat::map(Fn fn) const {
  return MappedFormat<CsvFormat, Fn>(*this, std::move(fn));
}
template <class Fn>
MappedFormat<JsonLinesFormat, Fn> JsonLinesFormat::map(Fn fn) const {
  return MappedFormat<JsonLinesFormat, Fn>(*this, std::move(fn));
}

namespace file_detail {

/// Cuts records out of one file from a byte offset, holding at most the size limit of a record.
class RecordReader {
 public:
  struct Record {
    std::string bytes;        ///< the record (cut at the limit when oversized), without its line break
    uint64_t offset = 0;      ///< its first byte in the file
    uint64_t line = 0;        ///< its first line (1-based)
    uint64_t size = 0;        ///< its whole size in bytes (above the limit when oversized)
    bool oversized = false;
  };
  /// Opens `path` at byte `offset` (line `line` starts there; 0: unknown); throws
  /// `std::runtime_error` naming the file when it cannot. Reads the records that start before
  /// `end` (-1: to the end). `align`: `offset` may be inside a record (the start of a byte-range
  /// split): reading starts after the first line break at or after `offset - 1`.
  RecordReader(std::string path, Framing framing, std::size_t max_record_bytes, uint64_t offset, uint64_t line,
               int64_t end = -1, bool align = false);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;
  /// The next record; false at the end of the file.
  bool next(Record& r);
  /// The offset and line of the next record.
  uint64_t offset() const { return offset_; }
  uint64_t line() const { return line_; }

 private:
  bool fill();
  enum class Csv { field_start, unquoted, quoted, quote_seen };
  Csv csv_ = Csv::field_start;  ///< where a CSV record's scan is
  std::string path_;
  Framing framing_;
  std::size_t max_;
  int fd_ = -1;
  std::vector<char> buf_;
  std::size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  uint64_t offset_ = 0, line_ = 1;
  int64_t end_ = -1;
};

/// The enumerator of a `FileSource`: lists `paths` once (bounded) or every `interval`.
std::unique_ptr<SplitEnumerator<FileSplit>> make_file_enumerator(SplitEnumeratorContext<FileSplit>& ctx,
                                                                 std::vector<std::string> paths,
                                                                 std::chrono::milliseconds interval, uint64_t split_size,
                                                                 std::optional<std::string_view> state);

template <class T>
struct Parser {
  virtual ~Parser() = default;
  virtual Framing framing() const = 0;
  virtual bool parse(std::string_view record, T& out, std::string& error) const = 0;
};
template <class T, class Format>
struct FormatParser final : Parser<T> {
  explicit FormatParser(Format f) : format(std::move(f)) {}
  Framing framing() const override { return format.framing(); }
  bool parse(std::string_view record, T& out, std::string& error) const override { return format.parse(record, out, error); }
  Format format;
};

/// Reads one file split; its position is (byte offset, line, aligned) of the next record
/// (line 0: unknown, in a byte-range split that does not start the file; aligned: the reader
/// has found the first record of its byte range).
template <class T>
class FileSplitReader final : public SplitReader<T> {
 public:
  using Status = typename SplitReader<T>::Status;
  FileSplitReader(FileSplit split, std::shared_ptr<const Parser<T>> parser, std::size_t max_record_bytes)
      : split_(std::move(split)), parser_(std::move(parser)), max_(max_record_bytes) {
    offset_ = split_.start;
    line_ = split_.start == 0 ? 1 : 0;
    aligned_ = split_.start == 0;
  }

  Status read(std::size_t max_records, SourceOutput<T>& out) override {
    if (!records_) {
      records_ = &out.metric_group().counter("records");
      bytes_ = &out.metric_group().counter("bytes");
      files_ = &out.metric_group().counter("files");
      splits_ = &out.metric_group().counter("splits");
    }
    if (!in_) {
      in_ = std::make_unique<RecordReader>(split_.path, parser_->framing(), max_, offset_, line_, split_.end, !aligned_);
      aligned_ = true;
      offset_ = in_->offset();
    }
    const Framing framing = parser_->framing();
    for (std::size_t i = 0; i < max_records; ++i) {
      const uint64_t before = in_->offset();
      if (!in_->next(rec_)) {
        offset_ = in_->offset();
        line_ = in_->line();
        splits_->inc();
        if (split_.end < 0) files_->inc();
        return Status::kEndOfSplit;
      }
      bytes_->inc(static_cast<int64_t>(in_->offset() - before));
      offset_ = in_->offset();
      line_ = in_->line();
      if (framing.skip_header && rec_.offset == 0) continue;
      if (rec_.oversized) {
        out.bad_record(BadRecord{std::move(rec_.bytes), origin(),
                                 "the record has " + std::to_string(rec_.size) + " bytes, above the limit of " +
                                     std::to_string(max_) + " bytes (set_max_record_bytes); its first " +
                                     std::to_string(max_) + " bytes are kept"});
        continue;
      }
      if (framing.skip_blank && rec_.bytes.empty()) continue;
      T value{};
      error_.clear();
      if (!parser_->parse(rec_.bytes, value, error_)) {
        out.bad_record(BadRecord{std::move(rec_.bytes), origin(), error_});
        continue;
      }
      out.collect(std::move(value), kNoTimestamp);
      records_->inc();
    }
    return Status::kMoreAvailable;
  }
  std::optional<std::string> snapshot_position() const override {
    return serialize(std::tuple<uint64_t, uint64_t, bool>(offset_, line_, aligned_));
  }
  void restore_position(std::string_view p) override {
    std::tie(offset_, line_, aligned_) = deserialize<std::tuple<uint64_t, uint64_t, bool>>(p);
    in_.reset();
  }

 private:
  std::string origin() const {
    if (rec_.line == 0) return "file " + split_.path + " (byte " + std::to_string(rec_.offset) + ")";
    return "file " + split_.path + " line " + std::to_string(rec_.line) + " (byte " + std::to_string(rec_.offset) + ")";
  }
  FileSplit split_;
  std::shared_ptr<const Parser<T>> parser_;
  std::size_t max_;
  uint64_t offset_ = 0, line_ = 1;
  bool aligned_ = true;
  std::unique_ptr<RecordReader> in_;
  RecordReader::Record rec_;
  std::string error_;
  Counter* records_ = nullptr;
  Counter* bytes_ = nullptr;
  Counter* files_ = nullptr;
  Counter* splits_ = nullptr;
};

}  // namespace file_detail

/// Records of files in a format (see the file comment). Build it with
/// `FileSource<T>::for_record_stream_format(format, paths)...build()`.
template <class T>
class FileSource final : public EnumeratedSource<T, FileSplit> {
 public:
  class Builder {
   public:
    /// Lists the paths every `interval` and reads new files (unbounded). Default: bounded.
    Builder& monitor_continuously(std::chrono::milliseconds interval) {
      if (interval.count() <= 0) throw GraphError("FileSource: the monitoring interval must be above 0 ms");
      s_.interval_ = interval;
      return *this;
    }
    /// What a record that does not parse or is too long does (default: fail the job).
    Builder& set_bad_record_policy(BadRecordPolicy p) {
      s_.policy_ = std::move(p);
      return *this;
    }
    /// The largest record in bytes (default 1 MiB); longer ones are bad records.
    Builder& set_max_record_bytes(std::size_t n) {
      if (n == 0) throw GraphError("FileSource: the record size limit must be above 0");
      s_.max_ = n;
      return *this;
    }
    /// Cuts files larger than `bytes` into byte-range splits of `bytes` (0, the default: one
    /// split per file), so one large file is read by several subtasks. Line numbers are then
    /// known only in a file's first split (origins of later ones name the byte offset only).
    /// Not for CSV: a quoted field may hold line breaks, so a range cannot find its first record.
    Builder& set_split_size(uint64_t bytes) {
      if (bytes > 0 && s_.parser_->framing().quoted_newlines) {
        throw GraphError("FileSource: set_split_size cannot cut CSV files (a quoted field may hold line breaks)");
      }
      s_.split_size_ = bytes;
      return *this;
    }
    FileSource build() const { return s_; }

   private:
    friend class FileSource;
    explicit Builder(FileSource s) : s_(std::move(s)) {}
    FileSource s_;
  };

  /// A source of `format`'s records in `paths` (files or folders; none may be empty).
  template <class Format>
  static Builder for_record_stream_format(Format format, std::vector<std::string> paths) {
    static_assert(std::is_same_v<typename Format::value_type, T>,
                  "for_record_stream_format: the format's value_type must be the FileSource's T");
    if (paths.empty()) throw GraphError("FileSource: give at least one path");
    for (const auto& p : paths) {
      if (p.empty()) throw GraphError("FileSource: a path is empty");
    }
    FileSource s;
    s.parser_ = std::make_shared<const file_detail::FormatParser<T, Format>>(std::move(format));
    s.paths_ = std::move(paths);
    return Builder(std::move(s));
  }

  BadRecordPolicy bad_record_policy() const { return policy_; }
  bool is_bounded() const { return interval_.count() == 0; }
  const std::vector<std::string>& paths() const { return paths_; }

  std::unique_ptr<SplitEnumerator<FileSplit>> create_enumerator(SplitEnumeratorContext<FileSplit>& ctx) const override {
    return file_detail::make_file_enumerator(ctx, paths_, interval_, split_size_, std::nullopt);
  }
  std::unique_ptr<SplitEnumerator<FileSplit>> restore_enumerator(SplitEnumeratorContext<FileSplit>& ctx,
                                                                 std::string_view state) const override {
    return file_detail::make_file_enumerator(ctx, paths_, interval_, split_size_, state);
  }
  std::unique_ptr<SplitReader<T>> create_reader(const FileSplit& split) const override {
    return std::make_unique<file_detail::FileSplitReader<T>>(split, parser_, max_);
  }

 private:
  FileSource() = default;
  std::shared_ptr<const file_detail::Parser<T>> parser_;
  std::vector<std::string> paths_;
  std::chrono::milliseconds interval_{0};
  BadRecordPolicy policy_;
  std::size_t max_ = 1 << 20;
  uint64_t split_size_ = 0;
};

}  // namespace weir
