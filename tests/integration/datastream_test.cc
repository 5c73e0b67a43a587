// Jobs built with the DataStream API, each compared with a plain sequential computation of the
// same result, at parallelism 1, 2 and 4.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "weir/connectors/socket.hpp"
#include "weir/weir.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>

namespace {

struct Ev {
  int64_t id = 0;
  std::string user;
  double amount = 0;
  bool operator==(const Ev&) const = default;
};

}  // namespace
WEIR_SERDE(Ev, id, user, amount)  // the trailing semicolon is optional

namespace {

class Parallel : public ::testing::TestWithParam<int> {
 protected:
  weir::StreamExecutionEnvironment env = [] {
    auto e = weir::StreamExecutionEnvironment::create();
    e.set_worker_threads(2);
    return e;
  }();
  void SetUp() override { env.set_parallelism(GetParam()); }
};

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> out;
  std::string w;
  for (char c : line) {
    if (c == ' ') {
      if (!w.empty()) out.push_back(w);
      w.clear();
    } else {
      w.push_back(c);
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

TEST_P(Parallel, MapFilterFlatMapMatchSequentialComputation) {
  const int64_t n = 100'000;
  auto got = env.from_sequence(1, n)
                 .map([](const int64_t& x) { return x * 2; })
                 .filter([](const int64_t& x) { return x % 3 != 0; })
                 .flat_map([](const int64_t& x, weir::Collector<std::string>& out) {
                   out.collect(std::to_string(x));
                   if (x % 10 == 0) out.collect("ten");
                 })
                 .execute_and_collect();
  std::vector<std::string> want;
  for (int64_t x = 1; x <= n; ++x) {
    const int64_t y = x * 2;
    if (y % 3 == 0) continue;
    want.push_back(std::to_string(y));
    if (y % 10 == 0) want.push_back("ten");
  }
  EXPECT_EQ(sorted(got), sorted(want));
}

TEST_P(Parallel, KeyedReduceEmitsRunningValuePerKeyAsSequentialComputation) {
  const int64_t n = 50'000;
  auto gen = [](int64_t i) { return Ev{i, "u" + std::to_string(i * 7919 % 97), static_cast<double>(i % 13)}; };
  auto got = env.from_generator(n, gen)
                 .key_by([](const Ev& e) { return e.user; })
                 .reduce([](const Ev& a, const Ev& b) { return Ev{std::max(a.id, b.id), a.user, a.amount + b.amount}; })
                 .execute_and_collect();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  // Per key, the running sums arrive in the key's input order. Input order of one key across
  // parallel generator subtasks is not defined, so compare the final value per key and the
  // multiset of running counts.
  std::map<std::string, double> final_sum;
  std::map<std::string, int64_t> count;
  for (int64_t i = 0; i < n; ++i) {
    auto e = gen(i);
    final_sum[e.user] += e.amount;
    ++count[e.user];
  }
  std::map<std::string, double> got_max;
  std::map<std::string, int64_t> got_count;
  for (const auto& e : got) {
    got_max[e.user] = std::max(got_max[e.user], e.amount);
    ++got_count[e.user];
  }
  EXPECT_EQ(got_max, final_sum);
  EXPECT_EQ(got_count, count);
}

TEST_P(Parallel, WordCountMatchesSequentialCount) {
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; ++i) lines.push_back("w" + std::to_string(i % 17) + " x w" + std::to_string(i % 5) + " x");
  using WC = std::pair<std::string, int64_t>;
  auto got = env.from_collection(lines)
                 .flat_map([](const std::string& line, weir::Collector<WC>& out) {
                   for (auto& w : split_words(line)) out.collect({w, 1});
                 })
                 .key_by([](const WC& p) { return p.first; })
                 .reduce([](const WC& a, const WC& b) { return WC{a.first, a.second + b.second}; })
                 .execute_and_collect();
  std::map<std::string, int64_t> want;
  for (auto& l : lines)
    for (auto& w : split_words(l)) ++want[w];
  std::map<std::string, int64_t> last;
  for (auto& [w, c] : got) last[w] = std::max(last[w], c);
  EXPECT_EQ(last, want);
  int64_t total = 0;
  for (auto& [w, c] : want) total += c;
  EXPECT_EQ(static_cast<int64_t>(got.size()), total);
}

TEST_P(Parallel, EveryRecordOfAKeyReachesTheSameSubtask) {
  struct Tag {
    int subtask = -1;
    void open(weir::RuntimeContext& rc) { subtask = rc.get_index_of_this_subtask(); }
    std::pair<int64_t, int> operator()(const int64_t& x) const { return {x % 50, subtask}; }
  };
  auto got = env.from_sequence(0, 9999).key_by([](const int64_t& x) { return x % 50; }).map(Tag{}).execute_and_collect();
  ASSERT_EQ(got.size(), 10000u);
  std::map<int64_t, std::set<int>> where;
  for (auto& [k, s] : got) where[k].insert(s);
  for (auto& [k, s] : where) EXPECT_EQ(s.size(), 1u) << "key " << k;
  // and the subtask is the owner of the key's key group
  for (auto& [k, s] : where) {
    const int kg = weir::runtime::key_group_of(k, 128);
    EXPECT_EQ(*s.begin(), weir::runtime::operator_index_for_key_group(kg, 128, GetParam()));
  }
}

TEST_P(Parallel, UnionMergesStreamsOfTheSameType) {
  auto a = env.from_sequence(1, 1000);
  auto b = env.from_sequence(2001, 3000);
  auto c = env.from_collection(std::vector<int64_t>{-1, -2});
  auto got = a.union_(b, c).map([](const int64_t& x) { return x + 1; }).execute_and_collect();
  std::vector<int64_t> want;
  for (int64_t x = 1; x <= 1000; ++x) want.push_back(x + 1);
  for (int64_t x = 2001; x <= 3000; ++x) want.push_back(x + 1);
  want.push_back(0);
  want.push_back(-1);
  EXPECT_EQ(sorted(got), sorted(want));
}

TEST_P(Parallel, ConnectedStreamsMapAndFlatMapBothInputs) {
  auto nums = env.from_sequence(1, 500);
  auto words = env.from_collection(std::vector<std::string>{"a", "bb", "ccc"});
  auto mapped = nums.connect(words)
                    .map([](const int64_t& x) { return std::to_string(x); },
                         [](const std::string& s) { return "s:" + s; })
                    .execute_and_collect();
  std::vector<std::string> want;
  for (int64_t x = 1; x <= 500; ++x) want.push_back(std::to_string(x));
  for (std::string s : {"a", "bb", "ccc"}) want.push_back("s:" + s);
  EXPECT_EQ(sorted(mapped), sorted(want));

  auto flat = env.from_sequence(1, 100)
                  .connect(env.from_collection(std::vector<std::string>{"x y", "z"}))
                  .flat_map([](const int64_t& x, weir::Collector<int64_t>& out) { if (x % 2 == 0) out.collect(x); },
                            [](const std::string& s, weir::Collector<int64_t>& out) {
                              for (auto& w : split_words(s)) out.collect(-static_cast<int64_t>(w.size()));
                            })
                  .execute_and_collect();
  std::vector<int64_t> want2;
  for (int64_t x = 2; x <= 100; x += 2) want2.push_back(x);
  want2.insert(want2.end(), {-1, -1, -1});
  EXPECT_EQ(sorted(flat), sorted(want2));
}

struct SplitOddEven : weir::ProcessFunction<int64_t, int64_t> {
  void process_element(const int64_t& x, Context& ctx, weir::Collector<int64_t>& out) override {
    if (x % 2 == 0) {
      out.collect(x);
      if (x == 2) ctx.output(weir::OutputTag<std::string>("odd"), "two is even");  // a literal converts
    } else {
      ctx.output(weir::OutputTag<std::string>("odd"), "odd:" + std::to_string(x));
    }
  }
};

TEST_P(Parallel, ProcessFunctionSplitsIntoMainAndSideOutput) {
  auto main = env.from_sequence(1, 1000).process(SplitOddEven{});
  auto side = main.get_side_output(weir::OutputTag<std::string>("odd"));
  auto h_main = main.collect_async();
  auto h_side = side.collect_async();
  env.execute("split");
  std::vector<int64_t> want_main;
  std::vector<std::string> want_side{"two is even"};
  for (int64_t x = 1; x <= 1000; ++x) {
    if (x % 2 == 0) want_main.push_back(x);
    else want_side.push_back("odd:" + std::to_string(x));
  }
  EXPECT_EQ(sorted(h_main.get()), sorted(want_main));
  EXPECT_EQ(sorted(h_side.get()), sorted(want_side));
}

TEST_P(Parallel, PartitionersDeliverEveryRecordExactlyOnceOrToEverySubtask) {
  const int p = GetParam();
  auto src = env.from_sequence(1, 4000);
  auto h_rebalance = src.rebalance().map([](const int64_t& x) { return x; }).collect_async();
  auto h_shuffle = src.shuffle().map([](const int64_t& x) { return x; }).collect_async();
  auto h_forward = src.forward().map([](const int64_t& x) { return x; }).collect_async();
  auto h_custom = src.partition_custom([](const int64_t& k, int n) { return static_cast<int>(k % n); },
                                       [](const int64_t& x) { return x; })
                      .map([](const int64_t& x) { return x; })
                      .collect_async();
  auto h_broadcast = src.broadcast().map([](const int64_t& x) { return x; }).collect_async();
  struct Who {
    int subtask = 0;
    void open(weir::RuntimeContext& rc) { subtask = rc.get_index_of_this_subtask(); }
    std::pair<int64_t, int> operator()(const int64_t& x) const { return {x, subtask}; }
  };
  auto h_global = src.global().map(Who{}).collect_async();
  env.execute("partitioners");
  std::vector<int64_t> once;
  for (int64_t x = 1; x <= 4000; ++x) once.push_back(x);
  EXPECT_EQ(sorted(h_rebalance.get()), once);
  EXPECT_EQ(sorted(h_shuffle.get()), once);
  EXPECT_EQ(sorted(h_forward.get()), once);
  EXPECT_EQ(sorted(h_custom.get()), once);
  std::vector<int64_t> times_p;
  for (int64_t x = 1; x <= 4000; ++x)
    for (int i = 0; i < p; ++i) times_p.push_back(x);
  EXPECT_EQ(sorted(h_broadcast.get()), times_p);
  std::vector<std::pair<int64_t, int>> at_zero;
  for (int64_t x = 1; x <= 4000; ++x) at_zero.push_back({x, 0});
  EXPECT_EQ(sorted(h_global.get()), at_zero);
}

TEST_P(Parallel, RebalanceSpreadsRecordsEvenlyOverSubtasks) {
  struct Who {
    int subtask = 0;
    void open(weir::RuntimeContext& rc) { subtask = rc.get_index_of_this_subtask(); }
    int operator()(const int64_t&) const { return subtask; }
  };
  auto got = env.from_collection(std::vector<int64_t>(1200, 1)).rebalance().map(Who{}).execute_and_collect();
  std::map<int, int> per;
  for (int s : got) ++per[s];
  ASSERT_EQ(static_cast<int>(per.size()), GetParam());
  for (auto& [s, c] : per) EXPECT_EQ(c, 1200 / GetParam());
}

TEST_P(Parallel, CollectionSourceKeepsOrderThroughForwardChain) {
  std::vector<std::string> in;
  for (int i = 0; i < 5000; ++i) in.push_back("r" + std::to_string(i));
  auto got = env.from_collection(in).map([](const std::string& s) { return s + "!"; }).set_parallelism(1).execute_and_collect();
  ASSERT_EQ(got.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(got[i], in[i] + "!");
}

TEST_P(Parallel, TextFileRoundTripsThroughWriteAsTextAndReadTextFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("weir_text_" + std::to_string(::getpid()) + "_" + std::to_string(GetParam()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "in.txt");
    for (int i = 0; i < 3000; ++i) f << "line " << i << (i % 2 ? "\r\n" : "\n");
  }
  env.read_text_file((dir / "in.txt").string())
      .map([](const std::string& s) { return s.size(); })
      .write_as_text((dir / "out").string());
  env.execute("text files");
  std::vector<std::string> got;
  const int p = GetParam();
  for (int i = 1; i <= p; ++i) {
    auto file = p == 1 ? dir / "out" : dir / "out" / std::to_string(i);
    std::ifstream f(file);
    ASSERT_TRUE(f) << file;
    for (std::string l; std::getline(f, l);) got.push_back(l);
  }
  std::vector<std::string> want;
  for (int i = 0; i < 3000; ++i) want.push_back(std::to_string(("line " + std::to_string(i)).size()));
  EXPECT_EQ(sorted(got), sorted(want));
  std::filesystem::remove_all(dir);
}

TEST_P(Parallel, SinkFunctionSeesEveryRecordWithOpenAndFinishHooks) {
  struct Sum {
    std::shared_ptr<std::atomic<int64_t>> total = std::make_shared<std::atomic<int64_t>>(0);
    std::shared_ptr<std::atomic<int>> opened = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> finished = std::make_shared<std::atomic<int>>(0);
    int64_t local = 0;
    void open(weir::RuntimeContext&) { opened->fetch_add(1); }
    void operator()(const int64_t& x) { local += x; }
    void finish() {
      total->fetch_add(local);
      finished->fetch_add(1);
    }
  };
  Sum sum;
  env.from_sequence(1, 100'000).add_sink(sum);
  env.execute();
  EXPECT_EQ(sum.total->load(), 100'000LL * 100'001 / 2);
  EXPECT_EQ(sum.opened->load(), GetParam());
  EXPECT_EQ(sum.finished->load(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Parallel, ::testing::Values(1, 2, 4));

TEST(DataStream, PrintWritesEveryRecordPrefixedBySubtask) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_collection(std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"b", 2}}).rebalance().map([](const std::pair<std::string, int64_t>& p) { return p; }).print();
  testing::internal::CaptureStdout();
  env.execute();
  const std::string out = testing::internal::GetCapturedStdout();
  std::vector<std::string> lines;
  std::string l;
  for (char c : out) {
    if (c == '\n') { lines.push_back(l); l.clear(); } else l.push_back(c);
  }
  ASSERT_EQ(lines.size(), 2u);
  // rebalance sends one record to each subtask; strip the "k> " prefix to compare the records
  std::set<std::string> prefixes, records;
  for (auto& line : lines) {
    ASSERT_GT(line.size(), 3u);
    prefixes.insert(line.substr(0, 3));
    records.insert(line.substr(3));
  }
  EXPECT_EQ(prefixes, (std::set<std::string>{"1> ", "2> "}));
  EXPECT_EQ(records, (std::set<std::string>{"(a,1)", "(b,2)"}));
}

TEST(DataStream, ExecutionPlanChainsForwardEdgesOfEqualParallelism) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  env.from_sequence(1, 10).name("src").map([](const int64_t& x) { return x; }).name("m")
      .filter([](const int64_t&) { return true; }).name("f")
      .key_by([](const int64_t& x) { return x; })
      .reduce([](const int64_t& a, const int64_t& b) { return a + b; }).name("r")
      .add_sink([](const int64_t&) {}).name("s");
  const std::string plan = env.get_execution_plan();
  EXPECT_NE(plan.find("\"name\":\"src -> m -> f\""), std::string::npos) << plan;
  EXPECT_NE(plan.find("\"name\":\"r -> s\""), std::string::npos) << plan;
  EXPECT_NE(plan.find("\"partition\":\"hash\""), std::string::npos) << plan;
}

TEST(DataStream, GeneratorIsDeterministicPerIndexWhateverTheParallelism) {
  std::vector<std::vector<int64_t>> runs;
  for (int p : {1, 3}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    runs.push_back(sorted(env.from_generator(1000, [](int64_t i) { return i * i % 1009; }).execute_and_collect()));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0].size(), 1000u);
}

TEST(DataStream, SocketTextStreamReadsLinesUntilTheServerCloses) {
  // A real server socket on 127.0.0.1 that sends lines and closes.
  int srv = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(srv, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  std::thread server([srv] {
    int c = ::accept(srv, nullptr, nullptr);
    std::string data;
    for (int i = 0; i < 10000; ++i) data += "hello " + std::to_string(i) + (i % 2 ? "\r\n" : "\n");  // \r\n is dropped whole
    data += "tail\r";  // no final delimiter
    size_t off = 0;
    while (off < data.size()) {
      auto n = ::send(c, data.data() + off, std::min<size_t>(4096, data.size() - off), 0);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(c);
  });
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  auto got = weir::socket_text_stream(env, "127.0.0.1", port).map([](const std::string& s) { return s; }).execute_and_collect();
  server.join();
  ::close(srv);
  ASSERT_EQ(got.size(), 10001u);
  std::vector<std::string> want;
  for (int i = 0; i < 10000; ++i) want.push_back("hello " + std::to_string(i));
  want.push_back("tail");
  EXPECT_EQ(sorted(got), sorted(want));
}

TEST(DataStream, SocketTextStreamFailsWithClearErrorWhenNothingListens) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(s);  // the port is free and nobody listens
  auto env = weir::StreamExecutionEnvironment::create();
  weir::socket_text_stream(env, "127.0.0.1", port).print();
  try {
    env.execute();
    FAIL() << "expected JobFailure";
  } catch (const weir::JobFailure& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  }
}

}  // namespace
