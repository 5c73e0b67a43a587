// The etcd client, the leader election and the job metadata against real etcd processes
// (cluster/tests/etcd_process.h). Suites whose name ends in "Slow" wait for leases to expire or
// restart etcd (a few seconds each); skip them with --gtest_filter=-*Slow*.
#include "cluster/etcd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/tests/etcd_process.h"
#include "support/test_support.h"

namespace weir::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::EtcdProcess;

/// Polls `cond` every 5 ms until it holds or `timeout` passes; returns whether it held.
template <class F>
bool wait_for(F cond, milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

/// One etcd for the suites that do not kill it; each test uses its own key prefix.
class SharedEtcd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testsupport::TempDir();
    etcd_ = new EtcdProcess(dir_->sub("etcd"));
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(etcd_, nullptr) << "etcd did not start";
    client_ = std::make_unique<EtcdClient>(std::vector<std::string>{etcd_->endpoint()});
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("/weir-test/") + info->test_suite_name() + "." + info->name();
  }

  static testsupport::TempDir* dir_;
  static EtcdProcess* etcd_;
  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
};
testsupport::TempDir* SharedEtcd::dir_ = nullptr;
EtcdProcess* SharedEtcd::etcd_ = nullptr;

// ---------------------------------------------------------------------------------------------
// EtcdClient

using EtcdClientTest = SharedEtcd;

TEST_F(EtcdClientTest, PutGetEraseAreBinarySafe) {
  const std::string key = prefix_ + std::string("/k\0ey\xff", 6);
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  const std::string nul_value("\0a\0\0b\0", 6);
  const std::string big = random_bytes(1 << 20, 7);

  EXPECT_FALSE(client_->get(key).has_value());
  for (const std::string& v : {nul_value, all_bytes, std::string(), big}) {
    client_->put(key, v);
    const auto got = client_->get(key);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->size(), v.size());
    EXPECT_TRUE(*got == v);
  }
  const auto kv = client_->get_kv(key);
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->key, key);
  EXPECT_EQ(kv->version, 4);
  EXPECT_GT(kv->mod_revision, kv->create_revision);

  EXPECT_TRUE(client_->erase(key));
  EXPECT_FALSE(client_->get(key).has_value());
  EXPECT_FALSE(client_->erase(key));
}

TEST_F(EtcdClientTest, GetPrefixReturnsExactlyThePrefixInKeyOrder) {
  std::vector<std::pair<std::string, std::string>> inside = {
      {prefix_ + "/a/", "0"}, {prefix_ + "/a/1", std::string("one\0", 4)}, {prefix_ + "/a/2", "two"},
      {prefix_ + "/a/\xff\xff", "ff"}};
  const std::vector<std::string> outside = {prefix_ + "/a", prefix_ + "/b", prefix_ + "/a0", prefix_ + "/"};
  for (const auto& [k, v] : inside) client_->put(k, v);
  for (const auto& k : outside) client_->put(k, "x");

  const auto got = client_->get_prefix(prefix_ + "/a/");
  ASSERT_EQ(got.size(), inside.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, inside[i].first);
    EXPECT_EQ(got[i].value, inside[i].second);
    EXPECT_GT(got[i].create_revision, 0);
  }
  EXPECT_EQ(client_->get_prefix(prefix_ + "/nothing/").size(), 0u);
  EXPECT_EQ(client_->erase_prefix(prefix_ + "/a/"), static_cast<int64_t>(inside.size()));
  EXPECT_EQ(client_->get_prefix(prefix_ + "/").size(), 4u);  // /, /a, /a0, /b
}

TEST_F(EtcdClientTest, TransactionsCompareAndPut) {
  const std::string key = prefix_ + "/k";
  EXPECT_TRUE(client_->put_if_absent(key, "first"));
  EXPECT_FALSE(client_->put_if_absent(key, "second"));
  EXPECT_EQ(client_->get(key), "first");

  const auto kv = client_->get_kv(key);
  ASSERT_TRUE(kv);
  Compare same_value{key, Compare::Target::kValue, Compare::Result::kEqual, 0, "first"};
  auto r = client_->txn({same_value}, {TxnOp::put(key, "third"), TxnOp::get(key)}, {TxnOp::get(key)});
  EXPECT_TRUE(r.succeeded);
  ASSERT_EQ(r.gets.size(), 1u);
  ASSERT_EQ(r.gets[0].size(), 1u);
  EXPECT_EQ(r.gets[0][0].value, "third");
  EXPECT_EQ(r.gets[0][0].create_revision, kv->create_revision);

  r = client_->txn({same_value}, {TxnOp::put(key, "never")}, {TxnOp::get(key), TxnOp::get(prefix_ + "/none")});
  EXPECT_FALSE(r.succeeded);
  ASSERT_EQ(r.gets.size(), 2u);
  EXPECT_EQ(r.gets[0].at(0).value, "third");
  EXPECT_TRUE(r.gets[1].empty());

  const Fence fence{key, kv->create_revision, 0};
  EXPECT_TRUE(client_->put_fenced(fence, prefix_ + "/data", "v1"));
  EXPECT_TRUE(client_->erase(key));
  client_->put(key, "recreated");  // a new create revision: the old fence no longer holds
  EXPECT_FALSE(client_->put_fenced(fence, prefix_ + "/data", "v2"));
  EXPECT_FALSE(client_->erase_fenced(fence, prefix_ + "/data"));
  EXPECT_EQ(client_->get(prefix_ + "/data"), "v1");
}

TEST_F(EtcdClientTest, LeasesKeepKeysUntilRevoked) {
  const int64_t lease = client_->grant_lease(5);
  client_->put(prefix_ + "/a", "1", lease);
  client_->put(prefix_ + "/b", "2", lease);
  EXPECT_EQ(client_->get_kv(prefix_ + "/a")->lease, lease);
  EXPECT_GE(client_->keep_alive(lease), 4);
  client_->revoke(lease);
  EXPECT_FALSE(client_->get(prefix_ + "/a").has_value());
  EXPECT_FALSE(client_->get(prefix_ + "/b").has_value());
  EXPECT_EQ(client_->keep_alive(lease), 0);
  client_->revoke(lease);  // already gone: not an error
  EXPECT_THROW(client_->put(prefix_ + "/c", "3", lease), EtcdError);
}

using EtcdClientSlow = SharedEtcd;

TEST_F(EtcdClientSlow, LeaseExpiryDeletesItsKey) {
  const int64_t lease = client_->grant_lease(1);
  client_->put(prefix_ + "/k", "v", lease);
  const auto put_at = Clock::now();
  EXPECT_TRUE(client_->get(prefix_ + "/k").has_value());
  ASSERT_TRUE(wait_for([&] { return !client_->get(prefix_ + "/k").has_value(); }, milliseconds(5000)));
  // Not before the TTL; etcd checks for expired leases every 500 ms.
  const auto gone_after = std::chrono::duration_cast<milliseconds>(Clock::now() - put_at);
  EXPECT_GE(gone_after.count(), 900);
  EXPECT_LE(gone_after.count(), 3000);
  EXPECT_EQ(client_->keep_alive(lease), 0);
}

/// A TCP port that accepts connections (the kernel's backlog) and never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(EtcdClientTest, WrongEndpointFailsWithinTheTimeoutNamingIt) {
  const milliseconds timeout(400);
  {
    const std::string closed = "127.0.0.1:" + std::to_string(testing::free_port());
    EtcdClient bad({closed}, EtcdClient::Options{timeout});
    const auto t0 = Clock::now();
    try {
      bad.get("/k");
      FAIL() << "no error";
    } catch (const EtcdError& e) {
      EXPECT_NE(std::string(e.what()).find(closed), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("/v3/kv/range"), std::string::npos) << e.what();
    }
    EXPECT_LT(Clock::now() - t0, timeout);
  }
  {
    SilentServer silent;
    EtcdClient bad({silent.endpoint()}, EtcdClient::Options{timeout});
    const auto t0 = Clock::now();
    try {
      bad.put("/k", "v");
      FAIL() << "no error";
    } catch (const EtcdError& e) {
      EXPECT_NE(std::string(e.what()).find(silent.endpoint()), std::string::npos) << e.what();
    }
    // Connecting, sending and receiving are each bounded by the timeout.
    EXPECT_LT(Clock::now() - t0, 3 * timeout + milliseconds(300));
  }
  {
    // A dead endpoint first: the next one answers.
    const std::string closed = "127.0.0.1:" + std::to_string(testing::free_port());
    EtcdClient two({closed, etcd_->endpoint()}, EtcdClient::Options{timeout});
    two.put(prefix_ + "/k", "v");
    EXPECT_EQ(two.get(prefix_ + "/k"), "v");
  }
  {
    // etcd's own errors name the endpoint and etcd's message.
    try {
      client_->put(prefix_ + "/k", "v", 12345);
      FAIL() << "no error";
    } catch (const EtcdError& e) {
      EXPECT_NE(std::string(e.what()).find(etcd_->endpoint()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("lease not found"), std::string::npos) << e.what();
    }
  }
}

TEST(EtcdClientDeadline, AFencedWriteEndsByItsDeadlineWhenEtcdDoesNotAnswer) {
  // A leader's write must not outlive the leadership it is fenced by: with the client's own
  // timeout (10 s a phase) it would wait for seconds; with `until` it ends by then.
  SilentServer silent;
  EtcdClient client({silent.endpoint()}, EtcdClient::Options{milliseconds(10'000)});
  const Fence fence{"/weir/leader", 7, 1};
  const auto t0 = Clock::now();
  EXPECT_THROW(client.put_fenced(fence, "/weir/x", "v", t0 + milliseconds(300)), EtcdError);
  EXPECT_LT(Clock::now() - t0, milliseconds(5'000));  // far below one phase of the timeout
  // A deadline already past: nothing is sent.
  EXPECT_THROW(client.txn_fenced(fence, {TxnOp::erase("/weir/x")}, Clock::now()), EtcdError);
}

TEST(EtcdAddressTest, ParsesEndpointsAndPrefix) {
  auto a = parse_etcd_address("etcd://127.0.0.1:2379/weir/prod/");
  EXPECT_EQ(a.endpoints, std::vector<std::string>{"127.0.0.1:2379"});
  EXPECT_EQ(a.prefix, "/weir/prod");
  a = parse_etcd_address("etcd://h1:1,h2:2/p");
  EXPECT_EQ(a.endpoints, (std::vector<std::string>{"h1:1", "h2:2"}));
  EXPECT_EQ(a.prefix, "/p");
  EXPECT_THROW(parse_etcd_address("http://h:1/p"), std::invalid_argument);
  EXPECT_THROW(parse_etcd_address("etcd://h:1"), std::invalid_argument);
  EXPECT_THROW(parse_etcd_address("etcd://h:1/"), std::invalid_argument);
  EXPECT_THROW(parse_etcd_address("etcd://h/p"), std::invalid_argument);
  EXPECT_THROW(parse_etcd_address("etcd://h:x/p"), std::invalid_argument);
  EXPECT_THROW(EtcdClient({}), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// LeaderElection

/// One candidate with the intervals (steady clock) during which it believed it led.
struct Candidate {
  std::string name;
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<LeaderElection> election;
  std::mutex mu;
  std::vector<std::pair<Clock::time_point, Clock::time_point>> intervals;
  std::optional<Clock::time_point> since;
  std::optional<Fence> fence;
  std::atomic<int> elected{0};
  std::atomic<int> revoked{0};

  Candidate(std::string n, const std::string& endpoint, const std::string& prefix, milliseconds ttl)
      : name(std::move(n)),
        client(std::make_unique<EtcdClient>(std::vector<std::string>{endpoint},
                                            EtcdClient::Options{milliseconds(1000)})),
        election(std::make_unique<LeaderElection>(*client, prefix, name, ttl)) {}

  void start() {
    election->start(
        [this](const Fence& f) {
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_FALSE(since.has_value()) << name << " elected twice";
          since = Clock::now();
          fence = f;
          ++elected;
        },
        [this] {
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_TRUE(since.has_value()) << name << " revoked while not leading";
          if (since) intervals.emplace_back(*since, Clock::now());
          since.reset();
          ++revoked;
        });
  }
  bool leads() {
    std::lock_guard<std::mutex> lock(mu);
    return since.has_value();
  }
  std::optional<Fence> last_fence() {
    std::lock_guard<std::mutex> lock(mu);
    return fence;
  }
  std::optional<Clock::time_point> leading_since() {
    std::lock_guard<std::mutex> lock(mu);
    return since;
  }
  std::vector<std::pair<Clock::time_point, Clock::time_point>> all_intervals() {
    std::lock_guard<std::mutex> lock(mu);
    auto out = intervals;
    if (since) out.emplace_back(*since, Clock::time_point::max());
    return out;
  }
};

/// Fails when two candidates' leadership intervals overlap.
void expect_no_overlap(std::vector<Candidate*> cs) {
  for (size_t i = 0; i < cs.size(); ++i) {
    for (size_t j = i + 1; j < cs.size(); ++j) {
      for (const auto& a : cs[i]->all_intervals()) {
        for (const auto& b : cs[j]->all_intervals()) {
          EXPECT_TRUE(a.second < b.first || b.second < a.first)
              << cs[i]->name << " and " << cs[j]->name << " both led at once";
        }
      }
    }
  }
}

/// Samples is_leader() of the candidates every 2 ms; counts the instants with two leaders.
class LeaderSampler {
 public:
  explicit LeaderSampler(std::vector<Candidate*> cs) : cs_(std::move(cs)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        int n = 0;
        for (auto* c : cs_) n += c->election->is_leader() ? 1 : 0;
        if (n > 1) ++both_;
        ++samples_;
        std::this_thread::sleep_for(milliseconds(2));
      }
    });
  }
  ~LeaderSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int both() const { return both_; }
  int samples() const { return samples_; }

 private:
  std::vector<Candidate*> cs_;
  std::atomic<bool> stop_{false};
  std::atomic<int> both_{0};
  std::atomic<int> samples_{0};
  std::thread thread_;
};

/// Waits until exactly one of the candidates leads; returns it (nullptr on timeout).
Candidate* wait_for_one_leader(std::vector<Candidate*> cs, milliseconds timeout) {
  Candidate* leader = nullptr;
  wait_for(
      [&] {
        int n = 0;
        for (auto* c : cs) {
          if (c->leads()) {
            ++n;
            leader = c;
          }
        }
        return n == 1;
      },
      timeout);
  int n = 0;
  for (auto* c : cs) n += c->leads() ? 1 : 0;
  return n == 1 ? leader : nullptr;
}

constexpr milliseconds kTtl(2000);

using LeaderElectionTest = SharedEtcd;

TEST_F(LeaderElectionTest, TwoCandidatesOneLeaderThenTheOtherAfterResign) {
  Candidate a("coordinator-a:6123", etcd_->endpoint(), prefix_, kTtl);
  Candidate b("coordinator-b:6123", etcd_->endpoint(), prefix_, kTtl);
  LeaderSampler sampler({&a, &b});
  a.start();
  b.start();
  Candidate* leader = wait_for_one_leader({&a, &b}, kTtl * 3);
  ASSERT_NE(leader, nullptr);
  Candidate* other = leader == &a ? &b : &a;
  // Several keep-alive rounds: the same leader stays.
  ASSERT_FALSE(wait_for([&] { return other->leads() || !leader->leads(); }, kTtl));
  EXPECT_EQ(leader->elected, 1);
  EXPECT_TRUE(leader->election->is_leader());
  EXPECT_FALSE(other->election->is_leader());
  EXPECT_EQ(leader->election->current_leader(), leader->name);
  EXPECT_EQ(other->election->current_leader(), leader->name);
  const auto fence = leader->election->fence();
  ASSERT_TRUE(fence.has_value());
  EXPECT_EQ(fence->create_revision, leader->last_fence()->create_revision);
  EXPECT_FALSE(other->election->fence().has_value());

  const auto resigned_at = Clock::now();
  leader->election->resign();
  EXPECT_EQ(leader->revoked, 1);
  EXPECT_FALSE(leader->election->is_leader());
  ASSERT_TRUE(wait_for([&] { return other->leads(); }, kTtl + milliseconds(1000)));
  EXPECT_LE(*other->leading_since() - resigned_at, kTtl + milliseconds(1500));  // slack for a loaded machine
  EXPECT_EQ(other->election->current_leader(), other->name);
  // The resigned leader's fence no longer holds; the new one's does.
  EXPECT_FALSE(a.client->put_fenced(*fence, prefix_ + "/data", "stale"));
  EXPECT_TRUE(a.client->put_fenced(*other->election->fence(), prefix_ + "/data", "fresh"));
  EXPECT_EQ(a.client->get(prefix_ + "/data"), "fresh");

  other->election->resign();
  sampler.stop();
  EXPECT_EQ(sampler.both(), 0);
  EXPECT_GT(sampler.samples(), 0);
  expect_no_overlap({&a, &b});
  EXPECT_FALSE(a.client->get(prefix_ + "/leader").has_value());
}

TEST_F(LeaderElectionTest, JobStoreWritesOnlyUnderTheLeadersFence) {
  Candidate a("a", etcd_->endpoint(), prefix_, kTtl);
  a.start();
  ASSERT_TRUE(wait_for([&] { return a.leads(); }, kTtl * 3));
  const Fence fence = *a.election->fence();
  JobStore store(*a.client, prefix_ + "/");

  EXPECT_TRUE(store.jobs().empty());
  const std::string blob("job\0graph", 9);
  EXPECT_TRUE(store.put_job(fence, "j2", blob));
  EXPECT_TRUE(store.put_job(fence, "j1", "first"));
  EXPECT_TRUE(store.put_checkpoint(fence, "j2", "/ckpt/j2/chk-3"));
  EXPECT_TRUE(store.put_checkpoint(fence, "j2", "/ckpt/j2/chk-4"));
  EXPECT_EQ(store.job("j2"), blob);
  EXPECT_EQ(store.checkpoint("j2"), "/ckpt/j2/chk-4");
  EXPECT_FALSE(store.checkpoint("j1").has_value());
  EXPECT_EQ(store.jobs(), (std::vector<std::pair<std::string, std::string>>{{"j1", "first"}, {"j2", blob}}));
  EXPECT_EQ(store.job_key("j1"), prefix_ + "/jobs/j1");
  EXPECT_EQ(store.checkpoint_key("j1"), prefix_ + "/checkpoints/j1");

  EXPECT_TRUE(store.remove_job(fence, "j2"));
  EXPECT_FALSE(store.job("j2").has_value());
  EXPECT_FALSE(store.checkpoint("j2").has_value());
  EXPECT_EQ(store.jobs().size(), 1u);
  EXPECT_THROW(store.put_job(fence, "", "x"), std::invalid_argument);

  a.election->resign();
  EXPECT_FALSE(store.put_job(fence, "j3", "after resign"));
  EXPECT_FALSE(store.put_checkpoint(fence, "j1", "after resign"));
  EXPECT_FALSE(store.remove_job(fence, "j1"));
  EXPECT_EQ(store.jobs().size(), 1u);
  EXPECT_FALSE(store.job("j3").has_value());
}

// Deleting the leader key by hand is outside the protocol: another candidate may be elected
// before the leader's next round notices (up to ttl/3 of overlap), which the fence covers.
TEST_F(LeaderElectionTest, LeaderWhoseKeyIsDeletedStepsDown) {
  Candidate a("a", etcd_->endpoint(), prefix_, kTtl);
  Candidate b("b", etcd_->endpoint(), prefix_, kTtl);
  a.start();
  b.start();
  Candidate* leader = wait_for_one_leader({&a, &b}, kTtl * 3);
  ASSERT_NE(leader, nullptr);
  const Fence old_fence = *leader->election->fence();
  const auto erased_at = Clock::now();
  ASSERT_TRUE(client_->erase(prefix_ + "/leader"));  // the lease still alive
  EXPECT_FALSE(client_->put_fenced(old_fence, prefix_ + "/x", "stale"));
  // The leader notices at its next keep-alive round.
  ASSERT_TRUE(wait_for([&] { return leader->revoked == 1; }, kTtl + milliseconds(2000)));
  EXPECT_LE(Clock::now() - erased_at, kTtl / 3 + milliseconds(2000));  // slack for a loaded machine
  Candidate* next = wait_for_one_leader({&a, &b}, kTtl * 2);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(client_->get(prefix_ + "/leader"), next->name);
  EXPECT_FALSE(client_->put_fenced(old_fence, prefix_ + "/x", "stale"));
  EXPECT_TRUE(client_->put_fenced(*next->election->fence(), prefix_ + "/x", "fresh"));
  a.election->resign();
  b.election->resign();
}

using LeaderElectionSlow = SharedEtcd;

TEST_F(LeaderElectionSlow, FrozenLeaderDeposesItselfBeforeTheOtherTakesOver) {
  Candidate a("a", etcd_->endpoint(), prefix_, kTtl);
  Candidate b("b", etcd_->endpoint(), prefix_, kTtl);
  LeaderSampler sampler({&a, &b});
  a.start();
  b.start();
  Candidate* leader = wait_for_one_leader({&a, &b}, kTtl * 3);
  ASSERT_NE(leader, nullptr);
  Candidate* other = leader == &a ? &b : &a;
  const Fence old_fence = *leader->election->fence();

  const auto frozen_at = Clock::now();
  leader->election->pause_for_testing(true);
  ASSERT_TRUE(wait_for([&] { return other->leads(); }, kTtl + milliseconds(2000)));
  const auto took_over_after = *other->leading_since() - frozen_at;
  // The lease outlives the last keep-alive (sent at most ttl/3 before the freeze) by the TTL;
  // etcd notices expiry within 500 ms, the other polls every ttl/4.
  EXPECT_LE(took_over_after, kTtl + milliseconds(3000));  // slack for a loaded machine
  EXPECT_GE(took_over_after, kTtl - kTtl / 3 - milliseconds(100));
  // The frozen leader had given up before.
  EXPECT_EQ(leader->revoked, 1);
  EXPECT_FALSE(leader->election->is_leader());
  EXPECT_FALSE(leader->election->fence().has_value());
  // Its writes fail; the new leader's succeed.
  EXPECT_FALSE(leader->client->put_fenced(old_fence, prefix_ + "/jobs/j", "from the deposed"));
  EXPECT_TRUE(other->client->put_fenced(*other->election->fence(), prefix_ + "/jobs/j", "from the leader"));
  EXPECT_EQ(leader->client->get(prefix_ + "/jobs/j"), "from the leader");

  // Thawed, it follows: the leader stays, unless the leader itself missed a keep-alive
  // meanwhile (etcd slow on a loaded machine) and deposed itself. Either way no two lead at
  // once (the sampler, below).
  leader->election->pause_for_testing(false);
  const bool changed = wait_for([&] { return leader->leads() || !other->leads(); }, kTtl);
  if (other->revoked == 0) {
    EXPECT_FALSE(changed);
    EXPECT_EQ(other->election->current_leader(), other->name);
  }

  a.election->resign();
  b.election->resign();
  sampler.stop();
  EXPECT_EQ(sampler.both(), 0);
  expect_no_overlap({&a, &b});
}

// etcd killed and restarted under the candidates: its own process, not the shared one.
class EtcdCrashSlow : public ::testing::Test {
 protected:
  testsupport::TempDir dir_;
};

TEST_F(EtcdCrashSlow, KilledEtcdDeposesTheLeaderAndARestartElectsOneAgain) {
  EtcdProcess etcd(dir_.sub("etcd"));
  const std::string prefix = "/weir-test/crash";
  Candidate a("a", etcd.endpoint(), prefix, kTtl);
  Candidate b("b", etcd.endpoint(), prefix, kTtl);
  LeaderSampler sampler({&a, &b});
  a.start();
  b.start();
  Candidate* leader = wait_for_one_leader({&a, &b}, kTtl * 3);
  ASSERT_NE(leader, nullptr);
  const Fence old_fence = *leader->election->fence();

  const auto killed_at = Clock::now();
  etcd.kill();
  ASSERT_TRUE(wait_for([&] { return !leader->leads(); }, kTtl + milliseconds(500)));
  EXPECT_LT(Clock::now() - killed_at, kTtl);
  EXPECT_FALSE(leader->election->is_leader());
  EXPECT_FALSE(a.leads() || b.leads());
  // Nobody leads while etcd is down.
  EXPECT_FALSE(wait_for([&] { return a.leads() || b.leads(); }, kTtl));

  etcd.start();
  Candidate* again = wait_for_one_leader({&a, &b}, kTtl * 4);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->election->current_leader(), again->name);
  const Fence fence = *again->election->fence();
  EXPECT_GT(fence.create_revision, old_fence.create_revision);
  EXPECT_FALSE(a.client->put_fenced(old_fence, prefix + "/checkpoints/j", "stale"));
  EXPECT_TRUE(a.client->put_fenced(fence, prefix + "/checkpoints/j", "fresh"));

  a.election->resign();
  b.election->resign();
  sampler.stop();
  EXPECT_EQ(sampler.both(), 0);
  expect_no_overlap({&a, &b});
}

}  // namespace
}  // namespace weir::cluster
