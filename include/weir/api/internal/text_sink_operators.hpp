#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// print() and write_as_text(): one text line per record.
#include <fstream>
#include <string>

#include "weir/api/write_mode.hpp"
#include "weir/common/errors.hpp"
#include "weir/runtime/internal/operator.hpp"
#include "weir/serde/text.hpp"

namespace weir::detail {

/// Writes one line to standard output without interleaving with other subtasks' lines.
void write_stdout_line(const std::string& line);
void flush_stdout();

template <class T>
class PrintSinkOperator final : public runtime::OneInputOperator<T> {
 public:
  explicit PrintSinkOperator(std::string prefix) : prefix_(std::move(prefix)) {}
  void open() override {
    // Flink's form: "id:k> record", "k> record", "id> record" or just "record".
    if (this->task_info().parallelism > 1) {
      if (!prefix_.empty()) prefix_.push_back(':');
      prefix_.append(std::to_string(this->task_info().subtask + 1));
      prefix_.append("> ");
    } else if (!prefix_.empty()) {
      prefix_.append("> ");
    }
  }
  void process(const T& v, int64_t) override { write_stdout_line(prefix_ + to_text(v)); }
  void finish() override { flush_stdout(); }

 private:
  std::string prefix_;
};

/// One text line per record; with parallelism > 1, `path` is a directory holding files 1..n.
template <class T>
class TextFileSinkOperator final : public runtime::OneInputOperator<T> {
 public:
  TextFileSinkOperator(std::string path, WriteMode mode) : path_(std::move(path)), mode_(mode) {}
  void open() override;
  void process(const T& v, int64_t) override {
    line_ = to_text(v);
    line_.push_back('\n');
    out_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
    if (!out_) throw OperatorFailure(this->name(), "cannot write to " + file_);
  }
  void finish() override {
    out_.flush();
    if (!out_) throw OperatorFailure(this->name(), "cannot write to " + file_);
  }
  void close() override { out_.close(); }

 private:
  std::string path_;
  WriteMode mode_;
  std::string file_;
  std::string line_;
  std::ofstream out_;
};

}  // namespace weir::detail
