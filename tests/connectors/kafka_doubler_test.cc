// examples/cpp/kafka_doubler against the real broker: killed with SIGKILL mid-stream and
// started again, it loses and duplicates nothing for a read_committed consumer (counted), sends
// every line that is not an integer to <output>.dlq once with the error in a header, and stops
// cleanly on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_test_util.h"
#include "support/test_support.h"

namespace {

using namespace weir::testsupport;

pid_t start_doubler(const std::string& in, const std::string& out, const std::string& dir, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string bootstrap = kafka_bootstrap();
    FILE* f = std::freopen(log.c_str(), "a", stderr);
    (void)f;
    ::execl(KAFKA_DOUBLER, KAFKA_DOUBLER, "--bootstrap", bootstrap.c_str(), "--input", in.c_str(), "--output", out.c_str(),
            "--checkpoint-dir", dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

std::vector<std::string> numbers_with_bad(int from, int to, std::vector<std::string>& bad) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) {
    if (i % 997 == 0) {
      v.push_back("x" + std::to_string(i));
      bad.push_back(v.back());
    } else {
      v.push_back(std::to_string(i));
    }
  }
  return v;
}

TEST(KafkaDoubler, KilledMidStreamAndRestartedItLosesAndDuplicatesNothing) {
  const auto in = unique_topic("dbl-in");
  const auto out = unique_topic("dbl-out");
  create_topic(in, 3);
  create_topic(out, 2);
  create_topic(out + ".dlq", 1);
  TempDir dir;
  const std::string log = dir.path() + "/doubler.log";
  std::vector<std::string> bad;
  auto first = numbers_with_bad(0, 30000, bad);
  auto second = numbers_with_bad(30000, 60000, bad);
  kcat_produce(in, first);

  pid_t pid = start_doubler(in, out, dir.path() + "/checkpoints", log);
  // Kill it once some output is committed, mid-stream.
  bool some = false;
  for (int i = 0; i < 300 && !some; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    some = !kcat_consume(out, true).empty();
  }
  ASSERT_TRUE(some) << "no committed output; log: " << log;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  kcat_produce(in, second);
  pid = start_doubler(in, out, dir.path() + "/checkpoints", log);
  std::vector<std::string> expected;
  for (const auto& v : {first, second}) {
    for (const auto& s : v) {
      if (s[0] != 'x') expected.push_back(std::to_string(2 * std::stoll(s)));
    }
  }
  std::vector<std::string> got;
  for (int i = 0; i < 600; ++i) {
    got = kcat_consume(out, true);
    if (got.size() >= expected.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a clean stop on SIGTERM; log: " << log;

  got = kcat_consume(out, true);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got.size(), expected.size()) << "read_committed: every doubled line once";
  EXPECT_TRUE(got == expected);
  std::map<std::string, int> counts;
  for (const auto& g : got) ++counts[g];
  int dup = 0;
  for (const auto& [k, c] : counts) dup += c > 1;
  EXPECT_EQ(dup, 0);

  // The dead letters: the original line, with the error in a header.
  const auto dlq = kcat_consume(out + ".dlq", true, "%s|%h\\n");
  std::map<std::string, std::vector<std::string>> headers_by_line;
  for (const auto& d : dlq) headers_by_line[d.substr(0, d.find('|'))].push_back(d.substr(d.find('|') + 1));
  ASSERT_EQ(dlq.size(), bad.size());
  for (const auto& b : bad) {
    ASSERT_EQ(headers_by_line[b].size(), 1u) << b << " once in the dead-letter topic";
    EXPECT_NE(headers_by_line[b][0].find("error=not an integer: '" + b + "'"), std::string::npos) << headers_by_line[b][0];
  }
}

}  // namespace
