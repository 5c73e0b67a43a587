// `weir kafka-dev`: runs the real `weir` binary (WEIR_CLI_PATH) and talks to it with kcat
// (KCAT_PATH): metadata, produce, consume, a consumer group, then SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

#ifndef WEIR_CLI_PATH
#error "WEIR_CLI_PATH must name the weir binary"
#endif
#ifndef KCAT_PATH
#error "KCAT_PATH must name kcat (empty when CMake did not find it)"
#endif

extern char** environ;

namespace {

using weir::testsupport::TempDir;
using clock_type = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

struct CmdResult {
  int code = -1;
  std::string out;
  std::string err;
};

/// Runs a shell command line, capturing stdout, stderr and the exit code.
CmdResult run(const std::string& cmd, const TempDir& tmp) {
  const std::string err_file = tmp.sub("cmd-stderr.txt");
  CmdResult r;
  FILE* p = ::popen((cmd + " 2>" + quote(err_file)).c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_file);
  return r;
}

std::string kcat() {
  const std::string path = KCAT_PATH;
  if (path.empty()) throw std::runtime_error("kcat was not found when CMake ran (scripts/install-deps.sh installs it)");
  // A broker that stops answering fails the test in a minute rather than at ctest's timeout.
  return "timeout 60 " + quote(path);
}

/// `weir kafka-dev ARGS` as a child process; killed at the end if a test did not stop it.
class KafkaDev {
 public:
  KafkaDev(const std::vector<std::string>& args, const TempDir& tmp) : err_file_(tmp.sub("weir-stderr.txt")) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    out_ = out[0];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv_s{WEIR_CLI_PATH, "kafka-dev"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, WEIR_CLI_PATH, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) throw std::runtime_error(std::string("pidfd_open failed: ") + std::strerror(errno));
  }
  ~KafkaDev() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (pidfd_ >= 0) ::close(pidfd_);
    if (out_ >= 0) ::close(out_);
  }

  /// The first line on stdout (empty when the process ended, or 30 s passed, without one).
  std::string first_line() {
    std::string line;
    const auto deadline = clock_type::now() + std::chrono::seconds(30);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
      if (left <= 0) return "";
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char c;
      const ssize_t n = ::read(out_, &c, 1);
      if (n <= 0) return "";
      if (c == '\n') return line;
      line += c;
    }
  }

  /// Waits up to `limit` for the process to end; its exit code, or -1 (still running or killed
  /// by a signal).
  int wait_exit(std::chrono::milliseconds limit) {
    pollfd p{pidfd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return -1;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void signal(int sig) const { ::kill(pid_, sig); }
  std::string stderr_text() const { return read_file(err_file_); }

 private:
  std::string err_file_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_ = -1;
};

/// True when a server could listen on 127.0.0.1:port now.
bool port_is_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

/// The port of "127.0.0.1:PORT", or -1.
int port_of(const std::string& address) {
  std::smatch m;
  if (!std::regex_match(address, m, std::regex(R"(127\.0\.0\.1:(\d{1,5}))"))) return -1;
  return std::stoi(m[1]);
}

/// Every "127.0.0.1:PORT" in `text`, by port.
std::set<int> loopback_ports_in(const std::string& text) {
  std::set<int> ports;
  const std::regex re(R"(127\.0\.0\.1:(\d{1,5}))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    ports.insert(std::stoi((*it)[1]));
  }
  return ports;
}

/// SIGTERM: exit code 0 within a few seconds, and the port is free again.
void stop_cleanly(KafkaDev& dev, int port) {
  const auto t0 = clock_type::now();
  dev.signal(SIGTERM);
  const int code = dev.wait_exit(std::chrono::seconds(10));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
  EXPECT_EQ(code, 0) << "after SIGTERM (" << ms << " ms); stderr:\n" << dev.stderr_text();
  EXPECT_LT(ms, 5000);
  EXPECT_TRUE(port_is_free(port)) << "port " << port << " still in use after exit";
}

TEST(KafkaDev, TopicWithThreePartitionsTakes100RecordsBackInOrderPerPartition) {
  TempDir tmp;
  KafkaDev dev({"--port", "0", "--topic", "t:3"}, tmp);
  const std::string address = dev.first_line();
  const int port = port_of(address);
  ASSERT_GT(port, 0) << "stdout line '" << address << "'; stderr:\n" << dev.stderr_text();

  // Metadata: topic t with 3 partitions, and the one broker advertised at the printed address.
  const CmdResult meta = run(kcat() + " -b " + address + " -L -t t", tmp);
  ASSERT_EQ(meta.code, 0) << meta.err;
  EXPECT_NE(meta.out.find("topic \"t\" with 3 partitions:"), std::string::npos) << meta.out;
  EXPECT_NE(meta.out.find(" 1 brokers:\n  broker 1 at " + address + "\n"), std::string::npos) << meta.out;
  EXPECT_EQ(loopback_ports_in(meta.out), std::set<int>{port}) << meta.out;

  // 100 records, 7 keys: a key's records go to one partition, in the order they were produced.
  constexpr int kRecords = 100;
  {
    std::ofstream in(tmp.sub("records.txt"));
    for (int i = 0; i < kRecords; ++i) in << "k" << i % 7 << ":" << i << "\n";
  }
  const CmdResult produce = run(kcat() + " -b " + address + " -P -t t -K: < " + quote(tmp.sub("records.txt")), tmp);
  ASSERT_EQ(produce.code, 0) << produce.err;

  const CmdResult consume = run(kcat() + " -b " + address + " -C -t t -o beginning -e -q -f '%p %o %k %s\\n'", tmp);
  ASSERT_EQ(consume.code, 0) << consume.err;
  std::istringstream lines(consume.out);
  std::map<int, std::vector<std::pair<long, int>>> by_partition;  // partition → (offset, record)
  std::map<std::string, std::set<int>> partitions_of_key;
  std::vector<int> seen(kRecords, 0);
  int count = 0;
  int p;
  long offset;
  std::string key;
  int value;
  while (lines >> p >> offset >> key >> value) {
    ++count;
    ASSERT_TRUE(p >= 0 && p < 3) << consume.out;
    ASSERT_TRUE(value >= 0 && value < kRecords) << consume.out;
    EXPECT_EQ(key, "k" + std::to_string(value % 7));
    ++seen[value];
    by_partition[p].emplace_back(offset, value);
    partitions_of_key[key].insert(p);
  }
  EXPECT_EQ(count, kRecords) << consume.out;
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(seen[i], 1) << "record " << i;
  EXPECT_GE(by_partition.size(), 2u) << "7 keys over 3 partitions all went to one";
  for (const auto& [part, recs] : by_partition) {
    for (std::size_t i = 0; i < recs.size(); ++i) {
      EXPECT_EQ(recs[i].first, static_cast<long>(i)) << "partition " << part;
      if (i > 0) {
        EXPECT_LT(recs[i - 1].second, recs[i].second) << "partition " << part << " out of order";
      }
    }
  }
  for (const auto& [k, parts] : partitions_of_key) EXPECT_EQ(parts.size(), 1u) << "key " << k;

  stop_cleanly(dev, port);
}

TEST(KafkaDev, ConsumerGroupFindsItsCoordinatorAtThePrintedAddress) {
  TempDir tmp;
  KafkaDev dev({"--port", "0", "--topic", "g:2"}, tmp);
  const std::string address = dev.first_line();
  const int port = port_of(address);
  ASSERT_GT(port, 0) << "stdout line '" << address << "'; stderr:\n" << dev.stderr_text();

  {
    std::ofstream in(tmp.sub("records.txt"));
    for (int i = 0; i < 30; ++i) in << i << "\n";
  }
  const CmdResult produce = run(kcat() + " -b " + address + " -P -t g < " + quote(tmp.sub("records.txt")), tmp);
  ASSERT_EQ(produce.code, 0) << produce.err;

  // A group member learns every broker address from Metadata and FindCoordinator: none may be
  // the mock's own listener.
  // (kcat's -q would silence the debug log too.)
  const CmdResult group = run(kcat() + " -X debug=broker -b " + address + " -G weir-test -o beginning -e -f '%s\\n' g", tmp);
  ASSERT_EQ(group.code, 0) << group.err;
  std::istringstream lines(group.out);
  std::set<int> values;
  int v;
  while (lines >> v) values.insert(v);
  EXPECT_EQ(values.size(), 30u) << group.out;
  EXPECT_NE(group.err.find(address + "/1: "), std::string::npos) << "no debug log of broker 1:\n" << group.err;
  EXPECT_EQ(loopback_ports_in(group.err), std::set<int>{port}) << group.err;

  stop_cleanly(dev, port);
}

TEST(KafkaDev, PortInUseIsRefusedWithAClearError) {
  TempDir tmp;
  // Hold a port: weir must fail to listen there, say so, and print no address.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int held = ntohs(a.sin_port);

  KafkaDev dev({"--port", std::to_string(held)}, tmp);
  EXPECT_EQ(dev.first_line(), "");
  EXPECT_EQ(dev.wait_exit(std::chrono::seconds(30)), 1);
  EXPECT_NE(dev.stderr_text().find("cannot listen on 127.0.0.1:" + std::to_string(held) + ": Address already in use"),
            std::string::npos)
      << dev.stderr_text();
  ::close(fd);
}

TEST(KafkaDev, BadTopicSpecIsRefused) {
  TempDir tmp;
  for (const char* spec : {"t:0", "t:x", ":3", "a/b:2"}) {
    const CmdResult r = run("timeout 10 " + quote(WEIR_CLI_PATH) + " kafka-dev --port 0 --topic " + quote(spec), tmp);
    EXPECT_NE(r.code, 0) << spec;
    EXPECT_NE(r.err.find("--topic"), std::string::npos) << spec << ": " << r.err;
    EXPECT_EQ(r.out, "") << spec;
  }
}

}  // namespace
