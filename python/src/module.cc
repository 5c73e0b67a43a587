// The `weir._weir` extension: the engine's environment, streams and state for the pure-Python
// `weir` package, which gives them PyFlink's names and shapes.
#include <chrono>
#include <future>
#include <limits>
#include <thread>

#include "bindings.h"
#include "cli/status_line.h"

namespace weir::python {

struct PyEnv {
  StreamExecutionEnvironment env = StreamExecutionEnvironment::create();
  // A Python job's task slices all hold the interpreter lock, so a second worker thread cannot
  // run one alongside: it only adds lock handoffs and records' reference counts bouncing between
  // cores (a keyed 4-call job: 1.1-1.5x per CPU-second with one thread). Jobs that want more
  // threads (functions that release the lock while they wait) ask with set_worker_threads.
  PyEnv() {
    env.get_config().task_lock = interpreter_lock();
    env.set_worker_threads(1);
  }
  static std::shared_ptr<TaskLock> interpreter_lock() {
    static std::shared_ptr<TaskLock> lock = std::make_shared<InterpreterLock>();
    return lock;
  }
};

StreamExecutionEnvironment& env_ref(PyEnv& e) { return e.env; }

namespace {

/// Raises the job's failure in Python: the user's exception when one caused it (with the
/// engine's message, which names the operator and subtask, as its note), else a RuntimeError.
[[noreturn]] void raise_job_failure(const std::exception& e) {
  const std::string message = e.what();
  PyObject* cause = take_exception(message);
  nb::object exc_type = nb::module_::import_("weir.common").attr("JobExecutionException");
  nb::object exc = exc_type(message);
  if (cause != nullptr) {
    PyException_SetCause(exc.ptr(), cause);  // steals
  }
  PyErr_SetObject(exc_type.ptr(), exc.ptr());
  throw nb::python_error();
}

/// Waits for a future with the interpreter lock released, waking up to let Ctrl-C through.
template <class Fut>
void wait_released(Fut& f, const std::function<void()>& on_interrupt) {
  for (;;) {
    {
      nb::gil_scoped_release release;
      if (f.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready) return;
    }
    if (PyErr_CheckSignals() != 0) {
      on_interrupt();
      throw nb::python_error();
    }
  }
}

/// The status line of `weir run job.py` (set by weir.cli.run_job; off otherwise).
cli::StatusOptions& status_line_options() {
  static cli::StatusOptions options;
  return options;
}

struct PyJobClient {
  std::shared_ptr<JobClient> client;
  /// The job's status line while it runs (declared after `client`: it reads the client, so it
  /// goes first).
  std::shared_ptr<cli::StatusThread> status;
  PyJobClient() = default;
  explicit PyJobClient(std::shared_ptr<JobClient> c, std::shared_ptr<cli::StatusThread> s = nullptr)
      : client(std::move(c)), status(std::move(s)) {}
  PyJobClient(const PyJobClient&) = default;
  PyJobClient(PyJobClient&&) = default;
  PyJobClient& operator=(PyJobClient&&) = default;
  /// The last owner of a running job cancels it and waits for its threads, which need the
  /// interpreter lock to finish their slices: wait without holding it.
  ~PyJobClient() {
    if (client && client.use_count() == 1 && PyGILState_Check()) {
      nb::gil_scoped_release release;
      status.reset();
      client.reset();
    }
  }
  std::string id() const { return client->get_job_id(); }
  nb::dict wait() {
    auto fut = client->get_job_execution_result();
    wait_released(fut, [this] {
      client->cancel();
      if (status) {
        nb::gil_scoped_release release;
        status->stop();  // ends its line before the KeyboardInterrupt's traceback
      }
    });
    if (status) {
      nb::gil_scoped_release release;
      status->stop();  // its last line, before anything the job's caller prints
    }
    try {
      JobExecutionResult r = fut.get();
      nb::dict d;
      d["job_id"] = r.get_job_id();
      d["job_name"] = r.get_job_name();
      d["net_runtime"] = r.get_net_runtime();
      return d;
    } catch (const std::exception& e) {
      raise_job_failure(e);
    }
  }
};

/// The folder of a savepoint being taken, waited for with the interpreter lock released; a failed
/// savepoint raises RuntimeError with its cause.
std::string savepoint_path(std::future<std::string> f) {
  wait_released(f, [] {});
  try {
    return f.get();
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
}

PyJobClient submit(PyEnv& e, const std::string& name) {
  try {
    std::shared_ptr<JobClient> c;
    std::shared_ptr<cli::StatusThread> status;
    {
      nb::gil_scoped_release release;
      const auto options = status_line_options();
      cli::JobShape shape;
      if (options.mode != cli::StatusMode::off) {
        try {
          shape = cli::JobShape::from_plan_json(e.env.get_execution_plan());
        } catch (const GraphError&) {
          // execute_async reports it
        }
      }
      c = std::make_shared<JobClient>(e.env.execute_async(name));
      if (options.mode != cli::StatusMode::off) {
        const JobClient* job = c.get();
        auto result = job->get_job_execution_result();
        status = std::make_shared<cli::StatusThread>(
            options, std::move(shape), [job] { return std::optional<cli::StatusSample>(cli::sample_of(*job)); },
            [result] { return result.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
      }
    }
    return PyJobClient{std::move(c), std::move(status)};
  } catch (const GraphError& err) {
    throw nb::value_error(err.what());
  } catch (const JobFailure& err) {
    raise_job_failure(err);
  }
}

}  // namespace

void bind_env(nb::module_& m) {
  nb::class_<PyJobClient>(m, "JobClient")
      .def("get_job_id", &PyJobClient::id)
      .def("get_job_status", [](PyJobClient& c) { return std::string(to_string(c.client->get_job_status())); })
      .def("cancel", [](PyJobClient& c) {
        nb::gil_scoped_release r;
        c.client->cancel();
      })
      .def("wait", &PyJobClient::wait)
      .def("done", [](PyJobClient& c) {
        auto f = c.client->get_job_execution_result();
        return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      })
      .def("restart_count", [](PyJobClient& c) { return c.client->get_restart_count(); })
      .def("trigger_savepoint",
           [](PyJobClient& c, const std::string& dir) { return savepoint_path(c.client->trigger_savepoint(dir)); })
      .def("stop_with_savepoint",
           [](PyJobClient& c, const std::string& dir) { return savepoint_path(c.client->stop_with_savepoint(dir)); })
      .def("completed_checkpoints", [](PyJobClient& c) { return c.client->get_checkpoint_stats().completed; })
      .def("latest_checkpoint", [](PyJobClient& c) { return c.client->get_checkpoint_stats().latest_path; })
      .def("metrics", [](PyJobClient& c) {
        nb::dict out;
        for (const auto& t : c.client->metrics()) {
          nb::dict d;
          d["records_in"] = t.records_in;
          d["records_out"] = t.records_out;
          d["bytes_in"] = t.bytes_in;
          d["bytes_out"] = t.bytes_out;
          d["subtask"] = t.subtask;
          d["task_name"] = t.task_name;
          d["is_source"] = t.inputs.empty();  // no input channels: records_out are its own
          // No watermark yet: None (the engine's Long.MIN_VALUE).
          const auto wm = [](int64_t w) -> nb::object {
            return w == std::numeric_limits<int64_t>::min() ? nb::none() : nb::cast(w);
          };
          d["input_watermark"] = wm(t.input_watermark);
          d["output_watermark"] = wm(t.output_watermark);
          d["busy_ns"] = t.busy_ns;
          d["backpressured_ns"] = t.backpressured_ns;
          d["lifetime_ns"] = t.lifetime_ns;
          for (const auto& [k, v] : t.operator_metrics) d[nb::str(k.c_str())] = v;
          out[nb::str((t.task_name + " (" + std::to_string(t.subtask + 1) + ")").c_str())] = d;
        }
        return out;
      });

  // A processing-time clock that tests move by hand (weir.testing.ManualClock).
  nb::class_<ManualClock>(m, "ManualClock")
      .def(nb::init<int64_t>(), nb::arg("start_ms") = 0)
      .def("now_ms", &ManualClock::now_ms)
      .def("advance", [](ManualClock& c, int64_t ms) {
        nb::gil_scoped_release release;  // timers due now run on the task threads
        c.advance(ms);
      })
      .def("set", [](ManualClock& c, int64_t ms) {
        nb::gil_scoped_release release;
        c.set(ms);
      });

  nb::class_<PyEnv>(m, "Environment")
      .def(nb::init<>())
      .def("set_clock", [](PyEnv& e, std::shared_ptr<ManualClock> clock) { e.env.set_clock(std::move(clock)); })
      .def("set_parallelism", [](PyEnv& e, int p) { e.env.set_parallelism(p); })
      .def("get_parallelism", [](PyEnv& e) {
        const int p = e.env.get_parallelism();
        return p > 0 ? p : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      })
      .def("set_max_parallelism", [](PyEnv& e, int p) { e.env.set_max_parallelism(p); })
      .def("get_max_parallelism", [](PyEnv& e) { return e.env.get_max_parallelism(); })
      .def("set_worker_threads", [](PyEnv& e, int n) { e.env.set_worker_threads(n); })
      .def("set_buffer_timeout", [](PyEnv& e, int64_t ms) { e.env.set_buffer_timeout(ms); })
      .def("set_auto_watermark_interval",
           [](PyEnv& e, int64_t ms) { e.env.set_auto_watermark_interval(std::chrono::milliseconds(ms)); })
      .def("get_auto_watermark_interval", [](PyEnv& e) { return e.env.get_config().auto_watermark_interval; })
      .def("disable_operator_chaining", [](PyEnv& e) { e.env.disable_operator_chaining(); })
      .def("enable_checkpointing",
           [](PyEnv& e, int64_t ms, bool exactly_once) {
             e.env.enable_checkpointing(ms, exactly_once ? CheckpointingMode::exactly_once : CheckpointingMode::at_least_once);
           })
      .def("get_checkpoint_interval", [](PyEnv& e) { return e.env.get_checkpoint_config().get_checkpoint_interval(); })
      .def("is_checkpointing_enabled", [](PyEnv& e) { return e.env.get_checkpoint_config().is_checkpointing_enabled(); })
      .def("is_exactly_once", [](PyEnv& e) {
        return e.env.get_checkpoint_config().get_checkpointing_mode() == CheckpointingMode::exactly_once;
      })
      .def("set_exactly_once", [](PyEnv& e, bool v) {
        e.env.get_checkpoint_config().set_checkpointing_mode(v ? CheckpointingMode::exactly_once : CheckpointingMode::at_least_once);
      })
      .def("set_checkpoint_storage", [](PyEnv& e, const std::string& uri) { e.env.set_checkpoint_storage(uri); })
      .def("get_checkpoint_storage", [](PyEnv& e) { return e.env.get_checkpoint_config().get_checkpoint_storage(); })
      .def("set_checkpoint_timeout", [](PyEnv& e, int64_t ms) { e.env.get_checkpoint_config().set_checkpoint_timeout(ms); })
      .def("set_min_pause_between_checkpoints",
           [](PyEnv& e, int64_t ms) { e.env.get_checkpoint_config().set_min_pause_between_checkpoints(ms); })
      .def("set_max_concurrent_checkpoints",
           [](PyEnv& e, int n) { e.env.get_checkpoint_config().set_max_concurrent_checkpoints(n); })
      .def("set_tolerable_checkpoint_failure_number",
           [](PyEnv& e, int n) { e.env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(n); })
      .def("enable_unaligned_checkpoints",
           [](PyEnv& e, bool on) { e.env.get_checkpoint_config().enable_unaligned_checkpoints(on); })
      .def("set_restart_no_restart", [](PyEnv& e) { e.env.set_restart_strategy(RestartStrategy::no_restart()); })
      .def("set_restart_fixed_delay",
           [](PyEnv& e, int attempts, int64_t delay_ms) {
             e.env.set_restart_strategy(RestartStrategy::fixed_delay(attempts, std::chrono::milliseconds(delay_ms)));
           })
      .def("set_restart_failure_rate",
           [](PyEnv& e, int max_failures, int64_t interval_ms, int64_t delay_ms) {
             e.env.set_restart_strategy(RestartStrategy::failure_rate(max_failures, std::chrono::milliseconds(interval_ms),
                                                                      std::chrono::milliseconds(delay_ms)));
           })
      .def("set_restart_exponential_delay",
           [](PyEnv& e, int64_t initial_ms, int64_t max_ms, double multiplier, int64_t reset_ms, double jitter) {
             e.env.set_restart_strategy(RestartStrategy::exponential_delay(
                 std::chrono::milliseconds(initial_ms), std::chrono::milliseconds(max_ms), multiplier,
                 std::chrono::milliseconds(reset_ms), jitter));
           })
      .def("set_state_backend_heap", [](PyEnv& e) { e.env.set_state_backend(StateBackend::heap()); })
      .def("set_state_backend_rocksdb", [](PyEnv& e, const std::string& dir) { e.env.set_state_backend(StateBackend::rocksdb(dir)); })
      .def("set_savepoint_restore",
           [](PyEnv& e, const std::string& path, bool allow_non_restored) {
             e.env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path, allow_non_restored));
           })
      .def("get_execution_plan", [](PyEnv& e) { return e.env.get_execution_plan(); })
      .def("from_collection",
           [](PyEnv& e, nb::list items) {
             std::vector<Object> v;
             v.reserve(items.size());
             for (nb::handle h : items) v.push_back(own(h));
             return PyStream{std::make_shared<Stream>(e.env.from_collection(std::move(v)))};
           })
      .def("from_sequence",
           [](PyEnv& e, int64_t from, int64_t to) {
             if (to < from) throw nb::value_error("NumberSequenceSource: 'to' must not be below 'from'");
             auto ints = e.env.from_sequence(from, to);
             return PyStream{std::make_shared<Stream>(ints.map([](int64_t i) {
               return Object::steal(PyLong_FromLongLong(i));
             }).name("Number To Python"))};
           })
      .def("execute_async", &submit)
      .def("execute", [](PyEnv& e, const std::string& name) { return submit(e, name).wait(); });
  // `weir run job.py`: the jobs this process runs show a status line on stderr; `setting` is
  // WEIR_STATUS's value ("off", or seconds between plain lines when stderr is not a terminal).
  m.def("_status_line", [](const std::string& setting) {
    if (setting == "off") {
      status_line_options() = cli::status_options(true, 10);
      return;
    }
    double interval = 10;
    try {
      if (!setting.empty()) interval = std::stod(setting);
    } catch (const std::exception&) {
      throw nb::value_error(("WEIR_STATUS: '" + setting + "' is neither off nor a number of seconds").c_str());
    }
    status_line_options() = cli::status_options(false, interval);
  });
}

}  // namespace weir::python

NB_MODULE(_weir, m) {
  using namespace weir::python;
  m.doc() = "Weir's engine for the weir package (PyFlink's DataStream API)";
  // Objects the package keeps for the process's life (classes, the context factory) are still
  // referenced when the interpreter exits; that is not a leak worth a report.
  nb::set_leak_warnings(false);
  // Standard output is the job's (print(), PyFlink's print sink): the engine logs to stderr.
  weir::log_to_stderr();
  m.def("_set_classes", [](nb::handle row, nb::handle output_tag) {
    set_row_class(row.ptr());
    set_output_tag_class(output_tag.ptr());
  });
  m.def("_encode", [](nb::handle v) {
    std::string out;
    weir::ByteWriter w(out);
    encode(w, v.ptr(), false);
    return nb::bytes(out.data(), out.size());
  });
  m.def("_key_bytes", [](nb::handle v) {
    std::string k = key_bytes(v.ptr());
    return nb::bytes(k.data(), k.size());
  });
  m.def("_decode", [](nb::bytes b) {
    try {
      return to_nb(decode_all(std::string_view(b.c_str(), b.size())));
    } catch (const weir::SerdeError& e) {
      throw nb::value_error(e.what());
    }
  });
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const weir::GraphError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const PythonError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  bind_env(m);
  bind_stream(m);
  bind_state(m);
  bind_windows(m);
  bind_connectors(m);
  bind_workspace(m);
  bind_cep(m);
  bind_nexmark(m);
}
