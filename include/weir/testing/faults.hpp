#pragma once
/// Arming named fault points, to test recovery (not part of a job's API; `weir.hpp` does not
/// include it). Library code calls `weir::fault_point("name")` at places where a real failure
/// can happen; a test arms a point so that its n-th hit throws `InjectedFault` (a task failure,
/// or a failed checkpoint write). Disarmed points cost one relaxed atomic load.
///
/// Points: "task.process" (a task about to process a batch, or a source about to emit),
/// "checkpoint.sync" (the synchronous snapshot), "checkpoint.async_write" (writing a
/// checkpoint's files), "checkpoint.metadata" (before the metadata file is written),
/// "sink.pre_commit" and "sink.commit" (between pre-commit and commit of a two-phase-commit
/// sink). The checkpoint file system: "fs.write", "fs.torn_write" (for checkpoint files: half
/// the bytes written, then the failure; for RocksDB uploads: after the copy), "fs.fsync" and
/// "fs.rename", hit for every file a checkpoint writes.
#include <cstdint>
#include <string>

#include "weir/common/fault_point.hpp"

namespace weir {

namespace testing {
/// Makes the `nth` next hit (1 = the next one) of point `name` throw, `times` times in a row.
void arm_fault(const std::string& name, int64_t nth = 1, int64_t times = 1);
/// Disarms every point and resets the counters.
void disarm_faults();
/// How often point `name` was hit since it was armed (0 once disarmed: only armed points count).
int64_t fault_hits(const std::string& name);
/// How often an armed point threw.
int64_t faults_fired(const std::string& name);
}  // namespace testing
}  // namespace weir
