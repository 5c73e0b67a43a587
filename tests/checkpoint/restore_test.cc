// Which state a restart or a restore starts from: the newest retained checkpoint, a damaged
// one refused or (when allowed) gone past and counted, and metadata that describes impossible
// state refused before anything is read.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "checkpoint/storage.h"
#include "checkpoint_test_util.h"
#include "weir/testing/faults.hpp"

namespace weir::cptest {
namespace {

namespace fs = std::filesystem;

/// Lines of the committed part files (names not starting with '.').
std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return lines;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return lines;
}

std::vector<std::pair<int64_t, int64_t>> committed_pairs(const std::string& dir) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (auto& l : committed_lines(dir)) {
    const auto sp = l.find(' ');
    pairs.emplace_back(std::stoll(l.substr(0, sp)), std::stoll(l.substr(sp + 1)));
  }
  return pairs;
}

/// Polls (up to 10 s) until the sink has committed `n` lines: the task delivered the completion.
void wait_for_committed(const std::string& dir, std::size_t n) {
  for (int i = 0; i < 10000 && committed_lines(dir).size() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(committed_lines(dir).size(), n);
}

/// Damages one state file of checkpoint folder `dir` (a flipped byte near its end).
void damage_a_state_file(const std::string& dir) {
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".state" && fs::file_size(e.path()) > 40) {
      testsupport::flip_byte_at(e.path(), 3);
      return;
    }
  }
  FAIL() << "no state file in " << dir;
}

/// Gated events → keyed count → exactly-once FileSink at parallelism 2, checkpoints on demand.
/// Two checkpoints complete and commit (after 5,000 and 10,000 records); the newer one is
/// damaged (`damage_metadata`: its _metadata, else a state file); then a task fails.
struct DamagedRun {
  std::string error;  ///< the job's failure, empty when it finished
  CheckpointStats stats;
  int64_t older_id = 0, newer_id = 0;
  std::string newer_dir;
  std::vector<std::pair<int64_t, int64_t>> output;
};

DamagedRun run_with_damaged_newest(bool allow_fallback, bool damage_metadata) {
  testing::disarm_faults();
  TempDir dir;
  constexpr int64_t kN = 20000;
  auto limit = std::make_shared<std::atomic<int64_t>>(5000);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  env.get_checkpoint_config().set_max_retained_checkpoints(2);
  if (allow_fallback) env.get_checkpoint_config().set_allow_fallback_past_committed_checkpoint(true);
  env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(5)));
  const std::string out = dir.sub("out");
  count_into_files(env, kN, limit, out);
  auto client = env.execute_async("damaged newest");
  DamagedRun r;
  wait_for_input(client, 5000);
  const std::string older = client.trigger_checkpoint().get();
  wait_for_committed(out, 5000);
  limit->store(10000);
  wait_for_input(client, 10000);
  r.newer_dir = client.trigger_checkpoint().get();
  wait_for_committed(out, 10000);  // its output is committed: a fallback would repeat it
  r.older_id = checkpoint::read_metadata(older).checkpoint_id;
  r.newer_id = checkpoint::read_metadata(r.newer_dir).checkpoint_id;
  if (damage_metadata) {
    testsupport::flip_byte_at(fs::path(r.newer_dir) / checkpoint::kMetadataFile, 5);
  } else {
    damage_a_state_file(r.newer_dir);
  }
  testing::arm_fault("task.process", 1);
  limit->store(INT64_MAX);
  try {
    client.wait();
  } catch (const JobFailure& e) {
    r.error = e.what();
  }
  testing::disarm_faults();
  r.stats = client.get_checkpoint_stats();
  r.output = committed_pairs(out);
  return r;
}

TEST(DamagedCheckpoint, RestartRefusesToGoPastACommittedDamagedCheckpointByDefault) {
  for (const bool metadata : {true, false}) {
    SCOPED_TRACE(metadata ? "damaged _metadata" : "damaged state file");
    const auto r = run_with_damaged_newest(/*allow_fallback=*/false, metadata);
    ASSERT_FALSE(r.error.empty()) << "the job must fail instead of duplicating committed output";
    EXPECT_NE(r.error.find(r.newer_dir), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("by hand"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("set_allow_fallback_past_committed_checkpoint(true)"), std::string::npos) << r.error;
    EXPECT_EQ(r.stats.fallbacks_past_committed, 0);
    // Nothing was written twice: the output is what the newer checkpoint committed.
    expect_exactly_once(r.output, expected_counts(0, 10000));
  }
}

TEST(DamagedCheckpoint, AllowedFallbackCompletesAndCountsTheBreach) {
  for (const bool metadata : {true, false}) {
    SCOPED_TRACE(metadata ? "damaged _metadata" : "damaged state file");
    const auto r = run_with_damaged_newest(/*allow_fallback=*/true, metadata);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.stats.fallbacks_past_committed, 1);
    EXPECT_EQ(r.stats.restored_checkpoint_id, r.older_id);
    // The records between the two checkpoints (5,000..9,999) are committed twice, as counted.
    std::map<std::pair<int64_t, int64_t>, int> seen;
    for (const auto& kc : r.output) ++seen[kc];
    std::map<std::pair<int64_t, int64_t>, int> want;
    for (auto& [k, n] : expected_counts(0, 20000)) {
      for (int64_t c = 1; c <= n; ++c) want[{k, c}] = 1;
    }
    const auto before = expected_counts(0, 5000);
    const auto upto = expected_counts(0, 10000);
    for (auto& [k, n] : upto) {
      const int64_t from = before.count(k) ? before.at(k) : 0;
      for (int64_t c = from + 1; c <= n; ++c) want[{k, c}] = 2;
    }
    EXPECT_EQ(seen, want);
  }
}

TEST(DamagedCheckpoint, RestartRestoresTheNewestRetainedCheckpoint) {
  testing::disarm_faults();
  TempDir dir;
  constexpr int64_t kN = 20000;
  auto limit = std::make_shared<std::atomic<int64_t>>(3000);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  env.get_checkpoint_config().set_max_retained_checkpoints(3);
  env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(5)));
  auto out = count_pipeline(env, kN, limit);
  auto client = env.execute_async("newest");
  EXPECT_EQ(client.get_checkpoint_stats().restored_checkpoint_id, -1);
  std::vector<int64_t> ids;
  for (int64_t upto : {3000, 6000, 9000}) {
    limit->store(upto);
    wait_for_input(client, static_cast<uint64_t>(upto));
    ids.push_back(checkpoint::read_metadata(client.trigger_checkpoint().get()).checkpoint_id);
  }
  testing::arm_fault("task.process", 1);
  limit->store(INT64_MAX);
  client.wait();
  testing::disarm_faults();
  EXPECT_EQ(client.get_restart_count(), 1);
  const auto stats = client.get_checkpoint_stats();
  EXPECT_EQ(stats.restored_checkpoint_id, ids.back()) << "the newest of checkpoints " << ids[0] << ", " << ids[1] << ", "
                                                      << ids[2];
  EXPECT_EQ(fs::path(stats.restored_path).filename().string(), "chk-" + std::to_string(ids.back()));
  EXPECT_EQ(stats.fallbacks_past_committed, 0);
  expect_exactly_once(out.get(), expected_counts(0, kN));
}

TEST(DamagedCheckpoint, RecoveryVerifiesChecksumsOfTheOnlyRetainedCheckpoint) {
  testing::disarm_faults();
  TempDir dir;
  auto limit = std::make_shared<std::atomic<int64_t>>(4000);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  env.set_restart_strategy(RestartStrategy::fixed_delay(2, std::chrono::milliseconds(5)));
  auto out = count_pipeline(env, 20000, limit);
  auto client = env.execute_async("checksums");
  wait_for_input(client, 4000);
  const std::string chk = client.trigger_checkpoint().get();
  damage_a_state_file(chk);
  testing::arm_fault("task.process", 1);
  limit->store(INT64_MAX);
  try {
    client.wait();
    ADD_FAILURE() << "a damaged state file was restored";
  } catch (const JobFailure& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("could not restart"), std::string::npos) << m;
    EXPECT_NE(m.find("checksum mismatch"), std::string::npos) << m;
    EXPECT_NE(m.find(chk), std::string::npos) << m;
  }
  testing::disarm_faults();
}

// ---- metadata that describes impossible state -----------------------------------------------

/// One savepoint of the keyed count at parallelism 3, made once; each test crafts a copy.
const std::string& base_savepoint() {
  static TempDir dir;
  static const std::string path = [] {
    auto [out, p] = first_half(dir, 6000, 3000);
    return p;
  }();
  return path;
}

/// A copy of the savepoint in `into/sp` whose metadata `edit` changes; written with a valid
/// checksum, so only validation can refuse it.
std::string crafted(const TempDir& into, const std::function<void(const std::string&, checkpoint::Metadata&)>& edit) {
  const std::string sp = into.sub("sp");
  fs::copy(base_savepoint(), sp, fs::copy_options::recursive);
  auto meta = checkpoint::read_metadata(sp);
  edit(sp, meta);
  checkpoint::write_metadata(sp, meta);
  return sp;
}

checkpoint::OperatorMeta& counts_op(checkpoint::Metadata& m) {
  for (auto& op : m.operators) {
    if (op.uid == "counts") return op;
  }
  throw std::runtime_error("no operator 'counts'");
}

/// Restores the keyed count from `sp` at parallelism `p`: the failure, or "" and the output.
std::string restore_error(const std::string& sp, int p = 3) {
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(p);
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(sp));
  auto out = count_pipeline(env, 6000, std::make_shared<std::atomic<int64_t>>(INT64_MAX));
  try {
    env.execute("restore crafted");
  } catch (const JobFailure& e) {
    return e.what();
  }
  return "";
}

TEST(CraftedMetadata, TheUntouchedCopyRestores) {
  TempDir t;
  EXPECT_EQ(restore_error(crafted(t, [](auto&, auto&) {})), "");
}

TEST(CraftedMetadata, OverlappingKeyGroupRangesAreRefused) {
  TempDir t;
  const auto sp = crafted(t, [](auto&, auto& m) { counts_op(m).subtasks[1].first_key_group -= 5; });
  const auto err = restore_error(sp, 2);
  EXPECT_NE(err.find("overlaps subtask 0"), std::string::npos) << err;
  EXPECT_NE(err.find("uid 'counts'"), std::string::npos) << err;
}

TEST(CraftedMetadata, KeyGroupsOwnedByNoSubtaskAreRefused) {
  TempDir t;
  // The file of subtask 2 holds key groups its range no longer names: restoring would drop them.
  const auto sp = crafted(t, [](auto&, auto& m) { counts_op(m).subtasks[2].first_key_group += 4; });
  const auto err = restore_error(sp);
  EXPECT_NE(err.find("to no subtask"), std::string::npos) << err;
}

TEST(CraftedMetadata, RangesBeyondTheKeyGroupsAreRefused) {
  TempDir t;
  const auto sp = crafted(t, [](auto&, auto& m) { counts_op(m).subtasks[2].last_key_group = 200; });
  const auto err = restore_error(sp);
  EXPECT_NE(err.find("not a range within 0-127"), std::string::npos) << err;
}

TEST(CraftedMetadata, ParallelismThatDisagreesWithTheSubtasksIsRefused) {
  TempDir t;
  auto sp = crafted(t, [](auto&, auto& m) { counts_op(m).parallelism = 2; });
  auto err = restore_error(sp);
  EXPECT_NE(err.find("parallelism 2 but 3 subtasks"), std::string::npos) << err;
  TempDir t2;
  sp = crafted(t2, [](auto&, auto& m) { counts_op(m).parallelism = 0; });
  err = restore_error(sp);
  EXPECT_NE(err.find("has parallelism 0"), std::string::npos) << err;
}

TEST(CraftedMetadata, SwappedStateFilesAreRefused) {
  TempDir t;
  // Valid ranges, valid files, but each file holds the other subtask's key groups.
  const auto sp = crafted(t, [](auto&, auto& m) { std::swap(counts_op(m).subtasks[0].file, counts_op(m).subtasks[1].file); });
  const auto err = restore_error(sp);
  EXPECT_NE(err.find("outside its subtask's key groups"), std::string::npos) << err;
}

TEST(CraftedMetadata, AStateFileOutsideTheFolderIsNotRead) {
  TempDir t;
  const auto sp = crafted(t, [&](const std::string& dir, auto& m) {
    auto& f = counts_op(m).subtasks[0].file;
    fs::copy_file(dir + "/" + f.name, t.sub("outside.state"));  // valid content, outside the folder
    f.name = "../outside.state";
  });
  const auto err = restore_error(sp);
  EXPECT_NE(err.find("'../outside.state' is not a plain file name"), std::string::npos) << err;
}

TEST(CraftedMetadata, ASymbolicLinkOutOfTheFolderIsNotRead) {
  TempDir t;
  const auto sp = crafted(t, [&](const std::string& dir, auto& m) {
    auto& f = counts_op(m).subtasks[0].file;
    fs::rename(dir + "/" + f.name, t.sub("outside.state"));
    fs::create_symlink(t.sub("outside.state"), dir + "/" + f.name);
  });
  const auto err = restore_error(sp);
  EXPECT_NE(err.find("outside '" + sp + "'"), std::string::npos) << err;
}

TEST(CraftedMetadata, ValidationListsEveryProblem) {
  checkpoint::Metadata m;
  checkpoint::OperatorMeta op{"u", "op", 3, 8, {}};
  checkpoint::SubtaskMeta a, b, c;
  a.subtask = 0, a.first_key_group = 0, a.last_key_group = 2;
  b.subtask = 1, b.first_key_group = 5, b.last_key_group = 6;
  b.file.name = "..";
  c.subtask = 1, c.first_key_group = 1, c.last_key_group = 1;
  op.subtasks = {a, b};
  m.operators = {op, op};
  m.operators[1].subtasks = {a, b, c};
  const auto problems = checkpoint::metadata_problems("/tmp", m);
  const std::string all = [&] {
    std::string s;
    for (auto& p : problems) s += p + "\n";
    return s;
  }();
  EXPECT_NE(all.find("operator 'op' (uid 'u') appears twice"), std::string::npos) << all;
  EXPECT_NE(all.find("has parallelism 3 but 2 subtasks"), std::string::npos) << all;
  EXPECT_NE(all.find("subtask 1 (key groups 5-6) leaves key groups 3-4 to no subtask"), std::string::npos) << all;
  EXPECT_NE(all.find("leaves key groups 7-7 to no subtask"), std::string::npos) << all;
  EXPECT_NE(all.find("'..' is not a plain file name"), std::string::npos) << all;
  EXPECT_NE(all.find("subtask 1 appears twice"), std::string::npos) << all;
  EXPECT_NE(all.find("subtask 1 (key groups 1-1) overlaps subtask 0 (key groups 0-2)"), std::string::npos) << all;
}

}  // namespace
}  // namespace weir::cptest
