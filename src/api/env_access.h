#pragma once
/// Reaches the graph and settings behind a `StreamExecutionEnvironment`, for Weir's own code
/// that works on a declared job without running it (plans, language bindings, tests).
#include "weir/api/environment.hpp"

namespace weir::detail {

struct EnvAccess {
  static EnvState& state(StreamExecutionEnvironment& env) { return *env.state_; }
};

}  // namespace weir::detail
