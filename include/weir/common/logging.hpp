#pragma once
/// Where the engine's log lines go. By default they go to standard output (level from the
/// WEIR_LOG environment variable: debug, info, warn, error, off).

namespace weir {

/// Sends the engine's log lines to standard error instead, leaving standard output to what the
/// job prints (the Python package does this when it is imported).
void log_to_stderr();

}  // namespace weir
