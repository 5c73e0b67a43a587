#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "weir/api/datastream.hpp"

namespace weir::detail {

std::string open_text_sink_file(const std::string& op_name, const std::string& path, WriteMode mode, int subtask,
                                int parallelism, std::ofstream& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = path;
  if (parallelism > 1) {
    // A directory with one file per subtask, named 1..n as in Flink.
    fs::create_directories(path, ec);
    if (ec) throw OperatorFailure(op_name, "cannot create directory '" + path + "': " + ec.message());
    file = fs::path(path) / std::to_string(subtask + 1);
  } else if (file.has_parent_path()) {
    fs::create_directories(file.parent_path(), ec);
    if (ec) throw OperatorFailure(op_name, "cannot create directory '" + file.parent_path().string() + "': " + ec.message());
  }
  if (mode == WriteMode::no_overwrite && fs::exists(file, ec)) {
    throw OperatorFailure(op_name, "'" + file.string() +
                                       "' already exists; remove it or pass weir::WriteMode::overwrite");
  }
  out.open(file, std::ios::binary | std::ios::trunc);
  if (!out) throw OperatorFailure(op_name, "cannot open '" + file.string() + "' for writing: " + std::strerror(errno));
  return file.string();
}

}  // namespace weir::detail
