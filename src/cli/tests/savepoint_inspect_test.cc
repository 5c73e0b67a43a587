// `weir savepoint inspect`: run on a savepoint (and a checkpoint) of a real job, and on broken
// folders. The `weir` binary's path comes from WEIR_CLI_PATH.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "weir/weir.hpp"

#include "checkpoint/storage.h"
#include "support/test_support.h"

#ifndef WEIR_CLI_PATH
#error "WEIR_CLI_PATH must name the weir binary"
#endif

namespace {
namespace fs = std::filesystem;

using weir::testsupport::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

/// Runs `weir ARGS` (arguments already shell-quoted), capturing stdout, stderr and the exit code.
CliRun run_weir(const std::string& args, const TempDir& tmp) {
  const std::string err_file = tmp.sub("stderr.txt");
  const std::string cmd = std::string("'") + WEIR_CLI_PATH + "' " + args + " 2>'" + err_file + "'";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_all(err_file);
  return r;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

/// The lines of `text` from the one starting with `first` up to the next operator (or the end).
std::string operator_block(const std::string& text, const std::string& first) {
  const auto at = text.find(first);
  if (at == std::string::npos) return "";
  auto end = text.find("\n  uid '", at + 1);
  if (end == std::string::npos) end = text.size();
  return text.substr(at, end - at);
}

void flip_byte(const std::string& path) {
  ASSERT_GT(fs::file_size(path), 12u) << path;
  weir::testsupport::flip_byte_at(path, 3);  // past the header: the checksum must catch it
}

/// Numbers 0..count-1, one split per subtask; each split emits only its first `*limit` numbers
/// and polls while held back, so the job keeps running (and takes checkpoints) until stopped.
class GatedNumbers final : public weir::Source<int64_t> {
 public:
  GatedNumbers(int64_t count, std::shared_ptr<std::atomic<int64_t>> limit) : count_(count), limit_(std::move(limit)) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<weir::SplitReader<int64_t>> create_reader(int split, int n) const override {
    struct Reader final : weir::SplitReader<int64_t> {
      int64_t start = 0, next = 0, end = 0;
      std::shared_ptr<std::atomic<int64_t>> limit;
      Status read(std::size_t max, weir::SourceOutput<int64_t>& out) override {
        std::size_t i = 0;
        for (; i < max && next < end && next - start < limit->load(); ++i) out.collect(int64_t{next++}, weir::kNoTimestamp);
        if (next >= end) return Status::kEndOfSplit;
        if (i == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        return Status::kMoreAvailable;
      }
      std::optional<std::string> snapshot_position() const override { return weir::serialize(next); }
      void restore_position(std::string_view p) override { next = weir::deserialize<int64_t>(p); }
    };
    auto r = std::make_unique<Reader>();
    r->start = r->next = count_ * split / n;
    r->end = count_ * (split + 1) / n;
    r->limit = limit_;
    return r;
  }

 private:
  int64_t count_;
  std::shared_ptr<std::atomic<int64_t>> limit_;
};

std::atomic<int64_t> g_processed{0};
std::atomic<uint32_t> g_keys_seen{0};  // bit k: key k reached the keyed operator

/// The running sum per key in ValueState "sum".
struct RunningSum : weir::KeyedProcessFunction<int64_t, int64_t, int64_t> {
  weir::ValueState<int64_t> sum;
  void open(weir::RuntimeContext& rc) override { sum = rc.get_state(weir::ValueStateDescriptor<int64_t>("sum")); }
  void process_element(const int64_t& v, Context& ctx, weir::Collector<int64_t>& out) override {
    const int64_t s = sum.value().value_or(0) + v;
    sum.update(s);
    out.collect(s);
    g_processed.fetch_add(1);
    g_keys_seen.fetch_or(1u << (v % 10));
  }
};

/// Runs the job until all 10 keys went through the keyed operator (and hold state); takes a checkpoint (copied to `checkpoint_copy` while the
/// job still runs), then stops with a savepoint into `savepoint_dir`. Returns the savepoint's
/// folder.
std::string run_job(const TempDir& tmp, const std::string& savepoint_dir, const std::string& checkpoint_copy) {
  constexpr int64_t kCount = 20000;
  // Per split: enough for full batches (1024 records) to reach both keyed subtasks; the
  // remainder may wait in partial batches until the checkpoint barrier flushes them.
  constexpr int64_t kReleasedPerSplit = 5000;
  g_processed.store(0);
  g_keys_seen.store(0);
  auto limit = std::make_shared<std::atomic<int64_t>>(kReleasedPerSplit);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.enable_checkpointing(3600000);
  env.set_checkpoint_storage(tmp.sub("checkpoints"));
  env.from_source(GatedNumbers(kCount, limit), weir::WatermarkStrategy<int64_t>::no_watermarks(), "numbers")
      .key_by([](int64_t v) { return v % 10; })
      .process(RunningSum{})
      .uid("sums")
      .name("running sums")
      .add_sink([](int64_t) {})
      .name("discard");
  auto client = env.execute_async("inspect me");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (g_keys_seen.load() != 0x3ffu && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (g_keys_seen.load() != 0x3ffu) {
    std::string tasks;
    for (const auto& m : client.metrics()) {
      tasks += " [" + m.task_name + "/" + std::to_string(m.subtask) + " in " + std::to_string(m.records_in) + " out " +
               std::to_string(m.records_out) + "]";
    }
    ADD_FAILURE() << "not every key reached the keyed operator in time; processed " << g_processed.load() << tasks;
  }
  EXPECT_EQ(client.get_job_status(), weir::JobStatus::running);

  const std::string chk = client.trigger_checkpoint().get();
  fs::copy(chk, checkpoint_copy, fs::copy_options::recursive);

  std::string path = client.stop_with_savepoint(savepoint_dir).get();
  client.wait();
  return path;
}

class SavepointInspect : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    savepoint_ = run_job(*tmp_, tmp_->sub("sp"), tmp_->sub("chk-copy"));
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  /// A copy of the savepoint the test may break.
  static std::string copy_of_savepoint(const std::string& name) {
    const std::string dst = tmp_->sub(name);
    fs::copy(savepoint_, dst, fs::copy_options::recursive);
    return dst;
  }
  static TempDir* tmp_;
  static std::string savepoint_;
};
TempDir* SavepointInspect::tmp_ = nullptr;
std::string SavepointInspect::savepoint_;

TEST_F(SavepointInspect, TextListsOperatorsStateKeysAndFiles) {
  ASSERT_EQ(savepoint_, tmp_->sub("sp"));
  const CliRun r = run_weir("savepoint inspect " + quote(savepoint_), *tmp_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.rfind("savepoint " + savepoint_ + "  (checkpoint ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("backend canonical)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\njob: inspect me\n"), std::string::npos) << r.out;
  const std::string block = operator_block(r.out, "  uid 'sums'  name 'running sums'  parallelism 2, max parallelism 128\n");
  ASSERT_FALSE(block.empty()) << r.out;
  EXPECT_NE(block.find("\n    state: sum\n"), std::string::npos) << block;
  EXPECT_NE(block.find("\n    keys: 10  records: 10  keyed bytes: "), std::string::npos) << block;
  EXPECT_NE(block.find("\n    state types:\n      key type: int64 (v1)\n      'sum': ValueState<int64> (v1)\n"),
            std::string::npos)
      << block;
  EXPECT_NE(block.find("\n    subtask 0  key groups 0-63  keys "), std::string::npos) << block;
  EXPECT_NE(block.find("\n    subtask 1  key groups 64-127  keys "), std::string::npos) << block;
  // Per-subtask keys add up to the operator's; every state file is listed with its size.
  int64_t keys = 0;
  int files = 0;
  for (std::size_t at = block.find("    subtask "); at != std::string::npos; at = block.find("    subtask ", at + 1)) {
    const auto k = block.find("  keys ", at);
    keys += std::stoll(block.substr(k + 7));
    const auto line_end = block.find('\n', at);
    const std::string line = block.substr(at, line_end == std::string::npos ? std::string::npos : line_end - at);
    if (line.find(".state ") != std::string::npos && line.ends_with("  ok")) ++files;
  }
  EXPECT_EQ(keys, 10);
  EXPECT_EQ(files, 2) << block;
  EXPECT_NE(r.out.find(", all sizes and checksums match\n"), std::string::npos) << r.out;
}

TEST_F(SavepointInspect, JsonHoldsTheSameInformation) {
  const CliRun r = run_weir("savepoint inspect --json " + quote(savepoint_), *tmp_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "}\n");
  EXPECT_NE(r.out.find("\"path\":\"" + savepoint_ + "\",\"kind\":\"savepoint\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"job\":\"inspect me\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"verify\":\"ok\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"uid\":\"sums\",\"name\":\"running sums\",\"parallelism\":2,\"max_parallelism\":128,"
                       "\"state_names\":[\"sum\"],\"keys\":10,\"records\":10,"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"state_types\":[{\"scope\":\"key\",\"name\":\"\",\"type\":\"int64\",\"version\":1},"
                       "{\"scope\":\"keyed\",\"name\":\"sum\",\"type\":\"ValueState<int64>\",\"version\":1}],"
                       "\"subtasks\":["),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("{\"subtask\":0,\"first_key_group\":0,\"last_key_group\":63,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"subtask\":1,\"first_key_group\":64,\"last_key_group\":127,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ok\":true"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"ok\":false"), std::string::npos) << r.out;
  // Balanced brackets outside strings (no string here holds one).
  int depth = 0;
  for (char c : r.out) {
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
}

TEST_F(SavepointInspect, ReadsARetainedCheckpointFolder) {
  const std::string chk = tmp_->sub("chk-copy");
  const CliRun r = run_weir("savepoint inspect " + quote(chk), *tmp_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("checkpoint " + chk + "  (checkpoint ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("backend heap)\n"), std::string::npos) << r.out;
  const std::string block = operator_block(r.out, "  uid 'sums'  name 'running sums'  parallelism 2, max parallelism 128\n");
  EXPECT_NE(block.find("\n    keys: 10  records: 10  "), std::string::npos) << r.out;
}

TEST_F(SavepointInspect, MissingFolderIsAOneLineErrorWithExitCode1) {
  const std::string missing = tmp_->sub("no-such-savepoint");
  const CliRun r = run_weir("savepoint inspect " + quote(missing), *tmp_);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(SavepointInspect, FolderWithoutMetadataOrWithCorruptMetadataExitsWith1) {
  const std::string empty = tmp_->sub("empty");
  fs::create_directories(empty);
  CliRun r = run_weir("savepoint inspect " + quote(empty), *tmp_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no _metadata"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(empty), std::string::npos) << r.err;

  const std::string broken = copy_of_savepoint("broken-metadata");
  flip_byte(broken + "/_metadata");
  r = run_weir("savepoint inspect --json " + quote(broken), *tmp_);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(broken + "/_metadata"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
}

TEST_F(SavepointInspect, CorruptOrMissingStateFileExitsWith2AndNamesIt) {
  const std::string dir = copy_of_savepoint("broken-state");
  std::vector<std::string> states;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".state") states.push_back(e.path().filename().string());
  }
  std::sort(states.begin(), states.end());
  ASSERT_GE(states.size(), 2u);
  flip_byte(dir + "/" + states[0]);

  CliRun r = run_weir("savepoint inspect " + quote(dir), *tmp_);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(dir + "/" + states[0]), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(states[0] + " "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  BAD\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", 1 missing or corrupt\n"), std::string::npos) << r.out;

  r = run_weir("savepoint inspect --json " + quote(dir), *tmp_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("\"verify\":\"failed\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ok\":false"), std::string::npos) << r.out;

  r = run_weir("savepoint inspect --no-verify " + quote(dir), *tmp_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(", not verified\n"), std::string::npos) << r.out;

  fs::remove(dir + "/" + states[1]);
  r = run_weir("savepoint inspect " + quote(dir), *tmp_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(dir + "/" + states[1] + "' is missing"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(", 2 missing or corrupt\n"), std::string::npos) << r.out;
}

TEST_F(SavepointInspect, ImpossibleMetadataWithAValidChecksumExitsWith1AndSaysWhy) {
  namespace cp = weir::checkpoint;
  const std::string dir = copy_of_savepoint("impossible");
  auto meta = cp::read_metadata(dir);
  cp::OperatorMeta* op = nullptr;
  for (auto& o : meta.operators) {
    if (o.subtasks.size() >= 2 && !o.subtasks[0].file.name.empty()) op = &o;
  }
  ASSERT_NE(op, nullptr);
  op->subtasks[1].first_key_group -= 3;  // overlaps subtask 0
  fs::copy_file(dir + "/" + op->subtasks[0].file.name, tmp_->sub("outside.state"));
  op->subtasks[0].file.name = "../outside.state";  // a valid file, outside the folder
  cp::write_metadata(dir, meta);  // a valid checksum over impossible content

  CliRun r = run_weir("savepoint inspect " + quote(dir), *tmp_);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(dir + "/_metadata' describes impossible state"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("subtask 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("overlaps subtask 0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'../outside.state' is not a plain file name"), std::string::npos) << r.err;
}

// Metadata written by hand: RocksDB files in the shared folder (no operator of a real job
// uploads them yet) and names that need escaping.
TEST(SavepointInspectFormat, ListsAndVerifiesRocksDbFilesAndEscapesNames) {
  namespace cp = weir::checkpoint;
  TempDir tmp;
  const std::string dir = tmp.sub("chk-3");
  const std::string shared = tmp.sub("shared");
  cp::make_dirs(dir);
  cp::make_dirs(shared);
  const std::string state = "state bytes";
  const std::string sst = "sst bytes, a few more";
  cp::write_file_atomic(dir + "/op0-0.state", state);
  cp::write_file_atomic(shared + "/000012.sst", sst);
  cp::Metadata meta;
  meta.checkpoint_id = 3;
  meta.timestamp = 1795572158184;
  meta.job_name = "job \"q\"\nline\\2";
  meta.backend = "rocksdb";
  meta.shared_dir = shared;
  cp::SubtaskMeta st;
  st.subtask = 0;
  st.first_key_group = 0;
  st.last_key_group = 127;
  st.file = cp::FileRef{"op0-0.state", state.size(), cp::checksum(state)};
  st.kv_files.push_back(weir::detail::KvFile{"000012.sst", sst.size(), cp::checksum(sst)});
  st.keyed_bytes = 7;
  st.keyed_records = 3;
  st.keys = 2;
  st.state_names = {"b", "a"};
  st.state_types = {{weir::runtime::StateScope::operator_list, "b", "UnionListState<string>", 2},
                    {weir::runtime::StateScope::keyed, "a", "MapState<string,vector<int64>>", 1},
                    {weir::runtime::StateScope::broadcast, "r\"", "BroadcastState<string,double>", 1},
                    {weir::runtime::StateScope::key, "", "string", 1}};
  meta.operators.push_back(cp::OperatorMeta{"u\"1", "Op\tname", 1, 128, {st}});
  cp::write_metadata(dir, meta);

  CliRun r = run_weir("savepoint inspect " + quote(dir), tmp);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("checkpoint " + dir + "  (checkpoint 3, taken 2026-11-25 02:02:38 UTC, format 2, backend rocksdb)\n", 0), 0u)
      << r.out;
  EXPECT_NE(r.out.find("\njob: job \"q\"\\x0aline\\2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nshared files: " + shared + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  uid 'u\"1'  name 'Op\\x09name'  parallelism 1, max parallelism 128\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    state: a, b\n    keys: 2  records: 3  keyed bytes: 7 B  files: 2 (32 B)\n"
                       "    state types:\n"
                       "      key type: string (v1)\n"
                       "      'a': MapState<string,vector<int64>> (v1)\n"
                       "      'b' (operator state): UnionListState<string> (v2)\n"
                       "      'r\"' (broadcast state): BroadcastState<string,double> (v1)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("    subtask 0  key groups 0-127  keys 2  records 3  file op0-0.state 11 B  ok\n"
                       "      kv file 000012.sst 21 B  ok\n"),
            std::string::npos)
      << r.out;

  r = run_weir("savepoint inspect --json " + quote(dir), tmp);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"job\":\"job \\\"q\\\"\\nline\\\\2\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"uid\":\"u\\\"1\",\"name\":\"Op\\tname\",\"parallelism\":1,\"max_parallelism\":128,"
                       "\"state_names\":[\"a\",\"b\"],\"keys\":2,\"records\":3,\"keyed_bytes\":7,\"files\":2,\"file_bytes\":32,"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("{\"scope\":\"operator\",\"name\":\"b\",\"type\":\"UnionListState<string>\",\"version\":2},"
                       "{\"scope\":\"broadcast\",\"name\":\"r\\\"\",\"type\":\"BroadcastState<string,double>\",\"version\":1}]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"kv_files\":[{\"name\":\"000012.sst\",\"size\":21,\"checksum\":\""), std::string::npos) << r.out;

  std::filesystem::remove(shared + "/000012.sst");
  r = run_weir("savepoint inspect " + quote(dir), tmp);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(shared + "/000012.sst' is missing"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("      kv file 000012.sst 21 B  BAD\n"), std::string::npos) << r.out;
}

// Names with quotes, backslashes, newlines, control characters and non-ASCII text (and bytes that
// are not UTF-8) still make valid JSON, which gives the names back.
TEST(SavepointInspectFormat, JsonOfAnyNameIsValidAndGivesTheNameBack) {
  namespace cp = weir::checkpoint;
  TempDir tmp;
  const std::string dir = tmp.sub("sp");
  cp::make_dirs(dir);
  const std::string state = "state bytes";
  cp::write_file_atomic(dir + "/op0-0.state", state);
  const std::string job = "job \"quoted\" back\\slash\nnew line\ttab \x01\x1f\x7f Zürich — 東京 🚀";
  const std::string op_name = "op {\"a\": [1]}\r\n\\u0041";
  const std::string uid = "uid \"\\ ü";
  const std::string state_name = "sum \"ß\"\n";
  cp::Metadata meta;
  meta.checkpoint_id = 4;
  meta.savepoint = true;
  meta.timestamp = 1795572158184;
  meta.job_name = job + " \xff\xfe";  // not UTF-8: replaced
  meta.backend = "heap";
  cp::SubtaskMeta st;
  st.subtask = 0;
  st.first_key_group = 0;
  st.last_key_group = 127;
  st.file = cp::FileRef{"op0-0.state", state.size(), cp::checksum(state)};
  st.state_names = {state_name};
  st.state_types = {{weir::runtime::StateScope::keyed, state_name, "ValueState<int64>", 1},
                    {weir::runtime::StateScope::key, "", "string", 1}};
  meta.operators.push_back(cp::OperatorMeta{uid, op_name, 1, 128, {st}});
  cp::write_metadata(dir, meta);

  const CliRun r = run_weir("savepoint inspect --json " + quote(dir), tmp);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
  EXPECT_EQ(j["job"].get<std::string>(), job + " \xEF\xBF\xBD\xEF\xBF\xBD");  // U+FFFD each
  EXPECT_EQ(j["kind"], "savepoint");
  EXPECT_EQ(j["verify"], "ok");
  ASSERT_EQ(j["operators"].size(), 1u);
  const auto& op = j["operators"][0];
  EXPECT_EQ(op["uid"].get<std::string>(), uid);
  EXPECT_EQ(op["name"].get<std::string>(), op_name);
  EXPECT_EQ(op["state_names"], nlohmann::json::array({state_name}));
  EXPECT_EQ(op["state_types"][1]["name"].get<std::string>(), state_name);
  EXPECT_EQ(op["subtasks"][0]["state_names"][0].get<std::string>(), state_name);
  EXPECT_EQ(op["subtasks"][0]["file"]["ok"], true);
  // One line: every newline inside a name is escaped.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

}  // namespace

namespace format_one {

// The metadata records of format 1 (no state types), as that format wrote them.
using SubtaskMetaV1 = weir::checkpoint::format1::SubtaskMeta;
using OperatorMetaV1 = weir::checkpoint::format1::OperatorMeta;
using MetadataV1 = weir::checkpoint::format1::Metadata;

// Format 1 recorded no state types: inspect still reads it and says so.
TEST(SavepointInspectFormat, FormatOneSaysStateTypesWereNotRecorded) {
  namespace cp = weir::checkpoint;
  TempDir tmp;
  const std::string dir = tmp.sub("sp");
  cp::make_dirs(dir);
  MetadataV1 meta;
  meta.checkpoint_id = 7;
  meta.savepoint = true;
  meta.job_name = "old";
  meta.backend = "canonical";
  OperatorMetaV1 op{"counts", "Keyed Process", 2, 128, {}};
  op.subtasks.push_back(SubtaskMetaV1{0, 0, 63, {}, {}, 0, 0, 0, {}});
  op.subtasks.push_back(SubtaskMetaV1{1, 64, 127, {}, {}, 0, 0, 0, {}});
  meta.operators.push_back(op);
  const std::string body = weir::serialize(meta);
  std::string bytes = "WEIRCKPT";
  weir::ByteWriter w(bytes);
  w.write_fixed(uint32_t{1});
  w.write_fixed(cp::checksum(body));
  bytes += body;
  cp::write_file_atomic(dir + "/" + cp::kMetadataFile, bytes);

  CliRun r = run_weir("savepoint inspect " + quote(dir), tmp);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("format 1, backend canonical)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  uid 'counts'  name 'Keyed Process'  parallelism 2, max parallelism 128\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n    state types: not recorded (format 1)\n"), std::string::npos) << r.out;
  r = run_weir("savepoint inspect --json " + quote(dir), tmp);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"state_types\":null,"), std::string::npos) << r.out;
}

}  // namespace format_one
