#include <cstdio>
#include <mutex>
#include <string>

namespace weir::detail {
namespace {
std::mutex& stdout_mutex() {
  static std::mutex mu;
  return mu;
}
}  // namespace

void write_stdout_line(const std::string& line) {
  std::lock_guard lock(stdout_mutex());
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

void flush_stdout() {
  std::lock_guard lock(stdout_mutex());
  std::fflush(stdout);
}

}  // namespace weir::detail
