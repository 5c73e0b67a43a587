#pragma once
/// Bytes of the settings a cluster job ships with its submission (the coordinator restarts and
/// checkpoints the job without its code), and of task snapshots sent to the coordinator.
#include <string>
#include <string_view>
#include <vector>

#include "weir/runtime/checkpoint_config.hpp"
#include "weir/runtime/execution.hpp"
#include "weir/runtime/restart.hpp"
#include "weir/state/snapshot.hpp"

namespace weir::detail {

struct ConfigCodec {
  static std::string encode(const CheckpointConfig& c);
  /// Throws SerdeError on malformed bytes.
  static CheckpointConfig decode_checkpoint_config(std::string_view bytes);
  static std::string encode(const RestartStrategy& r);
  static RestartStrategy decode_restart_strategy(std::string_view bytes);
};

}  // namespace weir::detail

namespace weir::cluster {

namespace rpc {
class TaskStatus;
}
/// A task's metrics in the control plane's TaskStatus (cluster.proto), and back.
void encode_task_metrics(const TaskMetrics& m, rpc::TaskStatus* out);
TaskMetrics decode_task_metrics(const rpc::TaskStatus& in);

/// A task's snapshots as state files (the checkpoint format), one per operator of its chain.
/// Throws StateError for state that cannot leave its process (RocksDB files).
std::vector<std::string> encode_snapshots(const std::vector<runtime::OperatorSnapshot>& snaps);
std::vector<runtime::OperatorSnapshot> decode_snapshots(const std::vector<std::string>& files);

}  // namespace weir::cluster
