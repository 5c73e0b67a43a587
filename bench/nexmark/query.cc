#include "query.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace nexmark {

namespace {
std::map<std::string, QueryDef>& registry() {
  static std::map<std::string, QueryDef> r;
  return r;
}
int query_number(const std::string& name) {
  return name.size() > 1 && name[0] == 'q' ? std::atoi(name.c_str() + 1) : 1000;
}
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
}  // namespace

void register_query(QueryDef q) {
  const std::string name = q.name;
  if (!registry().emplace(name, std::move(q)).second) throw std::logic_error("nexmark: query " + name + " registered twice");
}

const QueryDef* find_query(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<const QueryDef*> all_queries() {
  std::vector<const QueryDef*> out;
  for (auto& [name, q] : registry()) out.push_back(&q);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return query_number(a->name) < query_number(b->name); });
  return out;
}

std::vector<std::string> sorted_rows(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    std::size_t b = 0;
    while (b <= l.size()) {
      std::size_t e = l.find('\n', b);
      if (e == std::string::npos) e = l.size();
      if (e > b) out.push_back(l.substr(b, e - b));
      b = e + 1;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Results::table() const {
  std::vector<std::string> lines = lines_;
  for (const auto& [k, v] : upserts_) lines.push_back(v);
  return sorted_rows(lines);
}

weir::DataStream<Bid> QueryContext::bids() const {
  return events.filter([](const Event& e) { return e.type() == 2; }).name("bid").map([](const Event& e) { return *e.bid(); }).name("bid");
}
weir::DataStream<Auction> QueryContext::auctions() const {
  return events.filter([](const Event& e) { return e.type() == 1; }).name("auction").map([](const Event& e) {
    return *e.auction();
  }).name("auction");
}
weir::DataStream<Person> QueryContext::persons() const {
  return events.filter([](const Event& e) { return e.type() == 0; }).name("person").map([](const Event& e) {
    return *e.person();
  }).name("person");
}

std::vector<Event> all_events(const Config& config) {
  Generator g(config);
  std::vector<Event> out;
  out.reserve(static_cast<std::size_t>(config.events));
  for (int64_t i = 0; i < config.events; ++i) out.push_back(g.event(i));
  return out;
}

RunResult run(const RunOptions& o) {
  const QueryDef* q = o.query == "gen" ? nullptr : find_query(o.query);
  if (o.query != "gen" && !q) throw std::invalid_argument("unknown query '" + o.query + "' (q0..q22 or gen)");
  if (o.parallelism < 1) throw std::invalid_argument("the parallelism must be at least 1");
  if (o.state != "heap" && o.state != "rocksdb") throw std::invalid_argument("--state must be heap or rocksdb, not " + o.state);

  std::string dir = o.work_dir;
  bool own_dir = false;
  if (dir.empty() && (o.state == "rocksdb" || o.checkpoint_interval_ms > 0)) {
    dir = (std::filesystem::temp_directory_path() /
           ("weir-nexmark-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}())))
              .string();
    own_dir = true;
  }
  if (!dir.empty()) std::filesystem::create_directories(dir);

  auto clock = std::make_shared<GenerationClock>(o.parallelism);
  auto results = std::make_shared<Results>(o.check, o.check ? nullptr : clock);
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(o.parallelism).set_worker_threads(o.parallelism);
  if (o.state == "rocksdb") env.set_state_backend(weir::StateBackend::rocksdb(dir + "/db"));
  if (o.checkpoint_interval_ms > 0) {
    env.enable_checkpointing(o.checkpoint_interval_ms);
    env.set_checkpoint_storage(dir + "/checkpoints");
  }
  auto events = env.from_source(NexmarkSource(o.config, 0, o.check ? nullptr : clock), watermarks(), "nexmark")
                    .uid("nexmark-source");
  if (q) {
    QueryContext ctx{env, events, o.config, results, dir};
    q->build(ctx);
  } else {
    QueryContext ctx{env, events, o.config, results, dir};
    ctx.sink(events, [](const Event&) { return std::string(); }, [](const Event& e) { return e.date_time(); });
  }

  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  env.execute("nexmark " + o.query);
  RunResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_seconds = cpu_seconds() - cpu0;
  r.events = o.config.events;
  r.rows = results->rows();
  r.p99_latency_ms = results->latency_ms(99);
  r.p50_latency_ms = results->latency_ms(50);
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  r.peak_rss_bytes = static_cast<int64_t>(u.ru_maxrss) * 1024;
  if (o.check) {
    if (!results->duplicate_keys().empty()) {
      throw std::logic_error("nexmark " + o.query + ": key '" + results->duplicate_keys().front() +
                             "' was upserted by two sink subtasks");
    }
    r.table = results->table();
  }
  if (own_dir) std::filesystem::remove_all(dir);
  return r;
}

}  // namespace nexmark
