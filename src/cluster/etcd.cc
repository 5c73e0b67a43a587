#include "cluster/etcd.h"

#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace weir::cluster {

using json = nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string b64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = val(c);
    if (v < 0) throw EtcdError("etcd answered a key or value that is not base64");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

/// etcd's gateway writes 64-bit integers as JSON strings; absent means 0.
int64_t int_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_string()) {
    const auto& str = it->get_ref<const std::string&>();
    try {
      return std::stoll(str);
    } catch (const std::exception&) {
      throw EtcdError(std::string("etcd answered a field '") + name + "' that is not a number: " + str);
    }
  }
  if (it->is_number()) return it->get<int64_t>();
  if (it->is_boolean()) return it->get<bool>() ? 1 : 0;
  return 0;
}

std::string bytes_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return {};
  return b64_decode(it->get_ref<const std::string&>());
}

KeyValue parse_kv(const json& j) {
  KeyValue kv;
  kv.key = bytes_field(j, "key");
  kv.value = bytes_field(j, "value");
  kv.create_revision = int_field(j, "create_revision");
  kv.mod_revision = int_field(j, "mod_revision");
  kv.version = int_field(j, "version");
  kv.lease = int_field(j, "lease");
  return kv;
}

std::vector<KeyValue> parse_kvs(const json& j) {
  std::vector<KeyValue> out;
  auto it = j.find("kvs");
  if (it != j.end() && it->is_array()) {
    for (const auto& e : *it) out.push_back(parse_kv(e));
  }
  return out;
}

/// The first key after every key that starts with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

json op_json(const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::kPut: {
      json p = {{"key", b64_encode(op.key)}, {"value", b64_encode(op.value)}};
      if (op.lease != 0) p["lease"] = std::to_string(op.lease);
      return {{"request_put", p}};
    }
    case TxnOp::Kind::kErase:
      return {{"request_delete_range", {{"key", b64_encode(op.key)}}}};
    case TxnOp::Kind::kGet:
      return {{"request_range", {{"key", b64_encode(op.key)}}}};
  }
  return {};
}

json compare_json(const Compare& c) {
  json j = {{"key", b64_encode(c.key)}};
  switch (c.result) {
    case Compare::Result::kEqual: j["result"] = "EQUAL"; break;
    case Compare::Result::kNotEqual: j["result"] = "NOT_EQUAL"; break;
    case Compare::Result::kGreater: j["result"] = "GREATER"; break;
    case Compare::Result::kLess: j["result"] = "LESS"; break;
  }
  switch (c.target) {
    case Compare::Target::kCreateRevision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kModRevision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kVersion:
      j["target"] = "VERSION";
      j["version"] = std::to_string(c.number);
      break;
    case Compare::Target::kValue:
      j["target"] = "VALUE";
      j["value"] = b64_encode(c.value);
      break;
    case Compare::Target::kLease:
      j["target"] = "LEASE";
      j["lease"] = std::to_string(c.number);
      break;
  }
  return j;
}

std::pair<std::string, int> split_endpoint(const std::string& endpoint) {
  std::string e = endpoint;
  if (e.rfind("http://", 0) == 0) e = e.substr(7);
  while (!e.empty() && e.back() == '/') e.pop_back();
  const auto colon = e.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == e.size()) {
    throw std::invalid_argument("etcd endpoint '" + endpoint + "' is not host:port");
  }
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(e.substr(colon + 1), &used);
    if (used != e.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port <= 0 || port > 65535) throw std::invalid_argument("etcd endpoint '" + endpoint + "' has no valid port");
  return {e.substr(0, colon), port};
}

std::string normalize_prefix(std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return prefix;
}

}  // namespace

EtcdAddress parse_etcd_address(const std::string& url) {
  const std::string scheme = "etcd://";
  if (url.rfind(scheme, 0) != 0) {
    throw std::invalid_argument("HA address '" + url + "' does not start with etcd:// (etcd://HOST:PORT/PREFIX)");
  }
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string hosts = rest.substr(0, slash);
  EtcdAddress a;
  a.prefix = slash == std::string::npos ? "" : normalize_prefix(rest.substr(slash));
  if (a.prefix.empty()) {
    throw std::invalid_argument("HA address '" + url + "' has no key prefix (etcd://HOST:PORT/PREFIX)");
  }
  size_t start = 0;
  while (start <= hosts.size()) {
    const auto comma = hosts.find(',', start);
    const std::string h = hosts.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!h.empty()) {
      split_endpoint(h);  // validates
      a.endpoints.push_back(h);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (a.endpoints.empty()) throw std::invalid_argument("HA address '" + url + "' names no etcd endpoint");
  return a;
}

// ---------------------------------------------------------------------------------------------
// EtcdClient

EtcdClient::EtcdClient(std::vector<std::string> endpoints) : EtcdClient(std::move(endpoints), Options{}) {}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, Options options)
    : endpoints_(std::move(endpoints)), options_(options) {
  if (endpoints_.empty()) throw std::invalid_argument("EtcdClient needs at least one endpoint");
  for (const auto& e : endpoints_) split_endpoint(e);  // validates
  if (options_.timeout <= milliseconds(0)) throw std::invalid_argument("EtcdClient's timeout must be positive");
}

/// POSTs `body` (JSON) to `path` on the client's endpoints in turn; returns etcd's answer.
/// `until`: the whole call ends by then (each phase of each endpoint gets at most a third of
/// what is left). Throws EtcdError.
class EtcdCall {
 public:
  static json run(EtcdClient& c, const std::string& path, const std::string& body,
                  std::optional<Clock::time_point> until = std::nullopt);
};

json EtcdCall::run(EtcdClient& c, const std::string& path, const std::string& body,
                   std::optional<Clock::time_point> until) {
  const auto& endpoints = c.endpoints_;
  const auto& options = c.options_;
  auto& preferred = c.preferred_;
  std::string failures;
  const size_t n = endpoints.size();
  const size_t first = preferred.load(std::memory_order_relaxed) % n;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (first + k) % n;
    const std::string& endpoint = endpoints[i];
    milliseconds timeout = options.timeout;
    if (until) {
      // Connecting, sending and receiving each get a third of what is left.
      const auto left = std::chrono::duration_cast<milliseconds>(*until - Clock::now());
      if (left < milliseconds(3)) {
        if (!failures.empty()) failures += "; ";
        failures += "no time left for " + endpoint;
        break;
      }
      timeout = std::min(timeout, left / 3);
    }
    const auto [host, port] = split_endpoint(endpoint);
    httplib::Client cli(host, port);
    cli.set_connection_timeout(timeout);
    cli.set_read_timeout(timeout);
    cli.set_write_timeout(timeout);
    cli.set_keep_alive(false);
    // The gateway ends its error answers with an HTTP trailer (Grpc-Trailer-Content-Type),
    // which cpp-httplib 0.11 reports as a read error after the body: the status and the body
    // are taken as they arrive, and a complete JSON body is an answer.
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    int status = 0;
    std::string answer_text;
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      answer_text.append(data, len);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool sent = cli.send(req, res, err);
    json answer;
    if (status != 0) {
      try {
        answer = json::parse(answer_text);
      } catch (const json::exception&) {
        answer = nullptr;
      }
    }
    if (!answer.is_object() && (!sent || status == 0)) {
      // The transport failed: the next endpoint may answer.
      if (!failures.empty()) failures += "; ";
      failures += endpoint + ": " + httplib::to_string(err);
      continue;
    }
    if (status == 200 && answer.is_object() && !answer.contains("error")) {
      preferred.store(i, std::memory_order_relaxed);
      return answer;
    }
    std::string message;
    int64_t code = -1;
    if (answer.is_object()) {
      // Unary calls: {"error": "...", "message": "...", "code": N}; streaming calls:
      // {"error": {"grpc_code": N, "message": "..."}}.
      const json& e = answer.contains("error") && answer["error"].is_object() ? answer["error"] : answer;
      if (e.contains("message") && e["message"].is_string()) message = e["message"];
      else if (e.contains("error") && e["error"].is_string()) message = e["error"];
      try {
        code = e.contains("grpc_code") ? int_field(e, "grpc_code") : int_field(e, "code");
      } catch (const std::exception&) {
        code = -1;
      }
    }
    if (message.empty()) message = "HTTP " + std::to_string(status) + ": " + answer_text.substr(0, 200);
    // gRPC's UNAVAILABLE (no leader, shutting down): another member may answer.
    if (code == 14) {
      if (!failures.empty()) failures += "; ";
      failures += endpoint + ": " + message;
      continue;
    }
    throw EtcdError("etcd " + path + " at " + endpoint + " failed: " + message);
  }
  throw EtcdError("etcd " + path + " failed on every endpoint (" + failures + ")");
}

std::optional<std::string> EtcdClient::get(const std::string& key) {
  auto kv = get_kv(key);
  if (!kv) return std::nullopt;
  return std::move(kv->value);
}

std::optional<KeyValue> EtcdClient::get_kv(const std::string& key) {
  const json req = {{"key", b64_encode(key)}};
  auto kvs = parse_kvs(EtcdCall::run(*this, "/v3/kv/range", req.dump()));
  if (kvs.empty()) return std::nullopt;
  return std::move(kvs.front());
}

std::vector<KeyValue> EtcdClient::get_prefix(const std::string& prefix) {
  const json req = {{"key", b64_encode(prefix.empty() ? std::string(1, '\0') : prefix)},
                    {"range_end", b64_encode(prefix_end(prefix))}};
  return parse_kvs(EtcdCall::run(*this, "/v3/kv/range", req.dump()));
}

int64_t EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) {
  json req = {{"key", b64_encode(key)}, {"value", b64_encode(value)}};
  if (lease != 0) req["lease"] = std::to_string(lease);
  const json a = EtcdCall::run(*this, "/v3/kv/put", req.dump());
  return a.contains("header") ? int_field(a["header"], "revision") : 0;
}

bool EtcdClient::erase(const std::string& key) {
  const json req = {{"key", b64_encode(key)}};
  return int_field(EtcdCall::run(*this, "/v3/kv/deleterange", req.dump()), "deleted") > 0;
}

int64_t EtcdClient::erase_prefix(const std::string& prefix) {
  const json req = {{"key", b64_encode(prefix.empty() ? std::string(1, '\0') : prefix)},
                    {"range_end", b64_encode(prefix_end(prefix))}};
  return int_field(EtcdCall::run(*this, "/v3/kv/deleterange", req.dump()), "deleted");
}

int64_t EtcdClient::grant_lease(int64_t ttl_seconds) {
  if (ttl_seconds < 1) throw std::invalid_argument("a lease's TTL must be at least 1 s");
  const json req = {{"TTL", std::to_string(ttl_seconds)}};
  const json a = EtcdCall::run(*this, "/v3/lease/grant", req.dump());
  const int64_t id = int_field(a, "ID");
  if (id == 0) throw EtcdError("etcd /v3/lease/grant answered no lease id: " + a.dump());
  return id;
}

int64_t EtcdClient::keep_alive(int64_t lease, std::optional<milliseconds> timeout) {
  const json req = {{"ID", std::to_string(lease)}};
  std::optional<Clock::time_point> until;
  if (timeout) until = Clock::now() + *timeout;
  // A streaming call: the gateway answers one {"result": ...} per request line.
  const json a = EtcdCall::run(*this, "/v3/lease/keepalive", req.dump(), until);
  auto it = a.find("result");
  if (it == a.end() || !it->is_object()) throw EtcdError("etcd /v3/lease/keepalive answered no result: " + a.dump());
  return int_field(*it, "TTL");
}

void EtcdClient::revoke(int64_t lease) {
  const json req = {{"ID", std::to_string(lease)}};
  try {
    EtcdCall::run(*this, "/v3/lease/revoke", req.dump());
  } catch (const EtcdError& e) {
    if (std::string(e.what()).find("requested lease not found") != std::string::npos) return;
    throw;
  }
}

TxnResult EtcdClient::txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure, std::optional<Clock::time_point> until) {
  json req = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : compares) req["compare"].push_back(compare_json(c));
  for (const auto& op : success) req["success"].push_back(op_json(op));
  for (const auto& op : failure) req["failure"].push_back(op_json(op));
  const json a = EtcdCall::run(*this, "/v3/kv/txn", req.dump(), until);
  TxnResult r;
  r.succeeded = a.value("succeeded", false);
  if (a.contains("header")) r.revision = int_field(a["header"], "revision");
  auto it = a.find("responses");
  if (it != a.end() && it->is_array()) {
    for (const auto& resp : *it) {
      auto range = resp.find("response_range");
      if (range != resp.end()) r.gets.push_back(parse_kvs(*range));
    }
  }
  return r;
}

bool EtcdClient::put_if_absent(const std::string& key, const std::string& value, int64_t lease) {
  return txn({Compare::absent(key)}, {TxnOp::put(key, value, lease)}).succeeded;
}

bool EtcdClient::put_fenced(const Fence& fence, const std::string& key, const std::string& value,
                            std::optional<Clock::time_point> until) {
  return txn_fenced(fence, {TxnOp::put(key, value)}, until);
}

bool EtcdClient::erase_fenced(const Fence& fence, const std::string& key, std::optional<Clock::time_point> until) {
  return txn_fenced(fence, {TxnOp::erase(key)}, until);
}

bool EtcdClient::txn_fenced(const Fence& fence, const std::vector<TxnOp>& ops, std::optional<Clock::time_point> until) {
  if (fence.leader_key.empty() || fence.create_revision <= 0) {
    throw std::invalid_argument("a fenced write needs the fence of an elected leader");
  }
  return txn({Compare::create_revision(fence.leader_key, fence.create_revision)}, ops, {}, until).succeeded;
}

// ---------------------------------------------------------------------------------------------
// LeaderElection

namespace {
int64_t ttl_to_seconds(milliseconds ttl) {
  if (ttl < milliseconds(1000)) throw std::invalid_argument("a leader election's TTL must be at least 1 s");
  return (ttl.count() + 999) / 1000;
}
milliseconds default_margin(milliseconds ttl, milliseconds given) {
  if (given > milliseconds(0)) {
    if (given >= ttl / 2) throw std::invalid_argument("a leader election's safety margin must be below half its TTL");
    return given;
  }
  return std::max(ttl / 5, milliseconds(100));
}
}  // namespace

LeaderElection::LeaderElection(EtcdClient& client, std::string prefix, std::string candidate, milliseconds ttl)
    : LeaderElection(client, std::move(prefix), std::move(candidate), ttl, Options{}) {}

LeaderElection::LeaderElection(EtcdClient& client, std::string prefix, std::string candidate, milliseconds ttl,
                               Options options)
    : client_(client),
      prefix_(normalize_prefix(std::move(prefix))),
      leader_key_(prefix_ + "/leader"),
      candidate_(std::move(candidate)),
      ttl_(ttl),
      ttl_seconds_(ttl_to_seconds(ttl)),
      margin_(default_margin(ttl, options.safety_margin)) {}

LeaderElection::~LeaderElection() {
  try {
    resign();
  } catch (const std::exception& e) {
    spdlog::error("leader election {}: resigning failed: {}", leader_key_, e.what());
  }
}

void LeaderElection::start(OnElected on_elected, OnRevoked on_revoked) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) throw std::logic_error("LeaderElection::start: already started");
  on_elected_ = std::move(on_elected);
  on_revoked_ = std::move(on_revoked);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void LeaderElection::resign() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    if (thread_.get_id() == std::this_thread::get_id()) {
      throw std::logic_error("LeaderElection::resign called from its own callback");
    }
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool LeaderElection::is_leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leading_ && Clock::now() < deadline_;
}

std::optional<Fence> LeaderElection::fence() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leading_ || Clock::now() >= deadline_) return std::nullopt;
  return fence_;
}

std::optional<std::pair<Fence, Clock::time_point>> LeaderElection::leadership() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leading_ || Clock::now() >= deadline_) return std::nullopt;
  return std::make_pair(fence_, deadline_);
}

std::optional<std::string> LeaderElection::current_leader() { return client_.get(leader_key_); }

void LeaderElection::pause_for_testing(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  cv_.notify_all();
}

bool LeaderElection::wait_until(Clock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, until, [&] { return stop_; });
  return stop_;
}

void LeaderElection::release_abandoned_leases() {
  std::vector<int64_t> leases;
  {
    std::lock_guard<std::mutex> lock(mu_);
    leases.swap(abandoned_leases_);
  }
  std::vector<int64_t> kept;
  for (int64_t l : leases) {
    try {
      client_.revoke(l);
    } catch (const EtcdError& e) {
      spdlog::debug("leader election {}: revoking the old lease {} failed (retried later): {}", leader_key_, l,
                    e.what());
      kept.push_back(l);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  abandoned_leases_.insert(abandoned_leases_.end(), kept.begin(), kept.end());
}

bool LeaderElection::campaign() {
  const auto sent = Clock::now();
  const int64_t lease = client_.grant_lease(ttl_seconds_);
  TxnResult r;
  try {
    r = client_.txn({Compare::absent(leader_key_)}, {TxnOp::put(leader_key_, candidate_, lease)},
                    {TxnOp::get(leader_key_)});
  } catch (const EtcdError&) {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_leases_.push_back(lease);
    throw;
  }
  int64_t create_revision = 0;
  if (r.succeeded) {
    create_revision = r.revision;  // the put is the transaction's only write
  } else if (!r.gets.empty() && !r.gets[0].empty() && r.gets[0][0].lease == lease) {
    // The transaction was applied on an endpoint whose answer was lost, then retried.
    create_revision = r.gets[0][0].create_revision;
  } else {
    try {
      client_.revoke(lease);
    } catch (const EtcdError&) {
      std::lock_guard<std::mutex> lock(mu_);
      abandoned_leases_.push_back(lease);
    }
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  fence_ = Fence{leader_key_, create_revision, lease};
  deadline_ = sent + ttl_ - margin_;
  leading_ = Clock::now() < deadline_;
  if (!leading_) abandoned_leases_.push_back(lease);  // too slow to be sure of it
  return leading_;
}

void LeaderElection::depose() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leading_) return;
    leading_ = false;
    abandoned_leases_.push_back(fence_.lease);
  }
  if (on_revoked_) on_revoked_();
}

void LeaderElection::lead() {
  const milliseconds interval = ttl_ / 3;
  auto last_sent = Clock::now();
  for (;;) {
    Clock::time_point deadline;
    {
      std::lock_guard<std::mutex> lock(mu_);
      deadline = deadline_;
    }
    if (wait_until(std::min(last_sent + interval, deadline))) return;  // stopped: run() resigns
    const auto now = Clock::now();
    if (now >= deadline) {
      spdlog::warn("leader election {}: '{}' deposes itself: no keep-alive answered in time", leader_key_,
                   candidate_);
      depose();
      return;
    }
    bool paused;
    int64_t lease;
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused = paused_;
      lease = fence_.lease;
    }
    if (paused) {
      last_sent = now;
      continue;
    }
    last_sent = now;
    try {
      // Bounded so that the answer (or the failure) comes before the deadline.
      const int64_t remaining =
          client_.keep_alive(lease, std::chrono::duration_cast<milliseconds>(deadline - now));
      if (remaining <= 0) {
        spdlog::warn("leader election {}: '{}' deposed: its lease expired", leader_key_, candidate_);
        depose();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        deadline_ = std::max(deadline_, now + ttl_ - margin_);
      }
      // The key may have been deleted (or replaced) behind the lease's back: then another
      // candidate can be elected while the lease lives, and this one must stop.
      const auto kv = client_.get_kv(leader_key_);
      int64_t create_revision;
      {
        std::lock_guard<std::mutex> lock(mu_);
        create_revision = fence_.create_revision;
      }
      if (!kv || kv->create_revision != create_revision) {
        spdlog::warn("leader election {}: '{}' deposed: its leader key was deleted or replaced", leader_key_,
                     candidate_);
        depose();
        return;
      }
    } catch (const EtcdError& e) {
      spdlog::warn("leader election {}: '{}' deposes itself: keep-alive failed: {}", leader_key_, candidate_,
                   e.what());
      depose();
      return;
    }
  }
}

void LeaderElection::run() {
  const milliseconds poll = ttl_ / 4;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    bool paused;
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused = paused_;
    }
    if (!paused) {
      try {
        release_abandoned_leases();
        bool absent = !client_.get_kv(leader_key_).has_value();
        if (absent && campaign()) {
          Fence f;
          {
            std::lock_guard<std::mutex> lock(mu_);
            f = fence_;
          }
          spdlog::info("leader election {}: '{}' leads (revision {})", leader_key_, candidate_, f.create_revision);
          if (on_elected_) on_elected_(f);
          lead();
          continue;  // deposed: campaign again at once (or stop)
        }
      } catch (const EtcdError& e) {
        spdlog::debug("leader election {}: '{}' cannot campaign now: {}", leader_key_, candidate_, e.what());
      } catch (const std::exception& e) {
        spdlog::error("leader election {}: '{}': {}", leader_key_, candidate_, e.what());
      }
    }
    if (wait_until(Clock::now() + poll)) break;
  }
  // Stopped: give up a leadership at once, and release its key.
  bool was_leading;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_leading = leading_;
  }
  if (was_leading) depose();
  try {
    release_abandoned_leases();
  } catch (const std::exception& e) {
    spdlog::warn("leader election {}: releasing leases failed: {}", leader_key_, e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// JobStore

JobStore::JobStore(EtcdClient& client, std::string prefix) : client_(client), prefix_(normalize_prefix(std::move(prefix))) {}

namespace {
void check_id(const std::string& id) {
  if (id.empty()) throw std::invalid_argument("a job id must not be empty");
}
}  // namespace

std::string JobStore::job_key(const std::string& id) const { return prefix_ + "/jobs/" + id; }
std::string JobStore::checkpoint_key(const std::string& id) const { return prefix_ + "/checkpoints/" + id; }

bool JobStore::put_job(const Fence& fence, const std::string& id, const std::string& submission,
                       std::optional<Clock::time_point> until) {
  check_id(id);
  return client_.put_fenced(fence, job_key(id), submission, until);
}

bool JobStore::put_checkpoint(const Fence& fence, const std::string& id, const std::string& path,
                              std::optional<Clock::time_point> until) {
  check_id(id);
  return client_.put_fenced(fence, checkpoint_key(id), path, until);
}

bool JobStore::remove_job(const Fence& fence, const std::string& id, std::optional<Clock::time_point> until) {
  check_id(id);
  return client_.txn_fenced(fence, {TxnOp::erase(job_key(id)), TxnOp::erase(checkpoint_key(id))}, until);
}

std::optional<std::string> JobStore::job(const std::string& id) {
  check_id(id);
  return client_.get(job_key(id));
}

std::optional<std::string> JobStore::checkpoint(const std::string& id) {
  check_id(id);
  return client_.get(checkpoint_key(id));
}

std::vector<std::pair<std::string, std::string>> JobStore::jobs() {
  const std::string p = prefix_ + "/jobs/";
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& kv : client_.get_prefix(p)) out.emplace_back(kv.key.substr(p.size()), std::move(kv.value));
  return out;
}

}  // namespace weir::cluster
