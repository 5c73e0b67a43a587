#pragma once
/// The workspace's HTTP server: Flink's REST API (its paths and JSON shapes where Flink has
/// them), Prometheus `/metrics`, the OpenAPI document and the web UI's static files, over a
/// `Backend` that knows the jobs: this process's (`local_backend()`: `weir run --ui`, notebooks)
/// or a cluster coordinator's.
///
/// Security: it binds to 127.0.0.1 unless told otherwise; every route that changes something
/// (POST, PATCH, DELETE) needs `Authorization: Bearer <token>`; uploads are off unless an upload
/// folder is given, and then confined to it; request bodies are capped (413).
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/job_registry.h"

namespace weir::rest {

/// A worker (Flink's TaskManager) as `/taskmanagers` shows it.
struct WorkerSnapshot {
  std::string id;
  std::string host;
  int slots = 0;
  int free_slots = 0;
  int64_t last_heartbeat_ms = 0;  ///< wall clock
  int cpu_cores = 0;
  int64_t physical_memory = 0;
  int64_t free_memory = 0;
};

/// What the server shows and controls. Thread-safe: called from the server's threads.
class Backend {
 public:
  virtual ~Backend() = default;
  /// "embedded" (the jobs of one process) or "cluster".
  virtual std::string mode() const = 0;
  /// Every job, newest first.
  virtual std::vector<runtime::JobSnapshot> jobs() = 0;
  virtual std::optional<runtime::JobSnapshot> job(const std::string& id) = 0;
  /// Cancels a running job; false when there is no such running job.
  virtual bool cancel(const std::string& id) = 0;
  /// Takes a savepoint into `dir` (and stops the job with `stop`); the future holds the folder.
  /// Throws std::invalid_argument when there is no such running job.
  virtual std::future<std::string> savepoint(const std::string& id, const std::string& dir, bool stop) = 0;
  virtual std::vector<WorkerSnapshot> workers() = 0;
  /// Whether `run_program` works here.
  virtual bool can_run_programs() const { return false; }
  /// Runs an uploaded program (a .py file or an executable that links Weir) with `args` and
  /// default parallelism `parallelism` (0: the default); returns the id of the job it submitted.
  /// Throws std::runtime_error with the reason it could not.
  virtual std::string run_program(const std::string& path, const std::vector<std::string>& args, int parallelism);
};

/// The jobs this process runs embedded (runtime::JobRegistry).
std::shared_ptr<Backend> local_backend();

struct ServerOptions {
  /// host:port; port 0 picks a free one (read `Server::address()`).
  std::string bind = "127.0.0.1:8081";
  /// The token changes need; empty: a random one is made (read `Server::token()`).
  std::string token;
  /// Uploaded programs go here (created); empty: submission through the API is off.
  std::string upload_dir;
  /// The web UI's built files (index.html, assets/); empty: the build's or the installed ones
  /// (env WEIR_WEB_ROOT overrides), or none.
  std::string web_root;
  /// Log files `/jobmanager/logs/:name` may read (empty: none).
  std::string log_dir;
  /// The largest request body accepted (an upload); larger ones get 413.
  std::size_t max_upload_bytes = 256u << 20;
  /// The largest JSON body accepted.
  std::size_t max_json_bytes = 64u << 10;
};

class Server {
 public:
  /// Binds and starts serving on its own threads. Throws std::runtime_error when it cannot bind.
  Server(std::shared_ptr<Backend> backend, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// "host:port" it listens on.
  const std::string& address() const;
  const std::string& token() const;
  /// The UI's address with the token in the fragment: http://host:port/#token=...
  std::string url() const;
  /// Stops serving; idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The web UI's folder this build or installation ships (empty when none is found).
std::string default_web_root();

/// Starts a server over this process's jobs when env WEIR_UI names an address (`weir run --ui`),
/// printing "Weir UI: <url>" on stderr. Called once when libweir loads; safe to call again.
void start_from_environment();

}  // namespace weir::rest
