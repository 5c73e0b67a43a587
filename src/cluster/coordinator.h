#pragma once
/// The coordinator of a Weir cluster (Flink's JobManager): workers register with it and offer
/// slots; clients submit jobs; for each job it schedules the subtasks on slots, starts one
/// process per worker used, coordinates checkpoints, and restarts the job from its latest
/// completed checkpoint when a task fails or a worker is lost.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace weir::cluster {

struct CoordinatorOptions {
  std::string bind = "127.0.0.1:6123";
  /// Where checkpoints of jobs that configure no storage go (shared by every process).
  std::string checkpoint_dir;
  /// etcd://HOST:PORT[,HOST:PORT]/PREFIX: leader election and job metadata (empty: no HA).
  std::string ha;
  /// Required of workers, task processes and clients when set.
  std::string secret;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{6000};
  /// How long a job waits for enough free slots before it fails.
  std::chrono::milliseconds slot_timeout{std::chrono::minutes(5)};
  /// How long the processes of a job attempt have to start and attach before it fails.
  std::chrono::milliseconds attach_timeout{std::chrono::minutes(2)};
  /// The workspace's REST API and web UI (src/rest/) on this host:port (empty: none).
  std::string rest_bind;
  /// The token its changing routes need (empty: a random one, see `rest_url()`).
  std::string rest_token;
  /// Programs uploaded through it go here (empty: submission through the API is off).
  std::string upload_dir;
  /// Log files the API may serve (empty: none).
  std::string log_dir;
  /// The web UI's files (empty: the build's or the installed ones).
  std::string web_root;
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;
  /// Binds and serves. Throws std::runtime_error when the address cannot be bound.
  void start();
  /// The address it serves ("127.0.0.1:PORT", the port resolved when 0 was asked).
  std::string address() const;
  /// The web UI's address with its token (http://host:port/#token=...), empty without one.
  std::string rest_url() const;
  /// Blocks until `shutdown` (another thread, or a signal handler's flag via `stop_flag`).
  void wait(const std::atomic<bool>* stop_flag = nullptr);
  void shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::cluster
