#pragma once
#include <string>

namespace weir::runtime {

/// A new random job id: 32 lowercase hex digits (Flink's JobID is 16 random bytes as well).
std::string new_job_id();

}  // namespace weir::runtime
