#pragma once
/// The hook library code calls at places where a real failure can happen; tests arm the points
/// with weir/testing/faults.hpp (where the points are listed). Disarmed points cost one relaxed
/// atomic load.
#include <atomic>
#include <stdexcept>

namespace weir {

class InjectedFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
extern std::atomic<int> g_armed_fault_points;
void hit_fault_point(const char* name);
}  // namespace detail

/// Throws InjectedFault when `name` is armed and this is the hit it was armed for.
inline void fault_point(const char* name) {
  if (detail::g_armed_fault_points.load(std::memory_order_relaxed) != 0) detail::hit_fault_point(name);
}

}  // namespace weir
