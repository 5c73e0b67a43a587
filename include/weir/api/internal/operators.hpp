#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The typed operators behind the DataStream API, one family per header. Each instance belongs
/// to one subtask and is called only from its task's thread (see
/// weir/runtime/internal/operator.hpp for the lifecycle).
#include "weir/api/internal/basic_operators.hpp"
#include "weir/api/internal/co_operators.hpp"
#include "weir/api/internal/function_operator.hpp"
#include "weir/api/internal/keyed_reduce_operator.hpp"
#include "weir/api/internal/sink_operators.hpp"
#include "weir/api/internal/source_operators.hpp"
