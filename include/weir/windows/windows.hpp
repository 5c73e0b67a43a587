#pragma once
/// Windows as in Flink: window types, assigners, triggers, evictors, and the window functions'
/// interfaces. Semantics follow Flink's "Windows" documentation. One header per concept; this
/// one includes them all.
#include "weir/windows/assigners.hpp"
#include "weir/windows/evictors.hpp"
#include "weir/windows/triggers.hpp"
#include "weir/windows/window.hpp"
#include "weir/windows/window_functions.hpp"
