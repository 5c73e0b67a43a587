#pragma once
/// `weir coordinator|worker|submit|list|cancel|stop`, `weir savepoint JOB_ID DIR` and
/// `weir run --workers N`: the cluster's commands.
#include <atomic>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "status_line.h"

namespace weir::cli {

struct ClusterCommands {
  CLI::App* coordinator = nullptr;
  CLI::App* worker = nullptr;
  CLI::App* submit = nullptr;
  CLI::App* list = nullptr;
  CLI::App* cancel = nullptr;
  CLI::App* stop = nullptr;
};

/// Adds the cluster's subcommands to `app`.
ClusterCommands add_cluster_commands(CLI::App& app);
/// Runs the one that was given; -1 when none was.
int run_cluster_command(const ClusterCommands& c, const std::atomic<bool>& interrupted);

/// `weir savepoint JOB_ID DIR [--coordinator A]`.
int trigger_savepoint(const std::string& coordinator, const std::string& job_id, const std::string& dir);
/// `weir run --workers N JOB ARGS...`: a local cluster of N worker processes for one job.
int run_with_workers(int workers, const std::string& job, const std::vector<std::string>& args,
                     const std::atomic<bool>& interrupted, const StatusOptions& status);
/// The Python interpreter that runs `.py` jobs (WEIR_PYTHON, else the build's default, else
/// python3); puts a build folder's package on PYTHONPATH for the processes it starts.
std::string python_for_jobs();
/// Sets the log level from WEIR_LOG (trace, debug, info, warn, error, off) when it is set.
void apply_log_level();

}  // namespace weir::cli
