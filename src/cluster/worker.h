#pragma once
/// A worker of a Weir cluster (Flink's TaskManager): registers its slots with the coordinator,
/// starts a process for each job attempt placed on it (the job's own program, which runs the
/// tasks of its slots), kills them when told, and reports when one ends.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace weir::cluster {

struct WorkerOptions {
  /// "HOST:PORT[,HOST:PORT...]": with several (HA), the one that leads accepts the worker.
  std::string coordinator = "127.0.0.1:6123";
  int slots = 1;
  /// The address its task processes listen on for data from other workers.
  std::string bind = "127.0.0.1";
  /// Where job files and process logs go (a temporary folder when empty).
  std::string work_dir;
  std::string secret;
  /// Runs `.py` jobs (`python -m weir JOB`); WEIR_PYTHON or python3 when empty.
  std::string python;
  std::string worker_id;
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();
  /// Serves until `stop_flag` is set (or `stop()`); reconnects when the coordinator is lost.
  void run(const std::atomic<bool>* stop_flag = nullptr);
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::cluster
