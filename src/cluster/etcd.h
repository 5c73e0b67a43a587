#pragma once
/// High availability of the coordinators on etcd (v3, through its JSON gateway): a client for
/// the key-value and lease calls, a leader election whose leader deposes itself before etcd can
/// elect another, fenced writes (they succeed only while the writer's leadership lasts) and the
/// job metadata kept there. See README-etcd.md.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weir::cluster {

/// A failed etcd call: the message names the endpoint(s), the call and etcd's (or the
/// transport's) message.
class EtcdError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One key with its value and revisions, as etcd returns it.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  ///< revision of the put that created the key (0: absent)
  int64_t mod_revision = 0;     ///< revision of its last put
  int64_t version = 0;          ///< puts since its creation
  int64_t lease = 0;            ///< lease it is attached to (0: none)
};

/// A condition of a transaction on one key.
struct Compare {
  enum class Target { kCreateRevision, kModRevision, kVersion, kValue, kLease };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kCreateRevision;
  Result result = Result::kEqual;
  int64_t number = 0;  ///< for the revision, version and lease targets
  std::string value;   ///< for kValue

  static Compare create_revision(std::string key, int64_t rev) {
    return {std::move(key), Target::kCreateRevision, Result::kEqual, rev, {}};
  }
  static Compare absent(std::string key) { return create_revision(std::move(key), 0); }
};

/// One operation of a transaction branch.
struct TxnOp {
  enum class Kind { kPut, kErase, kGet };
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;  ///< kPut
  int64_t lease = 0;  ///< kPut

  static TxnOp put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease};
  }
  static TxnOp erase(std::string key) { return {Kind::kErase, std::move(key), {}, 0}; }
  static TxnOp get(std::string key) { return {Kind::kGet, std::move(key), {}, 0}; }
};

struct TxnResult {
  bool succeeded = false;  ///< every compare held: the success branch ran
  int64_t revision = 0;    ///< the store's revision after the transaction
  /// For each kGet of the branch that ran, in order: the key found (empty when absent).
  std::vector<std::vector<KeyValue>> gets;
};

/// What a leader hands to fenced writes: the leader key and the revision that created it. A new
/// election deletes and re-creates the key (new create revision), so a fenced write of a deposed
/// leader fails.
struct Fence {
  std::string leader_key;
  int64_t create_revision = 0;
  int64_t lease = 0;
};

/// Endpoints and key prefix of an `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` address (the
/// coordinator's --ha option). The prefix starts with '/' and has no trailing '/'.
struct EtcdAddress {
  std::vector<std::string> endpoints;
  std::string prefix;
};
/// Throws std::invalid_argument naming what is wrong.
EtcdAddress parse_etcd_address(const std::string& url);

/// A client of etcd's v3 JSON gateway (HTTP/1.1 POST /v3/...). Keys and values are binary-safe
/// strings. Every call has a timeout; on a connection error the next endpoint is tried; a
/// failure throws EtcdError. Thread-safe (each call uses its own connection).
class EtcdClient {
 public:
  struct Options {
    /// Bound of connecting, sending and receiving, each, for one endpoint.
    std::chrono::milliseconds timeout{2000};
  };

  /// `endpoints`: "host:port" (or "http://host:port"), at least one.
  explicit EtcdClient(std::vector<std::string> endpoints);
  EtcdClient(std::vector<std::string> endpoints, Options options);

  const std::vector<std::string>& endpoints() const { return endpoints_; }

  std::optional<std::string> get(const std::string& key);
  std::optional<KeyValue> get_kv(const std::string& key);
  /// Every key starting with `prefix`, in key order.
  std::vector<KeyValue> get_prefix(const std::string& prefix);
  /// Returns the store's revision after the put.
  int64_t put(const std::string& key, const std::string& value, int64_t lease = 0);
  /// Returns whether the key existed.
  bool erase(const std::string& key);
  /// Returns the number of keys deleted.
  int64_t erase_prefix(const std::string& prefix);

  /// A lease of `ttl_seconds` (etcd may raise it to its minimum); returns its id.
  int64_t grant_lease(int64_t ttl_seconds);
  /// Refreshes the lease; returns its remaining TTL in seconds, 0 when it has expired (or never
  /// existed). `timeout` bounds the whole call (all endpoints tried), below the client's.
  int64_t keep_alive(int64_t lease, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Revokes the lease (deleting its keys). A lease already gone is not an error.
  void revoke(int64_t lease);

  /// `until`, when given, bounds the whole call (all endpoints tried); past it the call throws
  /// EtcdError and whether etcd applied the transaction is unknown.
  TxnResult txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                const std::vector<TxnOp>& failure = {},
                std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);
  /// Puts `key` only when it is absent; returns whether it did.
  bool put_if_absent(const std::string& key, const std::string& value, int64_t lease = 0);
  /// Writes only while `fence`'s leader key still has the fence's create revision, i.e. while
  /// that leadership lasts. Returns false (and writes nothing) otherwise.
  /// `until` as for txn(): a leader passes its deadline, so no write of its leadership is still
  /// under way once it can no longer be sure it leads.
  bool put_fenced(const Fence& fence, const std::string& key, const std::string& value,
                  std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);
  bool erase_fenced(const Fence& fence, const std::string& key,
                    std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);
  /// Runs `ops` atomically under the fence; returns false (running nothing) when it fails.
  bool txn_fenced(const Fence& fence, const std::vector<TxnOp>& ops,
                  std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);

 private:

  std::vector<std::string> endpoints_;
  Options options_;
  std::atomic<size_t> preferred_{0};  ///< the endpoint that answered last

  friend class EtcdCall;
};

/// Campaigns for leadership under `prefix` (key `prefix/leader`, value `candidate`).
///
/// The winner keeps its lease alive every ttl/3 and deposes itself (on_revoked) as soon as it
/// cannot be sure it still holds the lease: a keep-alive fails or answers "expired", or its
/// steady clock passes `send time of the last successful keep-alive + ttl - safety margin`,
/// which is before etcd can expire the lease and elect someone else. Losers poll the key every
/// ttl/4 and campaign again when it is gone. A deposed candidate campaigns again.
///
/// Callbacks run on the election's thread, one at a time, never concurrently; on_elected gets
/// the fence for the leader's writes. They should return quickly (a leader that blocks in
/// on_elected delays its keep-alives; the deadline still holds for is_leader()).
class LeaderElection {
 public:
  struct Options {
    /// Subtracted from the lease's TTL for the leader's own deadline (clock rate differences,
    /// thread wake-up). Default (0): max(ttl / 5, 100 ms).
    std::chrono::milliseconds safety_margin{0};
  };
  using OnElected = std::function<void(const Fence&)>;
  using OnRevoked = std::function<void()>;

  /// `ttl` is rounded up to whole seconds for etcd; at least 1 s.
  LeaderElection(EtcdClient& client, std::string prefix, std::string candidate, std::chrono::milliseconds ttl);
  LeaderElection(EtcdClient& client, std::string prefix, std::string candidate, std::chrono::milliseconds ttl,
                 Options options);
  ~LeaderElection();  ///< resign()
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  /// Starts campaigning on a thread of its own. Throws std::logic_error when already started.
  void start(OnElected on_elected, OnRevoked on_revoked);
  /// Stops campaigning; a leader calls on_revoked and revokes its lease (releasing the key at
  /// once). Waits for the thread. Does nothing when not started. Not from a callback.
  void resign();

  /// True while leading and before the deadline (checked on the calling thread's steady clock,
  /// so true even when the election's thread is stuck only while leadership is certain).
  bool is_leader() const;
  /// The fence while is_leader().
  std::optional<Fence> fence() const;
  /// The fence and the deadline of the leadership (by this process's steady clock) while
  /// is_leader(): a write under the fence must end by the deadline.
  std::optional<std::pair<Fence, std::chrono::steady_clock::time_point>> leadership() const;
  /// The candidate the leader key names now (read from etcd), if any.
  std::optional<std::string> current_leader();

  const std::string& leader_key() const { return leader_key_; }
  std::chrono::milliseconds safety_margin() const { return margin_; }

  /// Test hook: while paused the thread sends nothing to etcd (no keep-alive, no campaign), as a
  /// frozen process would; a leader still deposes itself at its deadline.
  void pause_for_testing(bool paused);

 private:
  void run();
  /// Campaigns once; returns true when elected (then lease_/fence_/deadline_ are set).
  bool campaign();
  /// Keeps the lease alive until stopped or deposed; returns whether stopped.
  void lead();
  void depose();
  void release_abandoned_leases();
  /// Waits until `until` or a stop; returns whether stopped.
  bool wait_until(std::chrono::steady_clock::time_point until);

  EtcdClient& client_;
  const std::string prefix_;
  const std::string leader_key_;
  const std::string candidate_;
  const std::chrono::milliseconds ttl_;
  const int64_t ttl_seconds_;
  const std::chrono::milliseconds margin_;

  OnElected on_elected_;
  OnRevoked on_revoked_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool paused_ = false;
  bool leading_ = false;
  Fence fence_;
  std::chrono::steady_clock::time_point deadline_{};
  std::vector<int64_t> abandoned_leases_;  ///< leases of past leaderships, revoked when possible
};

/// The coordinators' job metadata under `prefix`: `prefix/jobs/<id>` (the submission, opaque)
/// and `prefix/checkpoints/<id>` (the latest completed checkpoint's path). Writes are fenced;
/// they return false when the fence no longer holds (the writer was deposed).
class JobStore {
 public:
  JobStore(EtcdClient& client, std::string prefix);

  /// Fenced writes; `until` bounds each call (see EtcdClient::txn).
  bool put_job(const Fence& fence, const std::string& id, const std::string& submission,
               std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);
  bool put_checkpoint(const Fence& fence, const std::string& id, const std::string& path,
                      std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);
  /// Deletes the job's submission and checkpoint pointer together.
  bool remove_job(const Fence& fence, const std::string& id,
                  std::optional<std::chrono::steady_clock::time_point> until = std::nullopt);

  std::optional<std::string> job(const std::string& id);
  std::optional<std::string> checkpoint(const std::string& id);
  /// (id, submission) of every job, in id order.
  std::vector<std::pair<std::string, std::string>> jobs();

  std::string job_key(const std::string& id) const;
  std::string checkpoint_key(const std::string& id) const;

 private:
  EtcdClient& client_;
  std::string prefix_;
};

}  // namespace weir::cluster
