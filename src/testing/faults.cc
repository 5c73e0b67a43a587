#include "weir/testing/faults.hpp"

#include <map>
#include <mutex>

namespace weir {
namespace detail {
std::atomic<int> g_armed_fault_points{0};

namespace {
struct Point {
  int64_t hits = 0;
  int64_t fire_at = 0;  // hit number that throws first; 0: never
  int64_t times = 0;    // throws left
  int64_t fired = 0;
};
std::mutex g_mu;
std::map<std::string, Point>& points() {
  static std::map<std::string, Point> p;
  return p;
}
}  // namespace

void hit_fault_point(const char* name) {
  bool fire = false;
  {
    std::lock_guard lock(g_mu);
    auto it = points().find(name);
    if (it == points().end()) return;
    auto& p = it->second;
    ++p.hits;
    if (p.fire_at > 0 && p.hits >= p.fire_at && p.times > 0) {
      --p.times;
      ++p.fired;
      fire = true;
    }
  }
  if (fire) throw InjectedFault(std::string("injected fault at '") + name + "'");
}
}  // namespace detail

namespace testing {
void arm_fault(const std::string& name, int64_t nth, int64_t times) {
  std::lock_guard lock(detail::g_mu);
  auto& p = detail::points()[name];
  p.hits = 0;
  p.fire_at = nth;
  p.times = times;
  p.fired = 0;
  detail::g_armed_fault_points.store(1, std::memory_order_relaxed);
}
void disarm_faults() {
  std::lock_guard lock(detail::g_mu);
  detail::points().clear();
  detail::g_armed_fault_points.store(0, std::memory_order_relaxed);
}
int64_t fault_hits(const std::string& name) {
  std::lock_guard lock(detail::g_mu);
  auto it = detail::points().find(name);
  return it == detail::points().end() ? 0 : it->second.hits;
}
int64_t faults_fired(const std::string& name) {
  std::lock_guard lock(detail::g_mu);
  auto it = detail::points().find(name);
  return it == detail::points().end() ? 0 : it->second.fired;
}
}  // namespace testing
}  // namespace weir
