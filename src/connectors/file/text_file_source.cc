#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "weir/serde/serde.hpp"

#include "weir/api/environment.hpp"

namespace weir::detail {
namespace {

/// Reads a text file line by line (without the terminator; a trailing '\r' is dropped too).
/// Reading a local file does not wait on the outside world, so it runs on the task's thread.
class TextFileSource final : public runtime::SourceOperator {
 public:
  explicit TextFileSource(std::string path) : path_(std::move(path)) {}
  void initialize_state(const runtime::StateRestore& r) override {
    for (const auto& e : r.list("offset")) offset_ = std::max<uint64_t>(offset_, deserialize<uint64_t>(e));
  }
  /// The byte offset of the next line: a restore goes on from there.
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    ctx.add_list("offset", runtime::Redistribution::union_, {serialize(offset_)});
  }
  void open() override {
    out_ = typed_output<std::string>();
    in_.open(path_, std::ios::binary);
    if (!in_) throw OperatorFailure(name(), "cannot open file '" + path_ + "': " + std::strerror(errno));
    if (offset_ > 0 && !in_.seekg(static_cast<std::streamoff>(offset_))) {
      throw OperatorFailure(name(), "cannot resume file '" + path_ + "' at byte " + std::to_string(offset_) +
                                        " (the checkpoint's position): the file is shorter now");
    }
  }
  Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    for (std::size_t i = 0; i < max_records; ++i) {
      if (!std::getline(in_, line_)) {
        if (in_.bad()) throw OperatorFailure(name(), "cannot read file '" + path_ + "'");
        return Status::kEndOfInput;
      }
      offset_ += line_.size() + (in_.eof() ? 0 : 1);
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      out_->emit(std::move(line_), kNoTimestamp);
      line_.clear();
      ++emitted;
    }
    return Status::kMoreAvailable;
  }
  void close() override { in_.close(); }

 private:
  std::string path_;
  uint64_t offset_ = 0;
  std::ifstream in_;
  std::string line_;
  runtime::Output<std::string>* out_ = nullptr;
};

}  // namespace

std::unique_ptr<runtime::StreamOperator> make_text_file_source(std::string path) {
  return std::make_unique<TextFileSource>(std::move(path));
}

}  // namespace weir::detail
