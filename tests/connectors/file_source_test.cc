// FileSource: text, CSV and JSON lines from files and folders (bounded or watched), bad records
// under each policy with their origin, the size limit, metrics, and exactly-once across a
// failure and restore mid-file.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "weir/connectors/file.hpp"
#include "weir/connectors/file_sink.hpp"
#include "weir/weir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using weir::testsupport::TempDir;

void write_file(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

/// Writes under a hidden name and renames, so a watching source sees the whole file.
void publish_file(const std::string& path, const std::string& content) {
  const std::string tmp = (fs::path(path).parent_path() / ("." + fs::path(path).filename().string())).string();
  write_file(tmp, content);
  fs::rename(tmp, path);
}

template <class P>
bool wait_until(P pred, std::chrono::seconds limit = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

int64_t metric(const weir::JobClient& client, const std::string& key) {
  int64_t sum = 0;
  for (const auto& t : client.metrics()) {
    if (auto it = t.operator_metrics.find(key); it != t.operator_metrics.end()) sum += it->second;
  }
  return sum;
}

class TextFiles : public ::testing::TestWithParam<int> {};

TEST_P(TextFiles, BoundedSourceReadsEveryLineOfTheFilesAndFolders) {
  TempDir dir;
  std::vector<std::string> expected;
  std::string single;
  for (int i = 0; i < 50; ++i) {
    single += "single " + std::to_string(i) + "\n";
    expected.push_back("single " + std::to_string(i));
  }
  write_file(dir.sub("one.txt"), single);
  for (int f = 0; f < 6; ++f) {
    std::string content;
    for (int i = 0; i < 300; ++i) {
      content += "f" + std::to_string(f) + " " + std::to_string(i) + (i % 7 == 0 ? "\r\n" : "\n");
      expected.push_back("f" + std::to_string(f) + " " + std::to_string(i));
    }
    content += "\n";  // an empty line is a record of the text format
    expected.push_back("");
    content += "last without line break";
    expected.push_back("last without line break");
    write_file(dir.sub("in/" + std::string(f % 2 ? "sub/" : "") + "part-" + std::to_string(f)), content);
  }
  write_file(dir.sub("in/.hidden"), "not read\n");
  write_file(dir.sub("in/_SUCCESS"), "not read\n");
  write_file(dir.sub("in/.tmp/inside"), "not read\n");
  auto source = weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("one.txt"), dir.sub("in")})
                    .build();
  EXPECT_TRUE(source.is_bounded());
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  auto out = env.from_source(source, weir::WatermarkStrategy<std::string>::no_watermarks(), "files").collect_async();
  auto client = env.execute_async("text files");
  client.wait();
  EXPECT_EQ(sorted(out.get()), sorted(expected));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, TextFiles, ::testing::Values(1, 2, 4));

TEST(FileSourceErrors, AMissingPathFailsTheJobNamingIt) {
  TempDir dir;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  env.from_source(weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("nope")}).build(),
                  weir::WatermarkStrategy<std::string>::no_watermarks(), "files")
      .add_sink([](const std::string&) {});
  try {
    env.execute("missing");
    FAIL() << "the job should fail";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(dir.sub("nope") + "' does not exist"), std::string::npos) << e.what();
  }
}

TEST(FileSourceErrors, BuilderRefusesBadOptions) {
  using S = weir::FileSource<std::string>;
  EXPECT_THROW(S::for_record_stream_format(weir::TextLineFormat{}, {}), weir::GraphError);
  EXPECT_THROW(S::for_record_stream_format(weir::TextLineFormat{}, {"/x"}).set_max_record_bytes(0), weir::GraphError);
  EXPECT_THROW(S::for_record_stream_format(weir::TextLineFormat{}, {"/x"}).monitor_continuously(0ms), weir::GraphError);
}

// ---- CSV ----

TEST(Csv, ParsesRfc4180Quoting) {
  weir::CsvRow row;
  std::string error;
  ASSERT_TRUE(weir::file_detail::parse_csv(R"(a,"b,c","say ""hi""",,"")", ',', '"', row, error)) << error;
  EXPECT_EQ(row, (weir::CsvRow{"a", "b,c", "say \"hi\"", "", ""}));
  ASSERT_TRUE(weir::file_detail::parse_csv("x;\"multi\nline\";", ';', '"', row, error)) << error;
  EXPECT_EQ(row, (weir::CsvRow{"x", "multi\nline", ""}));
  EXPECT_FALSE(weir::file_detail::parse_csv(R"(a,"open)", ',', '"', row, error));
  EXPECT_NE(error.find("not closed"), std::string::npos) << error;
  EXPECT_FALSE(weir::file_detail::parse_csv(R"(a,b"c)", ',', '"', row, error));
  EXPECT_NE(error.find("inside an unquoted field"), std::string::npos) << error;
  EXPECT_FALSE(weir::file_detail::parse_csv(R"("a"b,c)", ',', '"', row, error));
  EXPECT_NE(error.find("after the closing quote"), std::string::npos) << error;
}

struct Person {
  std::string name;
  int64_t age = 0;
  std::string note;
  bool operator<(const Person& o) const { return name < o.name; }
  bool operator==(const Person&) const = default;
};
WEIR_SERDE(Person, name, age, note)

TEST(Csv, SkipsTheHeaderAndMapsRowsToAStructWithQuotedLineBreaks) {
  TempDir dir;
  write_file(dir.sub("people.csv"),
             "name;age;note\r\n"
             "ann;31;\"likes; semicolons\"\r\n"
             "\"bob \"\"b\"\"\";42;\"two\nlines\"\n"
             "\n"
             "cid;7;plain");
  auto format = weir::CsvFormat().set_delimiter(';').set_skip_header().set_expected_fields(3).map([](const weir::CsvRow& r) {
    return Person{r[0], std::stoll(r[1]), r[2]};
  });
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto out = env.from_source(weir::FileSource<Person>::for_record_stream_format(format, {dir.sub("people.csv")}).build(),
                             weir::WatermarkStrategy<Person>::no_watermarks(), "csv")
                 .execute_and_collect();
  EXPECT_EQ(sorted(out), (std::vector<Person>{{"ann", 31, "likes; semicolons"}, {"bob \"b\"", 42, "two\nlines"}, {"cid", 7, "plain"}}));
}

/// A CSV file whose records 3 and 5 are bad: an unclosed quote at the end would swallow the
/// rest, so the bad ones are a stray quote and a wrong field count.
std::string bad_csv() {
  return "1,a\n"
         "2,b\n"
         "3,x\"y\n"
         "4,d\n"
         "5,e,extra\n"
         "6,f\n";
}

weir::FileSource<weir::CsvRow> csv_source(const std::string& path, weir::BadRecordPolicy policy) {
  return weir::FileSource<weir::CsvRow>::for_record_stream_format(weir::CsvFormat().set_expected_fields(2), {path})
      .set_bad_record_policy(std::move(policy))
      .build();
}

TEST(CsvBadRecords, FailNamesTheFileLineOffsetAndError) {
  TempDir dir;
  write_file(dir.sub("bad.csv"), bad_csv());
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  env.from_source(csv_source(dir.sub("bad.csv"), weir::BadRecordPolicy::fail()),
                  weir::WatermarkStrategy<weir::CsvRow>::no_watermarks(), "csv")
      .add_sink([](const weir::CsvRow&) {});
  try {
    env.execute("fail");
    FAIL() << "the job should fail";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("file " + dir.sub("bad.csv") + " line 3 (byte 8)"), std::string::npos) << m;
    EXPECT_NE(m.find("inside an unquoted field"), std::string::npos) << m;
    EXPECT_NE(m.find("BadRecordPolicy::skip()"), std::string::npos) << m;
  }
}

TEST(CsvBadRecords, SkipCountsThemInTheMetrics) {
  TempDir dir;
  write_file(dir.sub("bad.csv"), bad_csv());
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto out = env.from_source(csv_source(dir.sub("bad.csv"), weir::BadRecordPolicy::skip()),
                             weir::WatermarkStrategy<weir::CsvRow>::no_watermarks(), "csv")
                 .collect_async();
  auto client = env.execute_async("skip");
  client.wait();
  std::vector<std::string> firsts;
  for (auto& r : out.get()) firsts.push_back(r[0]);
  EXPECT_EQ(sorted(firsts), (std::vector<std::string>{"1", "2", "4", "6"}));
}

// Metrics belong to the running tasks: a watched folder keeps the job running to read them.
TEST(CsvBadRecords, MetricsCountRecordsBytesFilesAndSkippedRecords) {
  TempDir dir;
  write_file(dir.sub("in/bad.csv"), bad_csv());
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_source(weir::FileSource<weir::CsvRow>::for_record_stream_format(weir::CsvFormat().set_expected_fields(2), {dir.sub("in")})
                      .set_bad_record_policy(weir::BadRecordPolicy::skip())
                      .monitor_continuously(10ms)
                      .build(),
                  weir::WatermarkStrategy<weir::CsvRow>::no_watermarks(), "csv")
      .add_sink([](const weir::CsvRow&) {});
  auto client = env.execute_async("metrics");
  EXPECT_TRUE(wait_until([&] { return metric(client, "csv.files") == 1; }));
  EXPECT_EQ(metric(client, "csv.records"), 4);
  EXPECT_EQ(metric(client, "csv.bad_records_skipped"), 2);
  EXPECT_EQ(metric(client, "csv.bytes"), static_cast<int64_t>(bad_csv().size()));
  client.cancel();
  EXPECT_THROW(client.wait(), std::exception);
}

TEST(CsvBadRecords, DeadLetterCarriesTheOriginalBytesAndOrigin) {
  TempDir dir;
  write_file(dir.sub("bad.csv"), bad_csv());
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  const auto policy = weir::BadRecordPolicy::dead_letter();
  auto rows = env.from_source(csv_source(dir.sub("bad.csv"), policy), weir::WatermarkStrategy<weir::CsvRow>::no_watermarks(), "csv");
  auto good = rows.collect_async();
  auto bad = rows.get_side_output(policy.tag()).collect_async();
  auto client = env.execute_async("dead letter");
  client.wait();
  EXPECT_EQ(good.get().size(), 4u);
  auto letters = bad.get();
  ASSERT_EQ(letters.size(), 2u);
  std::sort(letters.begin(), letters.end(), [](auto& a, auto& b) { return a.origin < b.origin; });
  EXPECT_EQ(letters[0].bytes, "3,x\"y");
  EXPECT_EQ(letters[0].origin, "file " + dir.sub("bad.csv") + " line 3 (byte 8)");
  EXPECT_EQ(letters[1].bytes, "5,e,extra");
  EXPECT_EQ(letters[1].origin, "file " + dir.sub("bad.csv") + " line 5 (byte 18)");
  EXPECT_NE(letters[1].error.find("expected 2 fields, found 3"), std::string::npos) << letters[1].error;
}

// ---- JSON lines ----

TEST(JsonLines, ValidLinesPassMalformedOnesAreBadRecords) {
  TempDir dir;
  write_file(dir.sub("in.jsonl"), "{\"a\":1}\n\n[1,2]\n{\"a\": oops}\n\"text\"\n{\"a\":2\n");
  const auto policy = weir::BadRecordPolicy::dead_letter();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto s = env.from_source(weir::FileSource<std::string>::for_record_stream_format(weir::JsonLinesFormat{}, {dir.sub("in.jsonl")})
                               .set_bad_record_policy(policy)
                               .build(),
                           weir::WatermarkStrategy<std::string>::no_watermarks(), "json");
  auto good = s.collect_async();
  auto bad = s.get_side_output(policy.tag()).collect_async();
  env.execute("json lines");
  EXPECT_EQ(sorted(good.get()), (std::vector<std::string>{"\"text\"", "[1,2]", "{\"a\":1}"}));
  auto letters = bad.get();
  ASSERT_EQ(letters.size(), 2u);
  std::sort(letters.begin(), letters.end(), [](auto& a, auto& b) { return a.origin < b.origin; });
  EXPECT_EQ(letters[0].bytes, "{\"a\": oops}");
  EXPECT_EQ(letters[0].origin, "file " + dir.sub("in.jsonl") + " line 4 (byte 15)");
  EXPECT_NE(letters[0].error.find("not valid JSON"), std::string::npos) << letters[0].error;
  EXPECT_EQ(letters[1].bytes, "{\"a\":2");
}

TEST(JsonLines, AUserFunctionMapsTheJsonText) {
  TempDir dir;
  write_file(dir.sub("in.jsonl"), "{\"n\":1}\n{\"n\":22}\n{\"m\":3}\n");
  auto format = weir::JsonLinesFormat{}.map([](const std::string& json) -> int64_t {
    const auto at = json.find("\"n\":");
    if (at == std::string::npos) throw std::invalid_argument("no field n");
    return std::stoll(json.substr(at + 4));
  });
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  const auto policy = weir::BadRecordPolicy::dead_letter();
  auto s = env.from_source(weir::FileSource<int64_t>::for_record_stream_format(format, {dir.sub("in.jsonl")})
                               .set_bad_record_policy(policy)
                               .build(),
                           weir::WatermarkStrategy<int64_t>::no_watermarks(), "json");
  auto good = s.collect_async();
  auto bad = s.get_side_output(policy.tag()).collect_async();
  env.execute("mapped json");
  EXPECT_EQ(sorted(good.get()), (std::vector<int64_t>{1, 22}));
  auto letters = bad.get();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].error.find("no field n"), std::string::npos) << letters[0].error;
}

// ---- size limit ----

TEST(MaxRecordBytes, ALongLineIsABadRecordCutAtTheLimitAndReadingGoesOn) {
  TempDir dir;
  const std::string huge(3 << 20, 'x');  // 3 MiB, far above the 1 KiB limit
  write_file(dir.sub("in.txt"), "short\r\n" + huge + "\r\n" + std::string(1024, 'y') + "\r\nafter\n");
  const auto policy = weir::BadRecordPolicy::dead_letter();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto s = env.from_source(weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("in.txt")})
                               .set_max_record_bytes(1024)
                               .set_bad_record_policy(policy)
                               .build(),
                           weir::WatermarkStrategy<std::string>::no_watermarks(), "text");
  auto good = s.collect_async();
  auto bad = s.get_side_output(policy.tag()).collect_async();
  env.execute("limit");
  EXPECT_EQ(good.get(), (std::vector<std::string>{"short", std::string(1024, 'y'), "after"})) << "exactly at the limit is fine";
  auto letters = bad.get();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].bytes, std::string(1024, 'x'));
  EXPECT_EQ(letters[0].origin, "file " + dir.sub("in.txt") + " line 2 (byte 7)");
  EXPECT_NE(letters[0].error.find(std::to_string(3 << 20) + " bytes, above the limit of 1024 bytes"), std::string::npos)
      << letters[0].error;
}

// ---- positions ----

/// Collects outside a job.
template <class T>
struct VectorOutput final : weir::SourceOutput<T> {
  std::vector<T> got;
  using weir::SourceOutput<T>::collect;
  void collect(T&& v, int64_t) override { got.push_back(std::move(v)); }
};

TEST(Position, AReaderRestoredAtASnapshotReadsOnWithoutDuplicatesOrLoss) {
  TempDir dir;
  std::string content;
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    expected.push_back("\"q" + std::to_string(i) + "\nx\"," + std::to_string(i));
    content += expected.back() + "\n";
  }
  write_file(dir.sub("q.csv"), content);
  auto source = weir::FileSource<std::string>::for_record_stream_format(
                    weir::CsvFormat().map([](const weir::CsvRow& r) { return "\"" + r[0] + "\"," + r[1]; }), {dir.sub("q.csv")})
                    .build();
  VectorOutput<std::string> out;
  auto first = source.create_reader(weir::FileSplit{dir.sub("q.csv")});
  ASSERT_EQ(first->read(337, out), weir::SplitReader<std::string>::Status::kMoreAvailable);
  const auto pos = first->snapshot_position();
  ASSERT_TRUE(pos.has_value());
  first->read(50, out);  // read after the snapshot: lost with the failed reader
  out.got.resize(337);
  auto second = source.create_reader(weir::FileSplit{dir.sub("q.csv")});
  second->restore_position(*pos);
  while (second->read(100, out) != weir::SplitReader<std::string>::Status::kEndOfSplit) {
  }
  EXPECT_EQ(out.got, expected);
  // The position is (byte offset, line): 337 records of two lines each were read.
  const auto [offset, line, aligned] = weir::deserialize<std::tuple<uint64_t, uint64_t, bool>>(*pos);
  EXPECT_TRUE(aligned);
  EXPECT_EQ(line, 675u);
  uint64_t bytes = 0;
  for (int i = 0; i < 337; ++i) bytes += expected[static_cast<std::size_t>(i)].size() + 1;
  EXPECT_EQ(offset, bytes);
}

// ---- exactly once across a failure ----

/// Lines of the committed part files (names not starting with '.').
std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> lines;
  if (!fs::exists(dir)) return lines;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return lines;
}

std::atomic<bool> g_checkpointed{false};
std::atomic<bool> g_failed{false};
std::atomic<int64_t> g_sleep_every{50};  ///< the map sleeps 1 ms every this many records
constexpr int64_t kPerFile = 10000;

/// Writes `files` files of kPerFile numbered lines (file k: k*kPerFile ...) under `dir`.
std::vector<std::string> numbered_files(const std::string& dir, int first, int files) {
  std::vector<std::string> all;
  for (int f = first; f < first + files; ++f) {
    std::string content;
    for (int64_t i = f * kPerFile; i < (f + 1) * kPerFile; ++i) {
      content += std::to_string(i) + "\n";
      all.push_back(std::to_string(i));
    }
    publish_file(dir + "/numbers-" + std::to_string(f) + ".txt", content);
  }
  return all;
}

/// Fails once, in the second half of a file, once a checkpoint is through; slow enough that
/// checkpoints land in the middle of files.
std::string fail_once_mid_file(const std::string& line) {
  const int64_t v = std::stoll(line);
  if (v % g_sleep_every.load() == 0) std::this_thread::sleep_for(1ms);
  if (v % kPerFile >= kPerFile / 2 && g_checkpointed.load() && !g_failed.exchange(true)) {
    throw std::runtime_error("injected failure");
  }
  return line;
}

class ExactlyOnce : public ::testing::TestWithParam<int> {};

TEST_P(ExactlyOnce, FailureMidFileRestoresFromTheCheckpointWithoutDuplicatesOrLoss) {
  TempDir dir;
  g_checkpointed = false;
  g_failed = false;
  auto expected = numbered_files(dir.sub("in"), 0, 4);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.enable_checkpointing(20);
  env.set_checkpoint_storage("file://" + dir.sub("chk"));
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, 10ms));
  env.from_source(weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("in")}).build(),
                  weir::WatermarkStrategy<std::string>::no_watermarks(), "files")
      .uid("files")
      .map(fail_once_mid_file)
      .uid("fail")
      .sink_to(weir::FileSink<std::string>::for_row_format(dir.sub("out")).build());
  auto client = env.execute_async("files exactly once");
  ASSERT_TRUE(wait_until([&] { return client.get_checkpoint_stats().completed >= 1; }));
  g_checkpointed = true;
  client.wait();
  EXPECT_TRUE(g_failed.load()) << "the failure was never injected";
  EXPECT_EQ(client.get_restart_count(), 1);
  EXPECT_EQ(sorted(committed_lines(dir.sub("out"))), sorted(expected));
}

TEST_P(ExactlyOnce, WatchedFolderReadsNewFilesAndARestoreDoesNotReadSeenFilesAgain) {
  TempDir dir;
  g_checkpointed = false;
  g_failed = false;
  auto expected = numbered_files(dir.sub("in"), 0, 2);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.enable_checkpointing(20);
  env.set_checkpoint_storage("file://" + dir.sub("chk"));
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, 10ms));
  auto source = weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("in")})
                    .monitor_continuously(20ms)
                    .build();
  EXPECT_FALSE(source.is_bounded());
  env.from_source(source, weir::WatermarkStrategy<std::string>::no_watermarks(), "files")
      .uid("files")
      .map(fail_once_mid_file)
      .uid("fail")
      .sink_to(weir::FileSink<std::string>::for_row_format(dir.sub("out")).build());
  auto client = env.execute_async("watched folder");
  // The first files are read and committed (a checkpoint holds them as seen and done).
  ASSERT_TRUE(wait_until([&] { return committed_lines(dir.sub("out")).size() >= expected.size(); }));
  g_checkpointed = true;  // fails in one of the files that come now
  for (auto& l : numbered_files(dir.sub("in"), 2, 2)) expected.push_back(l);
  ASSERT_TRUE(wait_until([&] { return committed_lines(dir.sub("out")).size() >= expected.size(); }));
  // Two more checkpoints: a duplicate read after the restore would be committed by then.
  const auto done = client.get_checkpoint_stats().completed;
  ASSERT_TRUE(wait_until([&] { return client.get_checkpoint_stats().completed >= done + 2; }));
  client.cancel();
  EXPECT_THROW(client.wait(), std::exception);
  EXPECT_TRUE(g_failed.load()) << "the failure was never injected";
  EXPECT_EQ(client.get_restart_count(), 1);
  EXPECT_EQ(sorted(committed_lines(dir.sub("out"))), sorted(expected));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ExactlyOnce, ::testing::Values(1, 2, 4));

}  // namespace

namespace {

TEST(MaxRecordBytes, AnUnclosedCsvQuoteCostsOneOversizedRecordNotTheRestOfTheFile) {
  TempDir dir;
  write_file(dir.sub("in.csv"), "1,a\n2,\"never closed\n3,c\n4,d\n5,e\n6,f\n");
  const auto policy = weir::BadRecordPolicy::dead_letter();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(1);
  auto s = env.from_source(weir::FileSource<weir::CsvRow>::for_record_stream_format(weir::CsvFormat{}, {dir.sub("in.csv")})
                               .set_max_record_bytes(20)
                               .set_bad_record_policy(policy)
                               .build(),
                           weir::WatermarkStrategy<weir::CsvRow>::no_watermarks(), "csv");
  auto good = s.collect_async();
  auto bad = s.get_side_output(policy.tag()).collect_async();
  env.execute("unclosed quote");
  std::vector<std::string> firsts;
  for (auto& r : good.get()) firsts.push_back(r[0]);
  EXPECT_EQ(firsts, (std::vector<std::string>{"1", "5", "6"}));
  auto letters = bad.get();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].bytes, "2,\"never closed\n3,c\n");  // the first 20 bytes of the record
  EXPECT_EQ(letters[0].origin, "file " + dir.sub("in.csv") + " line 2 (byte 4)");
}

}  // namespace

namespace {

class Rescale : public ::testing::TestWithParam<int> {};

TEST_P(Rescale, SavepointMidFileResumedAtAnotherParallelismReadsEveryLineOnce) {
  TempDir dir;
  auto expected = numbered_files(dir.sub("in"), 0, 3);
  auto pipeline = [&](weir::StreamExecutionEnvironment& env) {
    return env
        .from_source(weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("in")}).build(),
                     weir::WatermarkStrategy<std::string>::no_watermarks(), "files")
        .uid("files")
        .map([](const std::string& l) {
          if (std::stoll(l) % 50 == 0) std::this_thread::sleep_for(1ms);
          return l;
        })
        .uid("slow")
        .collect_async();
  };
  std::vector<std::string> before;
  std::string path;
  {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(2).set_worker_threads(2);
    env.enable_checkpointing(3600 * 1000);
    auto out = pipeline(env);
    auto client = env.execute_async("first part");
    ASSERT_TRUE(wait_until([&] { return metric(client, "files.records") >= 3000; }));
    path = client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
    before = out.get();
  }
  ASSERT_LT(before.size(), expected.size()) << "the savepoint was taken part-way";
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(path));
  auto out = pipeline(env);
  env.execute("second part");
  auto all = before;
  for (auto& l : out.get()) all.push_back(l);
  EXPECT_EQ(sorted(all), sorted(expected));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Rescale, ::testing::Values(1, 3));

}  // namespace

namespace {

/// Lines of varied length, CRLF and LF, an empty line, and a last line without a line break.
std::pair<std::string, std::vector<std::string>> varied_lines() {
  std::string content;
  std::vector<std::string> lines;
  for (int i = 0; i < 60; ++i) {
    std::string l = i == 17 ? "" : std::string(static_cast<std::size_t>(i % 9), 'a' + static_cast<char>(i % 26)) + std::to_string(i);
    lines.push_back(l);
    content += l + (i % 4 == 0 ? "\r\n" : "\n");
  }
  content += "tail";
  lines.push_back("tail");
  return {content, lines};
}

TEST(ByteRanges, EverySplitSizeReadsEveryLineOnceWhateverWhereTheRangesCut) {
  TempDir dir;
  const auto [content, lines] = varied_lines();
  write_file(dir.sub("v.txt"), content);
  auto source = weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("v.txt")}).build();
  for (uint64_t size = 1; size <= content.size() + 1; ++size) {
    VectorOutput<std::string> out;
    for (uint64_t start = 0; start < content.size(); start += size) {
      const int64_t end = start + size >= content.size() ? -1 : static_cast<int64_t>(start + size);
      auto reader = source.create_reader(weir::FileSplit{dir.sub("v.txt"), start, end});
      // Half of the ranges go through a snapshot and a restore before their first record.
      if (start % 2 == 1) {
        const auto pos = reader->snapshot_position();
        reader = source.create_reader(weir::FileSplit{dir.sub("v.txt"), start, end});
        reader->restore_position(*pos);
      }
      while (reader->read(3, out) != weir::SplitReader<std::string>::Status::kEndOfSplit) {
      }
    }
    ASSERT_EQ(out.got, lines) << "split size " << size;
  }
}

TEST(ByteRanges, CsvFilesAreNotCut) {
  EXPECT_THROW(weir::FileSource<weir::CsvRow>::for_record_stream_format(weir::CsvFormat{}, {"/x"}).set_split_size(1024),
               weir::GraphError);
}

class ByteRangeJob : public ::testing::TestWithParam<int> {};

TEST_P(ByteRangeJob, OneLargeFileIsReadByEverySubtaskExactlyOnceAcrossAFailure) {
  TempDir dir;
  g_checkpointed = false;
  g_failed = false;
  auto expected = numbered_files(dir.sub("in"), 0, 1);  // one file, ~49 KB
  g_sleep_every = 10;  // > 1 s of work in all: checkpoints land before the second half is read
  struct Reset {
    ~Reset() { g_sleep_every = 50; }
  } reset;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(GetParam()).set_worker_threads(2);
  env.enable_checkpointing(20);
  env.set_checkpoint_storage("file://" + dir.sub("chk"));
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, 10ms));
  auto source = weir::FileSource<std::string>::for_record_stream_format(weir::TextLineFormat{}, {dir.sub("in")})
                    .set_split_size(4000)
                    .build();
  env.from_source(source, weir::WatermarkStrategy<std::string>::no_watermarks(), "files")
      .uid("files")
      .map(fail_once_mid_file)
      .uid("fail")
      .sink_to(weir::FileSink<std::string>::for_row_format(dir.sub("out")).build());
  auto client = env.execute_async("byte ranges");
  ASSERT_TRUE(wait_until([&] { return client.get_checkpoint_stats().completed >= 1; }));
  g_checkpointed = true;
  client.wait();
  EXPECT_TRUE(g_failed.load()) << "the failure was never injected";
  EXPECT_EQ(sorted(committed_lines(dir.sub("out"))), sorted(expected));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ByteRangeJob, ::testing::Values(1, 2, 4));

}  // namespace
