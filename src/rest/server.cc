#include "rest/server.h"

#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "rest/json_views.h"
#include "rest/prometheus.h"
#include "runtime/job_run.h"

#ifndef WEIR_VERSION_STRING
#define WEIR_VERSION_STRING "0"
#endif

namespace weir::rest {
namespace fs = std::filesystem;
using nlohmann::json;

extern const char* const kOpenApiDocument;

std::string Backend::run_program(const std::string&, const std::vector<std::string>&, int) {
  throw std::runtime_error("this server cannot run programs: submit to a cluster (weir coordinator --rest ... --web-upload-dir DIR)");
}

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---- the jobs of this process --------------------------------------------------------------

class LocalBackend final : public Backend {
 public:
  std::string mode() const override { return "embedded"; }
  std::vector<runtime::JobSnapshot> jobs() override { return runtime::JobRegistry::instance().jobs(); }
  std::optional<runtime::JobSnapshot> job(const std::string& id) override { return runtime::JobRegistry::instance().job(id); }
  bool cancel(const std::string& id) override {
    auto run = runtime::JobRegistry::instance().find(id);
    if (!run) return false;
    const auto s = run->status();
    if (s != JobStatus::running && s != JobStatus::restarting && s != JobStatus::created) return false;
    run->cancel();
    return true;
  }
  std::future<std::string> savepoint(const std::string& id, const std::string& dir, bool stop) override {
    auto run = runtime::JobRegistry::instance().find(id);
    if (!run || run->status() != JobStatus::running) throw std::invalid_argument("no running job " + id);
    return run->trigger_savepoint(dir, stop);
  }
  std::vector<WorkerSnapshot> workers() override {
    WorkerSnapshot w;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    w.id = std::string("embedded@") + host + ":" + std::to_string(getpid());
    w.host = host;
    w.cpu_cores = static_cast<int>(std::thread::hardware_concurrency());
    w.slots = w.cpu_cores;
    int busy = 0;
    for (const auto& j : jobs()) {
      if (j.end_ms < 0) {
        int widest = 0;
        for (const auto& t : j.tasks) widest = std::max(widest, t.subtask + 1);
        busy += widest;
      }
    }
    w.free_slots = std::max(0, w.slots - busy);
    w.last_heartbeat_ms = wall_ms();
    struct sysinfo si {};
    if (sysinfo(&si) == 0) {
      w.physical_memory = static_cast<int64_t>(si.totalram) * si.mem_unit;
      w.free_memory = static_cast<int64_t>(si.freeram) * si.mem_unit;
    }
    return {w};
  }
};

// ---- rates: two samples a second apart -----------------------------------------------------

class Sampler {
 public:
  explicit Sampler(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Sampler() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  /// Rates of each task of `snap` (by index), over the last sampling interval.
  std::vector<TaskRates> rates(const runtime::JobSnapshot& snap) {
    std::lock_guard lock(mu_);
    auto it = samples_.find(snap.id);
    std::vector<TaskRates> out(snap.tasks.size());
    for (std::size_t i = 0; i < snap.tasks.size(); ++i) {
      const auto& t = snap.tasks[i];
      const TaskMetrics* prev = nullptr;
      double dt = 0;
      if (it != samples_.end() && it->second.prev_time > 0) {
        auto p = it->second.prev.find({t.vertex, t.subtask, t.task_name});
        auto c = it->second.cur.find({t.vertex, t.subtask, t.task_name});
        if (p != it->second.prev.end() && c != it->second.cur.end()) {
          prev = &p->second;
          out[i] = compute_rates(c->second, *prev, (it->second.cur_time - it->second.prev_time) / 1000.0);
          continue;
        }
      }
      (void)dt;
      // Not sampled twice yet: the averages since the task started.
      TaskMetrics zero;
      zero.lifetime_ns = 0;
      out[i] = compute_rates(t, zero, t.lifetime_ns / 1e9);
      if (snap.end_ms >= 0) out[i] = TaskRates{};
    }
    return out;
  }

 private:
  using Key = std::tuple<int, int, std::string>;
  struct Samples {
    int64_t prev_time = 0;
    int64_t cur_time = 0;
    std::map<Key, TaskMetrics> prev;
    std::map<Key, TaskMetrics> cur;
  };
  void loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      std::vector<runtime::JobSnapshot> jobs;
      try {
        jobs = backend_->jobs();
      } catch (const std::exception& e) {
        spdlog::warn("workspace: reading the jobs failed: {}", e.what());
      }
      const int64_t now = wall_ms();
      lock.lock();
      std::map<std::string, Samples> next;
      for (auto& j : jobs) {
        if (j.end_ms >= 0) continue;  // ended: rates are zero
        Samples s;
        auto old = samples_.find(j.id);
        if (old != samples_.end()) {
          s.prev = std::move(old->second.cur);
          s.prev_time = old->second.cur_time;
        }
        s.cur_time = now;
        for (auto& t : j.tasks) s.cur[{t.vertex, t.subtask, t.task_name}] = std::move(t);
        next.emplace(j.id, std::move(s));
      }
      samples_ = std::move(next);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }
  std::shared_ptr<Backend> backend_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, Samples> samples_;
  std::thread thread_;
};

// ---- the server ----------------------------------------------------------------------------

std::string random_token() {
  std::random_device rd;
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) out += hex[rd() % 16];
  return out;
}

bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

/// A plain file name: no folder part, not "." or "..", no control characters, not hidden.
bool plain_name(const std::string& n) {
  if (n.empty() || n.size() > 200 || n == "." || n == ".." || n[0] == '.') return false;
  for (unsigned char c : n) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

/// `name` inside `dir` when, canonicalised, it stays there; nullopt otherwise.
std::optional<fs::path> confined(const fs::path& dir, const std::string& name) {
  if (!plain_name(name)) return std::nullopt;
  std::error_code ec;
  const auto base = fs::weakly_canonical(dir, ec);
  if (ec) return std::nullopt;
  const auto p = fs::weakly_canonical(base / name, ec);
  if (ec || p.parent_path() != base) return std::nullopt;
  return p;
}

std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_ring() {
  static std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring = [] {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
    sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    if (auto logger = spdlog::default_logger()) logger->sinks().push_back(sink);
    return sink;
  }();
  return ring;
}

// Jobs of a process started with WEIR_UI set (`weir run --ui`) start the server.
const bool kListening = [] {
  runtime::JobRegistry::instance().set_listener(&start_from_environment);
  return true;
}();

struct SavepointTrigger {
  std::shared_future<std::string> result;
};

}  // namespace

std::shared_ptr<Backend> local_backend() { return std::make_shared<LocalBackend>(); }

std::string default_web_root() {
  if (const char* env = std::getenv("WEIR_WEB_ROOT"); env && *env) return env;
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
#ifdef WEIR_BUILD_WEB_ROOT
  candidates.emplace_back(WEIR_BUILD_WEB_ROOT);
#endif
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / "share" / "weir" / "web");
    candidates.push_back(exe.parent_path() / "web");
  }
  for (const auto& c : candidates) {
    if (fs::exists(c / "index.html", ec)) return fs::weakly_canonical(c, ec).string();
  }
  return {};
}

struct Server::Impl {
  std::shared_ptr<Backend> backend;
  ServerOptions options;
  httplib::Server http;
  std::string address;
  std::thread thread;
  std::unique_ptr<Sampler> sampler;
  std::mutex mu;
  std::map<std::string, SavepointTrigger> triggers;  // guarded by mu
  std::atomic<bool> stopped{false};
  std::atomic<bool> listen_returned{false};

  static void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }
  static void send_error(httplib::Response& res, int status, const std::string& message) {
    send_json(res, status, json{{"errors", json::array({message})}});
  }

  /// Routes that change something need the token; false (and 401 sent) without it.
  bool authorized(const httplib::Request& req, httplib::Response& res) const {
    const auto h = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (h.size() > prefix.size() && h.compare(0, prefix.size(), prefix) == 0 &&
        same_secret(h.substr(prefix.size()), options.token)) {
      return true;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, "this route changes something and needs the server's token: send 'Authorization: Bearer <token>' "
                         "(the token is printed when the server starts, in its URL after #token=)");
    return false;
  }

  std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) const {
    if (req.body.size() > options.max_json_bytes) {
      send_error(res, 413, "request body of " + std::to_string(req.body.size()) + " bytes is larger than the " +
                               std::to_string(options.max_json_bytes) + " bytes allowed");
      return std::nullopt;
    }
    if (req.body.empty()) return json::object();
    try {
      auto j = json::parse(req.body);
      if (!j.is_object()) {
        send_error(res, 400, "the request body must be a JSON object");
        return std::nullopt;
      }
      return j;
    } catch (const json::exception& e) {
      send_error(res, 400, std::string("the request body is not valid JSON: ") + e.what());
      return std::nullopt;
    }
  }

  json config_json() const {
    return json{{"refresh-interval", 1000},
                {"timezone-name", "UTC"},
                {"timezone-offset", 0},
                {"flink-version", std::string("weir ") + WEIR_VERSION_STRING},
                {"weir-version", WEIR_VERSION_STRING},
                {"mode", backend->mode()},
                {"features",
                 {{"web-submit", !options.upload_dir.empty() && backend->can_run_programs()},
                  {"web-cancel", true},
                  {"web-history", false},
                  {"web-rescale", false}}}};
  }

  void routes() {
    auto& s = http;
    s.set_payload_max_length(options.max_upload_bytes);
    // Responses go out in two writes (head, body): without TCP_NODELAY the second waits for the
    // client's delayed acknowledgement, ~27 ms a request on a kept-alive connection.
    s.set_tcp_nodelay(true);
    s.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"X-Frame-Options", "DENY"},
                           {"Referrer-Policy", "no-referrer"}, {"Cache-Control", "no-store"}});
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_error(res, 500, what);
    });
    // Both at the root and under /v1, as Flink.
    for (const std::string prefix : {"", "/v1"}) {
      s.Get(prefix + "/config", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, config_json()); });
      s.Get(prefix + "/overview", [this](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, overview_json(backend->jobs(), backend->workers(), WEIR_VERSION_STRING));
      });
      s.Get(prefix + "/jobs", [this](const httplib::Request&, httplib::Response& res) {
        json jobs = json::array();
        for (const auto& j : backend->jobs()) jobs.push_back({{"id", j.id}, {"status", weir::to_string(j.status)}});
        send_json(res, 200, json{{"jobs", jobs}});
      });
      s.Get(prefix + "/jobs/overview", [this](const httplib::Request&, httplib::Response& res) {
        json jobs = json::array();
        for (const auto& j : backend->jobs()) jobs.push_back(job_overview_json(j));
        send_json(res, 200, json{{"jobs", jobs}});
      });
      s.Get(prefix + R"(/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        auto j = backend->job(req.matches[1]);
        if (!j) return send_error(res, 404, "no job " + std::string(req.matches[1]));
        send_json(res, 200, job_details_json(*j, sampler->rates(*j)));
      });
      s.Patch(prefix + R"(/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorized(req, res)) return;
        const std::string mode = req.has_param("mode") ? req.get_param_value("mode") : "cancel";
        if (mode != "cancel") return send_error(res, 400, "mode '" + mode + "' is not supported; use mode=cancel");
        const std::string id = req.matches[1];
        if (!backend->job(id)) return send_error(res, 404, "no job " + id);
        if (!backend->cancel(id)) return send_error(res, 409, "job " + id + " is not running");
        send_json(res, 202, json::object());
      });
      s.Get(prefix + R"(/jobs/([^/]+)/vertices/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        auto j = backend->job(req.matches[1]);
        if (!j) return send_error(res, 404, "no job " + std::string(req.matches[1]));
        auto v = vertex_details_json(*j, sampler->rates(*j), req.matches[2]);
        if (!v) return send_error(res, 404, "job " + j->id + " has no vertex " + std::string(req.matches[2]));
        send_json(res, 200, *v);
      });
      s.Get(prefix + R"(/jobs/([^/]+)/vertices/([^/]+)/watermarks)", [this](const httplib::Request& req, httplib::Response& res) {
        auto j = backend->job(req.matches[1]);
        if (!j) return send_error(res, 404, "no job " + std::string(req.matches[1]));
        auto v = vertex_watermarks_json(*j, req.matches[2]);
        if (!v) return send_error(res, 404, "job " + j->id + " has no vertex " + std::string(req.matches[2]));
        send_json(res, 200, *v);
      });
      s.Get(prefix + R"(/jobs/([^/]+)/watermarks)", [this](const httplib::Request& req, httplib::Response& res) {
        auto j = backend->job(req.matches[1]);
        if (!j) return send_error(res, 404, "no job " + std::string(req.matches[1]));
        send_json(res, 200, watermarks_json(*j, wall_ms()));
      });
      s.Get(prefix + R"(/jobs/([^/]+)/checkpoints)", [this](const httplib::Request& req, httplib::Response& res) {
        auto j = backend->job(req.matches[1]);
        if (!j) return send_error(res, 404, "no job " + std::string(req.matches[1]));
        send_json(res, 200, checkpoints_json(*j));
      });
      s.Get(prefix + R"(/jobs/([^/]+)/exceptions)", [this](const httplib::Request& req, httplib::Response& res) {
        auto j = backend->job(req.matches[1]);
        if (!j) return send_error(res, 404, "no job " + std::string(req.matches[1]));
        send_json(res, 200, exceptions_json(*j));
      });
      s.Post(prefix + R"(/jobs/([^/]+)/savepoints)", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorized(req, res)) return;
        auto body = json_body(req, res);
        if (!body) return;
        const std::string id = req.matches[1];
        std::string dir;
        bool stop = false;
        if (body->contains("target-directory") && (*body)["target-directory"].is_string()) dir = (*body)["target-directory"];
        if (body->contains("cancel-job") && (*body)["cancel-job"].is_boolean()) stop = (*body)["cancel-job"];
        if (dir.empty()) return send_error(res, 400, "give the savepoint's folder as \"target-directory\" (no default is configured)");
        if (!fs::path(dir).is_absolute()) return send_error(res, 400, "\"target-directory\" must be an absolute path");
        if (!backend->job(id)) return send_error(res, 404, "no job " + id);
        std::future<std::string> f;
        try {
          f = backend->savepoint(id, dir, stop);
        } catch (const std::invalid_argument& e) {
          return send_error(res, 409, e.what());
        }
        const std::string trigger = random_token();
        {
          std::lock_guard lock(mu);
          triggers[id + "/" + trigger] = SavepointTrigger{f.share()};
        }
        send_json(res, 202, json{{"request-id", trigger}});
      });
      s.Get(prefix + R"(/jobs/([^/]+)/savepoints/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        std::shared_future<std::string> f;
        {
          std::lock_guard lock(mu);
          auto it = triggers.find(std::string(req.matches[1]) + "/" + std::string(req.matches[2]));
          if (it == triggers.end()) return send_error(res, 404, "no savepoint trigger " + std::string(req.matches[2]));
          f = it->second.result;
        }
        if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
          return send_json(res, 200, json{{"status", {{"id", "IN_PROGRESS"}}}});
        }
        try {
          send_json(res, 200, json{{"status", {{"id", "COMPLETED"}}}, {"operation", {{"location", f.get()}}}});
        } catch (const std::exception& e) {
          send_json(res, 200, json{{"status", {{"id", "COMPLETED"}}},
                                   {"operation", {{"failure-cause", {{"class", "weir.StateError"}, {"stack-trace", e.what()}}}}}});
        }
      });
      s.Get(prefix + "/taskmanagers", [this](const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, taskmanagers_json(backend->workers(), wall_ms()));
      });
      s.Get(prefix + "/jobmanager/log", [](const httplib::Request&, httplib::Response& res) {
        std::string out;
        for (const auto& line : log_ring()->last_formatted()) out += line;
        res.set_content(out, "text/plain; charset=utf-8");
      });
      s.Get(prefix + "/jobmanager/logs", [this](const httplib::Request&, httplib::Response& res) {
        json logs = json::array();
        std::error_code ec;
        if (!options.log_dir.empty()) {
          for (const auto& e : fs::directory_iterator(options.log_dir, ec)) {
            if (e.is_regular_file(ec) && plain_name(e.path().filename().string())) {
              logs.push_back({{"name", e.path().filename().string()}, {"size", static_cast<int64_t>(e.file_size(ec))}});
            }
          }
        }
        send_json(res, 200, json{{"logs", logs}});
      });
      s.Get(prefix + R"(/jobmanager/logs/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        auto p = options.log_dir.empty() ? std::nullopt : confined(options.log_dir, name);
        std::error_code ec;
        if (!p || !fs::is_regular_file(*p, ec)) return send_error(res, 404, "no log file '" + name + "'");
        std::ifstream in(*p, std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        res.set_content(content, "text/plain; charset=utf-8");
      });
      // Submission: upload a program, list, run, delete.
      s.Post(prefix + "/jars/upload", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorized(req, res)) return;
        if (options.upload_dir.empty()) {
          return send_error(res, 403, "uploads are off: start the server with an upload folder (--web-upload-dir DIR)");
        }
        if (!req.is_multipart_form_data() || !req.has_file("jarfile")) {
          return send_error(res, 400, "send the program as multipart/form-data in the field \"jarfile\"");
        }
        const auto file = req.get_file_value("jarfile");
        auto target = confined(options.upload_dir, file.filename);
        if (!target) {
          return send_error(res, 400, "refused file name '" + file.filename +
                                          "': give a plain file name (no folders, no '..', not hidden)");
        }
        const std::string stored = random_token().substr(0, 8) + "_" + target->filename().string();
        target = confined(options.upload_dir, stored);
        if (!target) return send_error(res, 400, "refused file name '" + file.filename + "'");
        {
          std::ofstream out(*target, std::ios::binary | std::ios::trunc);
          out.write(file.content.data(), static_cast<std::streamsize>(file.content.size()));
          if (!out) return send_error(res, 500, "could not write " + target->string());
        }
        if (target->extension() != ".py") ::chmod(target->c_str(), 0700);
        spdlog::info("workspace: uploaded {} ({} bytes)", target->string(), file.content.size());
        send_json(res, 200, json{{"filename", target->string()}, {"status", "success"}});
      });
      s.Get(prefix + "/jars", [this](const httplib::Request& req, httplib::Response& res) {
        json files = json::array();
        std::error_code ec;
        if (!options.upload_dir.empty()) {
          for (const auto& e : fs::directory_iterator(options.upload_dir, ec)) {
            const auto n = e.path().filename().string();
            if (!e.is_regular_file(ec) || !plain_name(n)) continue;
            const auto pos = n.find('_');
            const auto t = fs::last_write_time(e.path(), ec);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::file_clock::to_sys(t).time_since_epoch()).count();
            files.push_back({{"id", n}, {"name", pos == std::string::npos ? n : n.substr(pos + 1)}, {"uploaded", ms}, {"entry", json::array()}});
          }
        }
        send_json(res, 200, json{{"address", "http://" + req.get_header_value("Host")}, {"files", files}});
      });
      s.Post(prefix + R"(/jars/([^/]+)/run)", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorized(req, res)) return;
        if (options.upload_dir.empty()) return send_error(res, 403, "uploads are off: start the server with an upload folder");
        auto body = json_body(req, res);
        if (!body) return;
        auto p = confined(options.upload_dir, req.matches[1]);
        std::error_code ec;
        if (!p || !fs::is_regular_file(*p, ec)) return send_error(res, 404, "no uploaded program " + std::string(req.matches[1]));
        std::vector<std::string> args;
        if (body->contains("programArgsList")) {
          const auto& a = (*body)["programArgsList"];
          if (!a.is_array()) return send_error(res, 400, "\"programArgsList\" must be an array of strings");
          for (const auto& x : a) {
            if (!x.is_string()) return send_error(res, 400, "\"programArgsList\" must be an array of strings");
            args.push_back(x.get<std::string>());
          }
        }
        int parallelism = 0;
        if (body->contains("parallelism") && !(*body)["parallelism"].is_null()) {
          const auto& v = (*body)["parallelism"];
          if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 32768) {
            return send_error(res, 400, "\"parallelism\" must be an integer from 1 to 32768");
          }
          parallelism = v.get<int>();
        }
        try {
          send_json(res, 200, json{{"jobid", backend->run_program(p->string(), args, parallelism)}});
        } catch (const std::exception& e) {
          send_error(res, backend->can_run_programs() ? 400 : 501, e.what());
        }
      });
      s.Delete(prefix + R"(/jars/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorized(req, res)) return;
        auto p = options.upload_dir.empty() ? std::nullopt : confined(options.upload_dir, req.matches[1]);
        std::error_code ec;
        if (!p || !fs::remove(*p, ec)) return send_error(res, 404, "no uploaded program " + std::string(req.matches[1]));
        send_json(res, 200, json::object());
      });
      s.Get(prefix + "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        std::vector<std::pair<runtime::JobSnapshot, std::vector<TaskRates>>> jobs;
        for (auto& j : backend->jobs()) {
          auto r = sampler->rates(j);
          jobs.emplace_back(std::move(j), std::move(r));
        }
        res.set_content(prometheus_text(jobs, wall_ms()), "text/plain; version=0.0.4; charset=utf-8");
      });
      s.Get(prefix + "/openapi.json", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(kOpenApiDocument, "application/json");
      });
    }
    // Anything else that changes something: 401 without the token, 404 with it.
    const auto unknown_change = [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      send_error(res, 404, "no route " + req.method + " " + req.path);
    };
    s.Post(".*", unknown_change);
    s.Put(".*", unknown_change);
    s.Patch(".*", unknown_change);
    s.Delete(".*", unknown_change);
    // The UI's files; paths that are not files get index.html (the UI routes by fragment).
    const std::string root = options.web_root.empty() ? default_web_root() : options.web_root;
    if (!root.empty()) {
      if (!s.set_mount_point("/", root)) spdlog::warn("workspace: the web UI folder {} does not exist", root);
    }
    s.Get(".*", [root](const httplib::Request& req, httplib::Response& res) {
      std::error_code ec;
      if (!root.empty() && (req.path == "/" || req.path == "/index.html") && fs::exists(fs::path(root) / "index.html", ec)) {
        std::ifstream in(fs::path(root) / "index.html", std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        res.set_content(content, "text/html; charset=utf-8");
        return;
      }
      if (req.path == "/") {
        res.set_content("<!doctype html><title>Weir</title><p>Weir's REST API is here (see /openapi.json); the web UI "
                        "is not built in this installation.</p>",
                        "text/html; charset=utf-8");
        return;
      }
      send_error(res, 404, "no route GET " + req.path);
    });
  }
};

Server::Server(std::shared_ptr<Backend> backend, ServerOptions options) : impl_(std::make_unique<Impl>()) {
  auto& im = *impl_;
  im.backend = std::move(backend);
  im.options = std::move(options);
  if (im.options.token.empty()) im.options.token = random_token();
  if (!im.options.upload_dir.empty()) {
    std::error_code ec;
    fs::create_directories(im.options.upload_dir, ec);
    if (ec) throw std::runtime_error("cannot create the upload folder " + im.options.upload_dir + ": " + ec.message());
    im.options.upload_dir = fs::weakly_canonical(im.options.upload_dir).string();
  }
  log_ring();
  im.sampler = std::make_unique<Sampler>(im.backend);
  im.routes();
  const auto colon = im.options.bind.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("give the address to serve on as host:port, not '" + im.options.bind + "'");
  std::string host = im.options.bind.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(im.options.bind.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("bad port in '" + im.options.bind + "'");
  }
  if (port < 0 || port > 65535) throw std::runtime_error("bad port in '" + im.options.bind + "'");
  if (port == 0) {
    port = im.http.bind_to_any_port(host);
    if (port <= 0) throw std::runtime_error("cannot serve on " + im.options.bind);
  } else if (!im.http.bind_to_port(host, port)) {
    throw std::runtime_error("cannot serve on " + im.options.bind + " (address in use, or not this host's)");
  }
  im.address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  im.thread = std::thread([this] {
    impl_->http.listen_after_bind();
    impl_->listen_returned.store(true);
  });
  spdlog::info("workspace: serving on http://{}", im.address);
}

Server::~Server() { stop(); }

const std::string& Server::address() const { return impl_->address; }
const std::string& Server::token() const { return impl_->options.token; }
std::string Server::url() const { return "http://" + impl_->address + "/#token=" + impl_->options.token; }

void Server::stop() {
  if (impl_->stopped.exchange(true)) return;
  // httplib's stop() acts only once its loop runs, which starts on the thread just after the
  // bind: a server stopped at once would otherwise keep listening and the join would never end.
  if (impl_->thread.joinable()) {
    while (!impl_->http.is_running() && !impl_->listen_returned.load()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->sampler->stop();
}

void start_from_environment() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* addr = std::getenv("WEIR_UI");
    if (addr == nullptr || *addr == '\0') return;
    // A job's own processes in cluster mode do not serve one (the coordinator does).
    if (const char* d = std::getenv("WEIR_TASK_DEPLOYMENT"); d && *d) return;
    if (const char* c = std::getenv("WEIR_COORDINATOR"); c && *c) return;
    ServerOptions o;
    o.bind = addr;
    if (const char* t = std::getenv("WEIR_UI_TOKEN"); t && *t) o.token = t;
    try {
      static auto* server = new Server(local_backend(), o);  // lives as long as the process
      std::fprintf(stderr, "Weir UI: %s\n", server->url().c_str());
      std::fflush(stderr);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "weir: the web UI could not start (WEIR_UI=%s): %s\n", addr, e.what());
    }
  });
}

}  // namespace weir::rest
