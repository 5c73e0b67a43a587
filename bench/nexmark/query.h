#pragma once
// The Nexmark queries' common frame: a registry (each query file registers itself with
// NEXMARK_QUERY), the context a query builds its job in, and the result sink that measures
// (rows, latency) or collects the final result table for checking.
//
// Result rows are compared as text lines, the same on the Flink side (bench/nexmark/flink):
// fields in the order of the query's SELECT, joined by ',', integers in decimal, timestamps as
// ms since the epoch, decimals with their scale (q14: 3 digits), NULL as `null`, strings as
// they are. The "final table" of a query is the multiset of its rows after all updates:
// - append queries: every row emitted;
// - updating queries (unbounded aggregates, top-N, dedup): rows are upserted by a key the
//   query names; the last line per key stands (a line may hold several rows, '\n'-separated:
//   a top-N list is one upsert of its key).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "nexmark.h"

namespace nexmark {

/// What a run collects: rows, latency samples, and in check mode the final table.
class Results {
 public:
  Results(bool check, std::shared_ptr<GenerationClock> clock) : check_(check), clock_(std::move(clock)) {}
  bool check() const { return check_; }
  GenerationClock* clock() const { return clock_.get(); }

  struct Local {
    int64_t rows = 0;
    std::vector<int64_t> latency_ns;
    std::vector<std::string> lines;                        // append rows
    std::unordered_map<std::string, std::string> upserts;  // key -> line
  };
  void merge(Local&& l) {
    std::lock_guard lock(mu_);
    rows_ += l.rows;
    latency_ns_.insert(latency_ns_.end(), l.latency_ns.begin(), l.latency_ns.end());
    for (auto& line : l.lines) lines_.push_back(std::move(line));
    for (auto& [k, v] : l.upserts) {
      if (!upserts_.emplace(k, v).second) duplicate_keys_.push_back(k);
    }
  }
  int64_t rows() const { return rows_; }
  /// p-th percentile of the sampled latencies in ms (-1: none sampled).
  double latency_ms(double p) {
    std::lock_guard lock(mu_);
    if (latency_ns_.empty()) return -1;
    std::sort(latency_ns_.begin(), latency_ns_.end());
    const std::size_t i = std::min(latency_ns_.size() - 1, static_cast<std::size_t>(p / 100.0 * latency_ns_.size()));
    return static_cast<double>(latency_ns_[i]) / 1e6;
  }
  std::size_t latency_samples() const { return latency_ns_.size(); }
  /// The final table, one row per line, sorted.
  std::vector<std::string> table() const;
  /// Keys two sink subtasks both upserted (a query bug: the key must decide the subtask).
  const std::vector<std::string>& duplicate_keys() const { return duplicate_keys_; }

 private:
  bool check_;
  std::shared_ptr<GenerationClock> clock_;
  std::mutex mu_;
  int64_t rows_ = 0;
  std::vector<int64_t> latency_ns_;
  std::vector<std::string> lines_;
  std::unordered_map<std::string, std::string> upserts_;
  std::vector<std::string> duplicate_keys_;
};

/// Splits '\n'-separated rows, drops empty ones, sorts.
std::vector<std::string> sorted_rows(const std::vector<std::string>& lines);

namespace detail {
template <class R, class Format, class Time, class Key>
struct ResultSink {
  std::shared_ptr<Results> results;
  Format format;
  Time time;  // int64_t(const R&): the row's event time in ms, for latency
  Key key;    // std::string(const R&), or nullptr_t for append rows
  Results::Local local;  // per subtask: each subtask runs its own copy of the sink
  void operator()(const R& r) {
    const int64_t n = local.rows++;
    if (results->check()) {
      if constexpr (std::is_same_v<Key, std::nullptr_t>) {
        local.lines.push_back(format(r));
      } else {
        local.upserts[key(r)] = format(r);
      }
      return;
    }
    // Latency: every row of the first 65,536, then one in 256.
    if (results->clock() && (n < 65'536 || (n & 255) == 0)) {
      if (auto at = results->clock()->generated_at(time(r))) {
        local.latency_ns.push_back(GenerationClock::now_ns() - *at);
      }
    }
  }
  void finish() { results->merge(std::move(local)); }
};
}  // namespace detail

/// Where a query builds its job.
struct QueryContext {
  weir::StreamExecutionEnvironment& env;
  weir::DataStream<Event> events;  // the generator with the suite's watermarks (date_time - 4 s)
  const Config& config;
  std::shared_ptr<Results> results;
  /// The run's work folder (RunOptions::work_dir, or the one the run made); may be empty.
  std::string work_dir;

  /// Append rows. `time(r)`: the row's event time (ms) for latency.
  template <class R, class Format, class Time>
  void sink(weir::DataStream<R> s, Format format, Time time) {
    s.add_sink(detail::ResultSink<R, Format, Time, std::nullptr_t>{results, std::move(format), std::move(time), nullptr, {}})
        .name("nexmark-sink");
  }
  /// Updating rows, upserted by `key(r)`. The stream must be keyed so that one key always
  /// reaches the same sink subtask (the sink is chained to the operator that makes the rows).
  template <class R, class Format, class Time, class Key>
  void upsert_sink(weir::DataStream<R> s, Format format, Time time, Key key) {
    s.add_sink(detail::ResultSink<R, Format, Time, Key>{results, std::move(format), std::move(time), std::move(key), {}})
        .name("nexmark-sink");
  }

  // The suite's views.
  weir::DataStream<Bid> bids() const;
  weir::DataStream<Auction> auctions() const;
  weir::DataStream<Person> persons() const;
};

/// Joins fields with ','.
template <class... A>
std::string row(const A&... a) {
  std::string out;
  bool first = true;
  auto add = [&](const auto& v) {
    if (!first) out.push_back(',');
    first = false;
    using V = std::decay_t<decltype(v)>;
    if constexpr (std::is_arithmetic_v<V>) {
      out += std::to_string(v);
    } else {
      out += v;
    }
  };
  (add(a), ...);
  return out;
}

struct QueryDef {
  std::string name;         // "q0"
  std::string description;  // one line
  std::function<void(QueryContext&)> build;
  /// The final table computed sequentially from all events (sorted rows), or nullptr where the
  /// result depends on processing time.
  std::function<std::vector<std::string>(const std::vector<Event>&, const Config&)> reference;
};

void register_query(QueryDef q);
const QueryDef* find_query(const std::string& name);
std::vector<const QueryDef*> all_queries();  // q0, q1, ... in number order

#define NEXMARK_CONCAT2(a, b) a##b
#define NEXMARK_CONCAT(a, b) NEXMARK_CONCAT2(a, b)
/// Registers a query at start-up: NEXMARK_QUERY(QueryDef{...});
#define NEXMARK_QUERY(...) \
  static const bool NEXMARK_CONCAT(nexmark_registered_, __LINE__) = (::nexmark::register_query(__VA_ARGS__), true)

/// Every event of `config` in id order (for references).
std::vector<Event> all_events(const Config& config);

/// What one run measured.
struct RunResult {
  int64_t events = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double p99_latency_ms = -1;
  double p50_latency_ms = -1;
  int64_t peak_rss_bytes = 0;
  int64_t rows = 0;
  std::vector<std::string> table;  // check mode
};

struct RunOptions {
  std::string query;
  Config config;
  int parallelism = 1;
  int64_t checkpoint_interval_ms = 0;  // 0: none
  std::string state = "heap";          // heap | rocksdb
  std::string work_dir;                // for RocksDB and checkpoints (made when empty)
  bool check = false;                  // collect the final table instead of measuring latency
};

/// Runs one query (or "gen": the generator into a discarding sink).
RunResult run(const RunOptions& o);

}  // namespace nexmark
