#pragma once
// A local cluster for the system tests (a coordinator and workers as real processes on
// loopback), the output of the cluster job, and its references.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "system/process_support.h"

namespace weir::systest {

using testsupport::TempDir;
using namespace std::chrono_literals;

constexpr int64_t kKeys = 37;

/// Committed lines of a FileSink folder (hidden in-progress/pending files excluded).
std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind('.', 0) == 0) continue;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Every (key, c) for c in 1..n(key) once, and every value once.
void expect_keyed_exactly_once(const std::vector<std::string>& lines, int64_t count) {
  std::map<int64_t, std::vector<int64_t>> counts;
  std::vector<int64_t> values;
  for (const auto& l : lines) {
    int64_t k = 0, c = 0, v = 0;
    ASSERT_EQ(std::sscanf(l.c_str(), "%ld,%ld,%ld", &k, &c, &v), 3) << l;
    EXPECT_EQ(v % kKeys, k) << l;
    counts[k].push_back(c);
    values.push_back(v);
  }
  EXPECT_EQ(static_cast<int64_t>(lines.size()), count) << "records committed (losses or duplicates)";
  std::sort(values.begin(), values.end());
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()) && i < count; ++i) {
    if (values[static_cast<std::size_t>(i)] != i) {
      ADD_FAILURE() << "value " << i << " lost or duplicated";
      break;
    }
  }
  for (int64_t k = 0; k < kKeys; ++k) {
    auto& v = counts[k];
    std::sort(v.begin(), v.end());
    const int64_t n = count / kKeys + (k < count % kKeys ? 1 : 0);
    ASSERT_EQ(static_cast<int64_t>(v.size()), n) << "key " << k;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i + 1) << "key " << k;
  }
}

std::vector<std::string> window_reference(int64_t count) {
  std::map<std::pair<int64_t, int64_t>, int64_t> sums;
  for (int64_t v = 0; v < count; ++v) sums[{v % kKeys, v / 1000 * 1000}] += v;
  std::vector<std::string> out;
  for (auto& [kw, s] : sums) out.push_back(std::to_string(kw.first) + "," + std::to_string(kw.second) + "," + std::to_string(s));
  std::sort(out.begin(), out.end());
  return out;
}

/// Coordinators and workers on loopback, stopped when the test ends. With several
/// coordinators (`coordinator_args` then holds --ha), `address()` lists them all.
class LocalCluster {
 public:
  LocalCluster(const TempDir& dir, int workers, int slots, std::vector<std::string> coordinator_args = {},
               int coordinators = 1)
      : dir_(dir) {
    for (int c = 0; c < coordinators; ++c) {
      std::vector<std::string> argv = {WEIR_CLI_PATH, "coordinator", "--bind", "127.0.0.1:0", "--checkpoint-dir",
                                       dir.sub("checkpoints")};
      argv.insert(argv.end(), coordinator_args.begin(), coordinator_args.end());
      coordinators_.push_back(
          std::make_unique<Process>(argv, std::vector<std::string>{}, dir.sub("coordinator" + std::to_string(c) + ".log")));
      // It prints its address alone on a line (its log lines go to the same file here).
      addresses_.push_back(coordinators_.back()->first_line(20s, [](const std::string& l) {
        return !l.empty() && l.find_first_not_of("0123456789.:") == std::string::npos;
      }));
      address_ += (c ? "," : "") + addresses_.back();
    }
    for (int i = 0; i < workers; ++i) add_worker(slots);
  }
  void add_worker(int slots, bool wait_registered = true) {
    const int i = static_cast<int>(workers_.size());
    workers_.push_back(std::make_unique<Process>(
        std::vector<std::string>{WEIR_CLI_PATH, "worker", "--coordinator", address_, "--slots", std::to_string(slots), "--id",
                                 "w" + std::to_string(i), "--work-dir", dir_.sub("worker" + std::to_string(i))},
        std::vector<std::string>{}, dir_.sub("worker" + std::to_string(i) + ".log")));
    if (wait_registered) {
      EXPECT_TRUE(workers_.back()->wait_for_output("registered with the coordinator", 30s)) << workers_.back()->output();
    }
  }
  /// Every coordinator's address, comma separated.
  const std::string& address() const { return address_; }
  const std::string& address_of(int c) const { return addresses_[static_cast<std::size_t>(c)]; }
  Process& coordinator(int c = 0) { return *coordinators_[static_cast<std::size_t>(c)]; }
  Process& worker(int i) { return *workers_[static_cast<std::size_t>(i)]; }
  std::string logs() {
    std::string s;
    for (std::size_t c = 0; c < coordinators_.size(); ++c) s += "--- coordinator " + std::to_string(c) + ":\n" + coordinators_[c]->output();
    for (std::size_t i = 0; i < workers_.size(); ++i) s += "--- worker " + std::to_string(i) + ":\n" + workers_[i]->output();
    return s;
  }

 private:
  const TempDir& dir_;
  std::string address_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<Process>> coordinators_;
  std::vector<std::unique_ptr<Process>> workers_;
};

/// Waits until `weir list` shows a completed checkpoint of some job.
inline bool wait_for_checkpoint(const TempDir& dir, const std::string& address, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    const auto [c, o] = run_command({WEIR_CLI_PATH, "list", "--coordinator", address, "--json"}, {}, dir.sub("list.log"));
    if (o.find("\"checkpoints\":") != std::string::npos && o.find("\"checkpoints\":0") == std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace weir::systest
