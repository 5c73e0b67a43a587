// The `weir` command line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "weir/weir.hpp"

#include "checkpoint/storage.h"
#include "cluster_commands.h"
#include "kafka_dev.h"
#include "status_line.h"

namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

struct Click {
  int64_t user = 0;
  int64_t page = 0;
  bool operator==(const Click&) const = default;
};
WEIR_SERDE(Click, user, page);

/// Runs a job to its end while showing its status line; Ctrl-C cancels it cleanly.
int watch(weir::JobClient& client, const weir::cli::JobShape& shape, const weir::cli::StatusOptions& options) {
  weir::cli::StatusPrinter printer(options, shape);
  const weir::cli::Sampler sample = [&client] { return std::optional<weir::cli::StatusSample>(weir::cli::sample_of(client)); };
  auto fut = client.get_job_execution_result();
  while (fut.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (g_interrupted.load()) {
      printer.break_line();
      std::fprintf(stderr, "canceling...\n");
      client.cancel();
      g_interrupted.store(false);
    }
    printer.tick(sample);
  }
  printer.finish(sample);
  try {
    auto result = client.wait();
    std::fprintf(stderr, "job '%s' finished in %lld ms\n", result.get_job_name().c_str(),
                 static_cast<long long>(result.get_net_runtime()));
    return 0;
  } catch (const weir::JobFailure& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

int run_demo(int64_t records, int parallelism, int64_t users, const weir::cli::StatusOptions& status) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(parallelism);
  // A keyed running count: clicks per user, generated deterministically from the index.
  auto counts = env.from_generator(records, [users](int64_t i) {
                     const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
                     return Click{static_cast<int64_t>((h >> 17) % static_cast<uint64_t>(users)), i % 100};
                   })
                    .name("clicks")
                    .map([](const Click& c) { return std::pair<int64_t, int64_t>{c.user, 1}; })
                    .name("to-count")
                    .key_by([](const std::pair<int64_t, int64_t>& p) { return p.first; })
                    .reduce([](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
                      return std::pair<int64_t, int64_t>{a.first, a.second + b.second};
                    })
                    .name("count-per-user");
  // Keep the last running count per user; print the top users at the end.
  struct Latest {
    std::shared_ptr<std::map<int64_t, int64_t>> all = std::make_shared<std::map<int64_t, int64_t>>();
    std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
    std::map<int64_t, int64_t> mine;
    void operator()(const std::pair<int64_t, int64_t>& p) { mine[p.first] = p.second; }
    void finish() {
      std::lock_guard lock(*mu);
      for (auto& [k, v] : mine) (*all)[k] = v;
    }
  };
  Latest latest;
  auto all = latest.all;
  counts.add_sink(latest).name("latest-count");

  std::fprintf(stderr, "weir demo: %lld clicks of %lld users, keyed running count, parallelism %d\n",
               static_cast<long long>(records), static_cast<long long>(users), parallelism);
  const std::string plan = env.get_execution_plan();
  std::fprintf(stderr, "%s\n", plan.c_str());
  auto client = env.execute_async("weir demo: clicks per user");
  const int rc = watch(client, weir::cli::JobShape::from_plan_json(plan), status);
  if (rc != 0) return rc;
  std::vector<std::pair<int64_t, int64_t>> top(all->begin(), all->end());
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  int64_t total = 0;
  for (auto& [u, c] : top) total += c;
  std::printf("top users by clicks:\n");
  for (std::size_t i = 0; i < std::min<std::size_t>(5, top.size()); ++i) {
    std::printf("  user %6lld  %lld clicks\n", static_cast<long long>(top[i].first), static_cast<long long>(top[i].second));
  }
  std::printf("users: %zu, clicks counted: %lld of %lld\n", top.size(), static_cast<long long>(total),
              static_cast<long long>(records));
  return total == records ? 0 : 1;
}

// ---- weir savepoint inspect ----------------------------------------------------------------

/// Milliseconds since the epoch as "2026-11-25 01:50:05 UTC".
std::string utc_time(int64_t ms) {
  if (ms <= 0) return "unknown";
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "unknown";
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) return "unknown";
  return buf;
}

/// A name for a one-line text report: control characters escaped, quotes kept readable.
std::string printable(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  return out;
}

/// The outcome of checking one file the metadata references.
struct FileCheck {
  bool checked = false;
  std::string error;  ///< empty: size and checksum match
};

struct SubtaskReport {
  FileCheck file;                  ///< the state file (unchecked when there is none)
  std::vector<FileCheck> kv_files;
};

/// Checks every file `meta` references; returns the number of bad files.
int verify_files(const std::string& dir, const weir::checkpoint::Metadata& meta,
                 std::vector<std::vector<SubtaskReport>>& reports) {
  namespace cp = weir::checkpoint;
  int bad = 0;
  auto check = [&](const std::string& base, const cp::FileRef& ref, FileCheck& out) {
    out.checked = true;
    try {
      if (base.empty()) throw weir::StateError("file '" + ref.name + "' is in the job's shared folder, which the metadata does not name");
      (void)cp::read_verified(base, ref);
    } catch (const std::exception& e) {
      out.error = e.what();
      ++bad;
    }
  };
  for (std::size_t o = 0; o < meta.operators.size(); ++o) {
    const auto& op = meta.operators[o];
    for (std::size_t s = 0; s < op.subtasks.size(); ++s) {
      const auto& st = op.subtasks[s];
      auto& r = reports[o][s];
      if (!st.file.name.empty()) check(dir, st.file, r.file);
      for (std::size_t k = 0; k < st.kv_files.size(); ++k) {
        const auto& f = st.kv_files[k];
        check(meta.shared_dir, cp::FileRef{f.name, f.size, f.checksum}, r.kv_files[k]);
      }
    }
  }
  return bad;
}

struct OperatorTotals {
  std::set<std::string> state_names;
  uint64_t keys = 0;
  uint64_t records = 0;
  uint64_t keyed_bytes = 0;
  uint64_t files = 0;
  uint64_t file_bytes = 0;  ///< state files and RocksDB files
  std::vector<weir::runtime::StateType> state_types;  ///< by scope, then name
};

OperatorTotals totals_of(const weir::checkpoint::OperatorMeta& op) {
  OperatorTotals t;
  for (const auto& st : op.subtasks) {
    t.state_names.insert(st.state_names.begin(), st.state_names.end());
    t.keys += st.keys;
    t.records += st.keyed_records;
    t.keyed_bytes += st.keyed_bytes;
    if (!st.file.name.empty()) {
      ++t.files;
      t.file_bytes += st.file.size;
    }
    for (const auto& f : st.kv_files) {
      ++t.files;
      t.file_bytes += f.size;
    }
    for (const auto& ty : st.state_types) weir::runtime::add_state_type(t.state_types, ty);
  }
  std::sort(t.state_types.begin(), t.state_types.end(), [](const auto& a, const auto& b) {
    return std::tie(a.scope, a.name) < std::tie(b.scope, b.name);
  });
  return t;
}

/// "key type: int64 (v1)", "'count': ValueState<int64> (v1)", "'buf' (operator state): ...".
std::string state_type_line(const weir::runtime::StateType& t) {
  using weir::runtime::StateScope;
  const std::string type = printable(t.describe());
  switch (t.scope) {
    case StateScope::key:
      return "key type: " + type;
    case StateScope::operator_list:
      return "'" + printable(t.name) + "' (operator state): " + type;
    case StateScope::broadcast:
      return "'" + printable(t.name) + "' (broadcast state): " + type;
    case StateScope::keyed:
      break;
  }
  return "'" + printable(t.name) + "': " + type;
}

const char* scope_name(weir::runtime::StateScope s) {
  using weir::runtime::StateScope;
  switch (s) {
    case StateScope::key:
      return "key";
    case StateScope::operator_list:
      return "operator";
    case StateScope::broadcast:
      return "broadcast";
    case StateScope::keyed:
      break;
  }
  return "keyed";
}

void print_text(const std::string& dir, const weir::checkpoint::Metadata& meta,
                const std::vector<std::vector<SubtaskReport>>& reports, bool verified, int bad) {
  std::string out;
  out += fmt::format("{} {}  (checkpoint {}, taken {}, format {}, backend {})\n", meta.savepoint ? "savepoint" : "checkpoint",
                     printable(dir), meta.checkpoint_id, utc_time(meta.timestamp), meta.version, printable(meta.backend));
  out += fmt::format("job: {}\n", printable(meta.job_name));
  if (!meta.shared_dir.empty()) out += fmt::format("shared files: {}\n", printable(meta.shared_dir));
  out += fmt::format("operators: {}\n", meta.operators.size());
  uint64_t all_files = 0, all_bytes = 0;
  auto status = [](const FileCheck& c) -> std::string {
    if (!c.checked) return "";
    return c.error.empty() ? "  ok" : "  BAD";
  };
  for (std::size_t o = 0; o < meta.operators.size(); ++o) {
    const auto& op = meta.operators[o];
    const OperatorTotals t = totals_of(op);
    all_files += t.files;
    all_bytes += t.file_bytes;
    std::string names;
    for (const auto& n : t.state_names) {
      if (!names.empty()) names += ", ";
      names += printable(n);
    }
    out += fmt::format("  uid '{}'  name '{}'  parallelism {}, max parallelism {}\n", printable(op.uid), printable(op.name),
                       op.parallelism, op.max_parallelism);
    out += fmt::format("    state: {}\n", names.empty() ? "(none)" : names);
    out += fmt::format("    keys: {}  records: {}  keyed bytes: {}  files: {} ({})\n", t.keys, t.records,
                       weir::cli::format_bytes(t.keyed_bytes), t.files, weir::cli::format_bytes(t.file_bytes));
    if (meta.version < 2) {
      out += fmt::format("    state types: not recorded (format {})\n", meta.version);
    } else if (!t.state_types.empty()) {
      out += "    state types:\n";
      for (const auto& ty : t.state_types) out += "      " + state_type_line(ty) + "\n";
    }
    for (std::size_t s = 0; s < op.subtasks.size(); ++s) {
      const auto& st = op.subtasks[s];
      const auto& r = reports[o][s];
      std::string file = st.file.name.empty()
                             ? std::string("file -")
                             : fmt::format("file {} {}{}", printable(st.file.name), weir::cli::format_bytes(st.file.size), status(r.file));
      out += fmt::format("    subtask {}  key groups {}-{}  keys {}  records {}  {}\n", st.subtask, st.first_key_group,
                         st.last_key_group, st.keys, st.keyed_records, file);
      for (std::size_t k = 0; k < st.kv_files.size(); ++k) {
        const auto& f = st.kv_files[k];
        out += fmt::format("      kv file {} {}{}\n", printable(f.name), weir::cli::format_bytes(f.size), status(r.kv_files[k]));
      }
    }
  }
  out += fmt::format("files: {} ({})", all_files, weir::cli::format_bytes(all_bytes));
  if (!verified) {
    out += ", not verified\n";
  } else if (bad == 0) {
    out += ", all sizes and checksums match\n";
  } else {
    out += fmt::format(", {} missing or corrupt\n", bad);
  }
  std::fputs(out.c_str(), stdout);
}

void print_json(const std::string& dir, const weir::checkpoint::Metadata& meta,
                const std::vector<std::vector<SubtaskReport>>& reports, bool verified, int bad) {
  using json = nlohmann::ordered_json;  // fields in the order they are set
  auto file_json = [&](const std::string& name, uint64_t size, uint64_t sum, const FileCheck& c) {
    json j = {{"name", name}, {"size", size}, {"checksum", fmt::format("{:016x}", sum)}};
    if (c.checked) {
      j["ok"] = c.error.empty();
      if (!c.error.empty()) j["error"] = c.error;
    }
    return j;
  };
  json out = {{"path", dir},
              {"kind", meta.savepoint ? "savepoint" : "checkpoint"},
              {"checkpoint_id", meta.checkpoint_id},
              {"timestamp", meta.timestamp},
              {"taken", utc_time(meta.timestamp)},
              {"format", meta.version},
              {"backend", meta.backend},
              {"job", meta.job_name},
              {"shared_dir", meta.shared_dir},
              {"verify", !verified ? "skipped" : bad == 0 ? "ok" : "failed"},
              {"operators", json::array()}};
  for (std::size_t o = 0; o < meta.operators.size(); ++o) {
    const auto& op = meta.operators[o];
    const OperatorTotals t = totals_of(op);
    json jo = {{"uid", op.uid},
               {"name", op.name},
               {"parallelism", op.parallelism},
               {"max_parallelism", op.max_parallelism},
               {"state_names", json::array()},
               {"keys", t.keys},
               {"records", t.records},
               {"keyed_bytes", t.keyed_bytes},
               {"files", t.files},
               {"file_bytes", t.file_bytes},
               {"state_types", nullptr},
               {"subtasks", json::array()}};
    for (const auto& n : t.state_names) jo["state_names"].push_back(n);
    if (meta.version >= 2) {
      jo["state_types"] = json::array();
      for (const auto& ty : t.state_types) {
        jo["state_types"].push_back(
            {{"scope", scope_name(ty.scope)}, {"name", ty.name}, {"type", ty.type}, {"version", ty.version}});
      }
    }
    for (std::size_t s = 0; s < op.subtasks.size(); ++s) {
      const auto& st = op.subtasks[s];
      const auto& r = reports[o][s];
      json js = {{"subtask", st.subtask},
                 {"first_key_group", st.first_key_group},
                 {"last_key_group", st.last_key_group},
                 {"keys", st.keys},
                 {"records", st.keyed_records},
                 {"keyed_bytes", st.keyed_bytes},
                 {"state_names", st.state_names},
                 {"file", st.file.name.empty() ? json(nullptr) : file_json(st.file.name, st.file.size, st.file.checksum, r.file)},
                 {"kv_files", json::array()}};
      for (std::size_t k = 0; k < st.kv_files.size(); ++k) {
        const auto& f = st.kv_files[k];
        js["kv_files"].push_back(file_json(f.name, f.size, f.checksum, r.kv_files[k]));
      }
      jo["subtasks"].push_back(std::move(js));
    }
    out["operators"].push_back(std::move(jo));
  }
  // Names are UTF-8 as the job gave them; bytes that are not valid UTF-8 become U+FFFD.
  const std::string text = out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::fputs(text.c_str(), stdout);
}

/// `weir savepoint inspect DIR`: 0 when readable (and verified), 1 when the metadata cannot
/// be read, 2 when a referenced file is missing or corrupt.
int inspect_savepoint(const std::string& dir, bool json, bool verify) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (!fs::exists(st)) {
    std::fprintf(stderr, "weir: savepoint folder '%s' does not exist\n", dir.c_str());
    return 1;
  }
  if (!fs::is_directory(st)) {
    std::fprintf(stderr, "weir: '%s' is not a folder (give the savepoint or chk-N folder)\n", dir.c_str());
    return 1;
  }
  weir::checkpoint::Metadata meta;
  try {
    meta = weir::checkpoint::read_metadata(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir: %s\n", e.what());
    return 1;
  }
  std::vector<std::vector<SubtaskReport>> reports(meta.operators.size());
  for (std::size_t o = 0; o < meta.operators.size(); ++o) {
    const auto& op = meta.operators[o];
    reports[o].resize(op.subtasks.size());
    for (std::size_t s = 0; s < op.subtasks.size(); ++s) reports[o][s].kv_files.resize(op.subtasks[s].kv_files.size());
  }
  const int bad = verify ? verify_files(dir, meta, reports) : 0;
  if (json) {
    print_json(dir, meta, reports, verify, bad);
  } else {
    print_text(dir, meta, reports, verify, bad);
  }
  std::fflush(stdout);
  if (bad == 0) return 0;
  for (const auto& ops : reports) {
    for (const auto& r : ops) {
      if (!r.file.error.empty()) std::fprintf(stderr, "weir: %s\n", r.file.error.c_str());
      for (const auto& k : r.kv_files) {
        if (!k.error.empty()) std::fprintf(stderr, "weir: %s\n", k.error.c_str());
      }
    }
  }
  return 2;
}

/// `weir run job.py args...`: replaces this process with the Python interpreter running the job
/// through the weir package (`python -m weir job.py args...`). The interpreter is $WEIR_PYTHON,
/// else python3; a build folder's package (beside this binary) is put on PYTHONPATH.
int run_python_job(const char* argv0, const std::string& file, const std::vector<std::string>& args) {
  if (file.size() < 3 || file.substr(file.size() - 3) != ".py") {
    std::fprintf(stderr, "weir run: '%s' is not a Python file (.py); C++ jobs are programs: run them directly\n",
                 file.c_str());
    return 2;
  }
  const std::string python = weir::cli::python_for_jobs();  // also puts a build's package on PYTHONPATH
  std::vector<std::string> all{python, "-m", "weir", file};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : all) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  ::execvp(python.c_str(), cargs.data());
  std::fprintf(stderr, "weir run: cannot start %s: %s (set WEIR_PYTHON to the Python that has the weir package)\n",
               python.c_str(), std::strerror(errno));
  (void)argv0;
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Weir: stream processing with Flink's model, without a JVM"};
  app.require_subcommand(1);

  auto* demo = app.add_subcommand("demo", "Run a built-in job on generated data (a keyed running count)");
  int64_t records = 50'000'000;
  int parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t users = 10'000;
  demo->add_option("-n,--records", records, "Number of generated records")->check(CLI::PositiveNumber);
  demo->add_option("-p,--parallelism", parallelism, "Parallelism")->check(CLI::PositiveNumber);
  demo->add_option("-u,--users", users, "Number of distinct keys")->check(CLI::PositiveNumber);
  bool demo_quiet = false;
  double demo_status_interval = 10;
  demo->add_flag("-q,--quiet", demo_quiet, "No status line");
  demo->add_option("--status-interval", demo_status_interval,
                   "Seconds between status lines when stderr is not a terminal (a terminal's refreshes in place)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  auto* savepoint = app.add_subcommand("savepoint", "Take a cluster job's savepoint (JOB_ID DIR), or inspect one (inspect DIR)");
  savepoint->require_subcommand(0, 1);
  std::string savepoint_job;
  std::string savepoint_dir;
  std::string savepoint_coordinator;
  savepoint->add_option("job_id", savepoint_job, "A cluster job's id (weir list)");
  savepoint->add_option("dir", savepoint_dir, "The folder of the savepoint");
  savepoint->add_option("--coordinator", savepoint_coordinator, "HOST:PORT[,...] (default: $WEIR_COORDINATOR or 127.0.0.1:6123)");
  auto* inspect = savepoint->add_subcommand(
      "inspect", "Print what a savepoint (or chk-N checkpoint folder) holds: operators, state, keys, files");
  std::string inspect_dir;
  bool inspect_json = false;
  bool no_verify = false;
  inspect->add_option("dir", inspect_dir, "The savepoint folder or a retained checkpoint's chk-N folder")->required();
  inspect->add_flag("--json", inspect_json, "Print JSON instead of text");
  inspect->add_flag("--no-verify", no_verify, "Do not check the sizes and checksums of the referenced files");

  auto* kafka_dev = app.add_subcommand(
      "kafka-dev",
      "Run an in-memory Kafka broker for demos on 127.0.0.1 (librdkafka's mock cluster; not for production)");
  weir::cli::KafkaDevOptions kafka_dev_options;
  std::vector<std::string> kafka_dev_topics;
  kafka_dev->add_option("--port", kafka_dev_options.port, "Port on 127.0.0.1 to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  kafka_dev
      ->add_option("--topic", kafka_dev_topics,
                   "A topic to create, NAME:PARTITIONS (NAME alone: 1 partition); repeat for more")
      ->check(CLI::Validator(
          [](std::string& spec) {
            try {
              (void)weir::cli::parse_kafka_dev_topic(spec);
              return std::string();
            } catch (const std::invalid_argument& e) {
              return std::string(e.what());
            }
          },
          "NAME:PARTITIONS"));
  kafka_dev->footer(
      "Prints its address (one line, 127.0.0.1:PORT) on stdout once clients can connect, then runs until\n"
      "Ctrl-C or SIGTERM and exits 0. One broker, everything in memory: each partition keeps only its last\n"
      "~5 MiB (or 100000 produce batches); unknown topics are created on first use with 4 partitions;\n"
      "transactions are accepted but not isolated (aborted records stay visible). Production and the test\n"
      "suite use real Apache Kafka (scripts/kafka.sh starts one). See docs/connectors/kafka-dev.md.");

  app.add_subcommand("version", "Print the version");

  auto* run = app.add_subcommand("run", "Run a job: a Python file (PyFlink's API, pyflink imports resolved to weir)");
  std::string run_file;
  int run_workers = 0;
  run->add_option("--workers", run_workers,
                  "Run the job on a local cluster of N worker processes (a .py file or a program that links Weir)")
      ->check(CLI::PositiveNumber);
  std::string run_ui;
  run->add_option("--ui", run_ui,
                  "Serve the REST API and web UI while the job runs, on HOST:PORT (default 127.0.0.1:8081; port 0: any "
                  "free one); prints \"Weir UI: <url>\" on stderr")
      ->expected(0, 1)
      ->default_str("127.0.0.1:8081");
  std::string run_upload_dir;
  run->add_option("--web-upload-dir", run_upload_dir,
                  "With --workers and --ui: enable job submission through the UI, storing programs here");
  bool run_quiet = false;
  double run_status_interval = 10;
  run->add_flag("-q,--quiet", run_quiet, "No status line");
  run->add_option("--status-interval", run_status_interval,
                  "Seconds between status lines when stderr is not a terminal (a terminal's refreshes in place)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_option("job", run_file, "the job: a .py file");
  run->prefix_command();  // what follows the file is the job's own arguments

  const auto cluster_commands = weir::cli::add_cluster_commands(app);

  CLI11_PARSE(app, argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::vector<std::string> run_args = run->remaining();
  if (app.got_subcommand(run) && run->count("--ui") > 0 && !run_ui.empty() && run_ui.find(':') == std::string::npos) {
    // `weir run --ui job.py ...`: the option took the job's file as its address.
    if (!run_file.empty()) run_args.insert(run_args.begin(), run_file);
    run_file = run_ui;
    run_ui.clear();
  }
  if (app.got_subcommand(run) && run_file.empty()) {
    std::fprintf(stderr, "weir run: give the job to run (a .py file)\n");
    return 2;
  }
  if (app.got_subcommand(run) && run->count("--ui") > 0) {
    ::setenv("WEIR_UI", run_ui.empty() ? "127.0.0.1:8081" : run_ui.c_str(), 1);
    if (!run_upload_dir.empty()) ::setenv("WEIR_WEB_UPLOAD_DIR", run_upload_dir.c_str(), 1);
  }
  if (app.got_subcommand(run) && run_workers > 0) {
    try {
      return weir::cli::run_with_workers(run_workers, run_file, run_args, g_interrupted,
                                         weir::cli::status_options(run_quiet, run_status_interval));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "weir: %s\n", e.what());
      return 1;
    }
  }
  if (app.got_subcommand(run)) {
    // The status line comes from the Python process (its jobs run there): weir.cli reads this.
    ::setenv("WEIR_STATUS", run_quiet ? "off" : fmt::format("{}", run_status_interval).c_str(), 1);
    return run_python_job(argv[0], run_file, run_args);
  }
  try {
    const int code = weir::cli::run_cluster_command(cluster_commands, g_interrupted);
    if (code >= 0) return code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir: %s\n", e.what());
    return 1;
  }

  try {
    if (app.got_subcommand("version")) {
      std::printf("weir 0.1.0\n");
      return 0;
    }
    if (app.got_subcommand("demo")) return run_demo(records, parallelism, users, weir::cli::status_options(demo_quiet, demo_status_interval));
    if (app.got_subcommand(kafka_dev)) {
      for (const auto& spec : kafka_dev_topics) kafka_dev_options.topics.push_back(weir::cli::parse_kafka_dev_topic(spec));
      return weir::cli::run_kafka_dev(kafka_dev_options);
    }
    if (savepoint->got_subcommand(inspect)) return inspect_savepoint(inspect_dir, inspect_json, !no_verify);
    if (app.got_subcommand(savepoint)) {
      if (savepoint_job.empty() || savepoint_dir.empty()) {
        std::fprintf(stderr, "weir savepoint: give JOB_ID DIR (a running cluster job), or inspect DIR\n");
        return 2;
      }
      return weir::cli::trigger_savepoint(savepoint_coordinator, savepoint_job, savepoint_dir);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir: %s\n", e.what());
    return 1;
  }
  return 0;
}
