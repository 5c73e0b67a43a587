#pragma once
/// What tests of several suites share: a temporary folder, waiting for a job's input, and
/// damaging a file.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "weir/weir.hpp"

namespace weir::testsupport {

/// A fresh folder under the system's temporary folder, removed with its contents at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Waits until the tasks whose name contains `task` have taken `records` records in all.
inline void wait_for_input(JobClient& client, uint64_t records, const std::string& task = "Keyed Process") {
  for (;;) {
    uint64_t in = 0;
    for (const auto& m : client.metrics()) {
      if (m.task_name.find(task) != std::string::npos) in += m.records_in;
    }
    if (in >= records) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// Flips the bits of one byte, `from_end` bytes before the end of the file.
inline void flip_byte_at(const std::filesystem::path& path, std::streamoff from_end) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.seekg(0, std::ios::end);
  const std::streamoff size = static_cast<std::streamoff>(f.tellg());
  ASSERT_GE(size, from_end) << path;
  const std::streamoff at = size - from_end;
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(at);
  f.write(&c, 1);
}

}  // namespace weir::testsupport
