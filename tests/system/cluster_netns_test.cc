// Hosts in network namespaces: etcd, two coordinators (HA) and three workers each on its own
// address behind a bridge. A worker, then the leader coordinator, is cut off (its link set down)
// mid-stream: the job recovers with nothing lost or duplicated, and the cut-off leader stops
// acting before the standby starts. Needs root (`ip netns`); skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "system/cluster_support.h"

namespace {

using namespace weir::systest;

std::string ip_binary() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

/// Namespaces joined by a bridge, made by the constructor and deleted by the destructor.
class NetnsLab {
 public:
  explicit NetnsLab(std::vector<std::string> hosts) : ip_(ip_binary()) {
    const int tag = static_cast<int>(::getpid() % 200) + 20;
    prefix_ = "wn" + std::to_string(::getpid() % 100000);
    subnet_ = "10.213." + std::to_string(tag);
    bridge_ = prefix_ + "br";
    ok_ = !ip_.empty() && ::geteuid() == 0 && sh(ip_ + " link add " + bridge_ + " type bridge") == 0;
    if (!ok_) return;
    sh(ip_ + " link set " + bridge_ + " up");
    int n = 10;
    for (const auto& h : hosts) {
      const std::string ns = prefix_ + "-" + h;
      const std::string veth = prefix_ + h;
      const std::string addr = subnet_ + "." + std::to_string(n++);
      ok_ = ok_ && sh(ip_ + " netns add " + ns) == 0 &&
            sh(ip_ + " link add " + veth + " type veth peer name eth0 netns " + ns) == 0 &&
            sh(ip_ + " link set " + veth + " master " + bridge_ + " up") == 0 &&
            sh(ip_ + " -n " + ns + " addr add " + addr + "/24 dev eth0") == 0 && sh(ip_ + " -n " + ns + " link set eth0 up") == 0 &&
            sh(ip_ + " -n " + ns + " link set lo up") == 0;
      hosts_.push_back(h);
      addrs_[h] = addr;
    }
  }
  ~NetnsLab() {
    for (const auto& h : hosts_) {
      sh(ip_ + " link del " + prefix_ + h);
      sh(ip_ + " netns del " + prefix_ + "-" + h);
    }
    if (!bridge_.empty()) sh(ip_ + " link del " + bridge_);
  }
  bool ok() const { return ok_; }
  const std::string& addr(const std::string& h) { return addrs_[h]; }
  /// `argv` run inside host `h`'s namespace.
  std::vector<std::string> in(const std::string& h, std::vector<std::string> argv) {
    std::vector<std::string> out = {ip_, "netns", "exec", prefix_ + "-" + h};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }
  void cut(const std::string& h) { sh(ip_ + " link set " + prefix_ + h + " down"); }

 private:
  std::string ip_;
  std::string prefix_;
  std::string subnet_;
  std::string bridge_;
  bool ok_ = false;
  std::vector<std::string> hosts_;
  std::map<std::string, std::string> addrs_;
};

/// The steady time of the first log line holding `text` (its "[YYYY-MM-DD hh:mm:ss.mmm]" as ms of the day).
int64_t logged_at(const std::string& log, const std::string& text) {
  const auto at = log.find(text);
  if (at == std::string::npos) return -1;
  const auto line = log.rfind('\n', at);
  const auto start = line == std::string::npos ? 0 : line + 1;
  int h = 0, m = 0, s = 0, ms = 0;
  if (std::sscanf(log.c_str() + start, "[%*d-%*d-%*d %d:%d:%d.%d]", &h, &m, &s, &ms) != 4) return -1;
  return ((h * 60 + m) * 60 + s) * 1000 + ms;
}

struct Hosts {
  NetnsLab lab{{"etcd", "c0", "c1", "w0", "w1", "w2"}};
  TempDir dir;
  std::unique_ptr<Process> etcd;
  std::vector<std::unique_ptr<Process>> coordinators;
  std::vector<std::unique_ptr<Process>> workers;
  std::string coordinator_list;

  void start() {
    const std::string e = lab.addr("etcd");
    etcd = std::make_unique<Process>(
        lab.in("etcd", {"/usr/bin/etcd", "--name=n", "--data-dir=" + dir.sub("etcd"), "--listen-client-urls=http://" + e + ":2379",
                        "--advertise-client-urls=http://" + e + ":2379", "--listen-peer-urls=http://" + e + ":2380",
                        "--initial-advertise-peer-urls=http://" + e + ":2380", "--initial-cluster=n=http://" + e + ":2380",
                        "--heartbeat-interval=50", "--election-timeout=500", "--log-level=warn"}),
        std::vector<std::string>{}, dir.sub("etcd.log"));
    for (const char* c : {"c0", "c1"}) {
      const std::string a = lab.addr(c) + ":6123";
      coordinator_list += (coordinator_list.empty() ? "" : ",") + a;
      coordinators.push_back(std::make_unique<Process>(
          lab.in(c, {WEIR_CLI_PATH, "coordinator", "--bind", a, "--checkpoint-dir", dir.sub("checkpoints"), "--ha",
                     "etcd://" + e + ":2379/weir", "--heartbeat-interval", "200", "--heartbeat-timeout", "2000"}),
          std::vector<std::string>{}, dir.sub(std::string(c) + ".log")));
    }
    for (int i = 0; i < 3; ++i) {
      const std::string h = "w" + std::to_string(i);
      workers.push_back(std::make_unique<Process>(
          lab.in(h, {WEIR_CLI_PATH, "worker", "--coordinator", coordinator_list, "--slots", "1", "--bind", lab.addr(h), "--id", h,
                     "--work-dir", dir.sub(h)}),
          std::vector<std::string>{}, dir.sub(h + ".log")));
    }
  }
  int leader(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      for (int c = 0; c < 2; ++c) {
        if (coordinators[static_cast<std::size_t>(c)]->output().find(" leads (") != std::string::npos) return c;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }
  std::string logs() {
    std::string s = "--- etcd:\n" + etcd->output();
    for (std::size_t c = 0; c < coordinators.size(); ++c) s += "--- c" + std::to_string(c) + ":\n" + coordinators[c]->output();
    for (std::size_t i = 0; i < workers.size(); ++i) s += "--- w" + std::to_string(i) + ":\n" + workers[i]->output();
    return s;
  }
};

class ClusterNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts_ = std::make_unique<Hosts>();
    if (!hosts_->lab.ok()) GTEST_SKIP() << "needs root and ip netns (network namespaces)";
    hosts_->start();
  }
  std::unique_ptr<Hosts> hosts_;
};

TEST_F(ClusterNetns, AWorkerCutOffMidStreamLosesAndDuplicatesNothing) {
  auto& h = *hosts_;
  ASSERT_GE(h.leader(20s), 0) << h.logs();
  for (auto& w : h.workers) ASSERT_TRUE(w->wait_for_output("registered with the coordinator", 30s)) << h.logs();
  const int64_t n = 60000;
  Process submit(h.lab.in("c0", {WEIR_CLI_PATH, "submit", "--coordinator", h.coordinator_list, CLUSTER_JOB_PATH, "keyed",
                                 h.dir.sub("out"), std::to_string(n), "--parallelism", "2", "--checkpoint", "200", "--slow-every",
                                 "5"}),
                 {}, h.dir.sub("submit.log"));
  const int leader = h.leader(1s);
  ASSERT_TRUE(h.coordinators[static_cast<std::size_t>(leader)]->wait_for_output("attempt 0 runs", 30s)) << h.logs();
  std::this_thread::sleep_for(700ms);  // a few checkpoints
  ASSERT_FALSE(submit.wait(0ms).has_value()) << submit.output();
  const auto cut = std::chrono::steady_clock::now();
  h.lab.cut("w0");  // w0 holds slot 0 (workers are taken in id order)
  ASSERT_TRUE(h.coordinators[static_cast<std::size_t>(leader)]->wait_for_output("attempt 1 runs", 30s)) << h.logs();
  std::printf("recovery: %lld ms from cutting w0's link to the job running again (heartbeat timeout 2000 ms)\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - cut).count()));
  const auto code = submit.wait(120s);
  ASSERT_TRUE(code.has_value()) << h.logs();
  ASSERT_EQ(*code, 0) << submit.output() << h.logs();
  expect_keyed_exactly_once(committed_lines(h.dir.sub("out")), n);
  // The cut-off worker stopped its task process on its own (no heartbeat from the coordinator).
  EXPECT_TRUE(h.workers[0]->wait_for_output("stops its task processes", 10s)) << h.workers[0]->output();
}

TEST_F(ClusterNetns, TheLeaderCutOffStopsActingBeforeTheStandbyLeadsAndTheJobRecovers) {
  auto& h = *hosts_;
  const int leader = h.leader(20s);
  ASSERT_GE(leader, 0) << h.logs();
  for (auto& w : h.workers) ASSERT_TRUE(w->wait_for_output("registered with the coordinator", 30s)) << h.logs();
  const int64_t n = 60000;
  const std::string submitter = leader == 0 ? "c1" : "c0";  // submit from the host that stays
  Process submit(h.lab.in(submitter, {WEIR_CLI_PATH, "submit", "--coordinator", h.coordinator_list, CLUSTER_JOB_PATH, "keyed",
                                      h.dir.sub("out"), std::to_string(n), "--parallelism", "2", "--checkpoint", "200",
                                      "--slow-every", "5"}),
                 {}, h.dir.sub("submit.log"));
  auto& old_leader = *h.coordinators[static_cast<std::size_t>(leader)];
  auto& standby = *h.coordinators[static_cast<std::size_t>(1 - leader)];
  ASSERT_TRUE(old_leader.wait_for_output("attempt 0 runs", 30s)) << h.logs();
  std::this_thread::sleep_for(700ms);
  ASSERT_FALSE(submit.wait(0ms).has_value()) << submit.output();
  h.lab.cut(leader == 0 ? "c0" : "c1");
  ASSERT_TRUE(standby.wait_for_output(" leads (1 jobs", 30s)) << h.logs();
  ASSERT_TRUE(old_leader.wait_for_output("no longer the leader", 30s)) << h.logs();
  // No two leaders: the old one stopped acting before the new one started (same host clock).
  const int64_t stopped = logged_at(old_leader.output(), "no longer the leader");
  const int64_t started = logged_at(standby.output(), " leads (1 jobs");
  EXPECT_LT(stopped, started) << "the cut-off leader acted while the standby led" << h.logs();
  std::printf("the cut-off leader stopped %lld ms before the standby led\n", static_cast<long long>(started - stopped));
  const auto code = submit.wait(120s);
  ASSERT_TRUE(code.has_value()) << h.logs();
  ASSERT_EQ(*code, 0) << submit.output() << h.logs();
  expect_keyed_exactly_once(committed_lines(h.dir.sub("out")), n);
}

}  // namespace
