#pragma once
/// Named metrics of one operator subtask, as Flink's `MetricGroup`: counters that only grow and
/// gauges that hold the latest value. An operator owns its group; functions reach it with
/// `RuntimeContext::get_metric_group()`, connectors through their reader's output. Every method
/// is thread-safe (a connector's I/O thread may count while `JobClient::metrics()` reads), and
/// a counter or gauge keeps its address for the group's life, so hot paths hold a reference.
/// Metrics start from zero when a job restarts (as Flink's: they belong to the task attempt).
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace weir {

/// A count that only grows (records, bytes, bad records).
class Counter {
 public:
  void inc(int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t get_count() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

/// The latest value of something (consumer lag, open transactions).
class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  int64_t get_value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class MetricGroup {
 public:
  /// The counter `name`, created at zero on first use.
  Counter& counter(const std::string& name) { return get(counters_, name); }
  /// The gauge `name`, created at zero on first use.
  Gauge& gauge(const std::string& name) { return get(gauges_, name); }
  /// Every metric by name, read now.
  std::map<std::string, int64_t> values() const {
    std::lock_guard lock(mu_);
    std::map<std::string, int64_t> out;
    for (const auto& [k, c] : counters_) out[k] = c->get_count();
    for (const auto& [k, g] : gauges_) out[k] = g->get_value();
    return out;
  }

 private:
  template <class M>
  typename M::mapped_type::element_type& get(M& m, const std::string& name) {
    std::lock_guard lock(mu_);
    auto& slot = m[name];
    if (!slot) slot = std::make_unique<typename M::mapped_type::element_type>();
    return *slot;
  }
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::unique_ptr<Gauge>> gauges_;
};

}  // namespace weir
