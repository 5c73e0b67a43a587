// Streams of Python values: transformations, keyed streams, process functions, sinks.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "bindings.h"

namespace weir::python {

StreamExecutionEnvironment env_of(const Stream& s) { return s.get_execution_environment(); }

// ---- user functions ----------------------------------------------------------------------------

namespace {
PyObject* g_output_tag_class = nullptr;

Object deepcopy(PyObject* o) {
  static PyObject* fn = nullptr;
  if (fn == nullptr) {
    Object mod = Object::steal(PyImport_ImportModule("copy"));
    if (!mod) throw_python_error();
    fn = PyObject_GetAttrString(mod.get(), "deepcopy");
    if (fn == nullptr) throw_python_error();
  }
  return call(fn, o);
}
}  // namespace

void set_output_tag_class(PyObject* cls) {
  Py_XINCREF(cls);
  g_output_tag_class = cls;
}

bool as_side_output(PyObject* item, std::string& tag, Object& value) {
  if (g_output_tag_class == nullptr || !PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) return false;
  PyObject* first = PyTuple_GET_ITEM(item, 0);
  const int is_tag = PyObject_IsInstance(first, g_output_tag_class);
  if (is_tag < 0) throw_python_error();
  if (is_tag == 0) return false;
  Object id = Object::steal(PyObject_GetAttrString(first, "tag_id"));
  if (!id) throw_python_error();
  const char* s = PyUnicode_AsUTF8(id.get());
  if (s == nullptr) throw_python_error();
  tag = s;
  value = Object::borrow(PyTuple_GET_ITEM(item, 1));
  return true;
}

void UserFunction::open(RuntimeContext& rc) {
  if (!is_object()) return;
  instance_ = deepcopy(target_.get());
  bound_ = Object::steal(PyObject_GetAttrString(instance_.get(), method_.c_str()));
  if (!bound_) throw_python_error();
  if (PyObject_HasAttrString(instance_.get(), "open")) {
    Object ctx = make_runtime_context(rc);
    Object open = Object::steal(PyObject_GetAttrString(instance_.get(), "open"));
    if (!open) throw_python_error();
    call(open.get(), ctx.get());
  }
}

void UserFunction::close() {
  if (!instance_ || !interpreter_alive()) return;
  GilGuard g;
  if (PyObject_HasAttrString(instance_.get(), "close")) {
    Object close = Object::steal(PyObject_GetAttrString(instance_.get(), "close"));
    if (!close) throw_python_error();
    call(close.get());
  }
}

Object UserFunction::method(const char* name) const {
  PyObject* self = instance();
  if (!PyObject_HasAttrString(self, name)) return Object();
  Object m = Object::steal(PyObject_GetAttrString(self, name));
  if (!m) throw_python_error();
  return m;
}

namespace {

/// A function the engine opens and closes per subtask (its `UserFunction` copies a Function
/// object for the subtask and calls its `open`/`close`).
struct RichFn {
  UserFunction f;
  void open(RuntimeContext& rc) { f.open(rc); }
  void close() { f.close(); }
};

struct MapFn : RichFn {
  Object operator()(const Object& v) const { return call(f.fn(), v.get()); }
};

struct FilterFn : RichFn {
  bool operator()(const Object& v) const { return truth(call(f.fn(), v.get()).get()); }
};

struct FlatMapFn : RichFn {
  void operator()(const Object& v, Collector<Object>& out) const {
    Object r = call(f.fn(), v.get());
    for_each_result(r.get(), "flat_map", [&](Object&& o) { out.collect(std::move(o)); });
  }
};

struct ReduceFn : RichFn {
  Object operator()(const Object& a, const Object& b) const { return call(f.fn(), a.get(), b.get()); }
};

/// The key selector: the key's canonical bytes. An unhashable key fails with a TypeError that
/// says what to return instead.
struct KeyFn {
  Object fn;
  Key operator()(const Object& v) const {
    Object k = call(fn.get(), v.get());
    PyObject* key = k.get();
    const bool builtin_hashable = PyLong_CheckExact(key) || PyUnicode_CheckExact(key) || PyBytes_CheckExact(key) ||
                                  PyFloat_CheckExact(key) || key == Py_None || PyBool_Check(key);
    if (!builtin_hashable && PyObject_Hash(key) == -1) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError,
                   "key_by: the key selector returned an unhashable %s; return a hashable value instead "
                   "(a tuple instead of a list, a frozenset instead of a set, a str, an int)",
                   Py_TYPE(k.get())->tp_name);
      throw_python_error();
    }
    return key_bytes(k.get());
  }
};

// ---- contexts handed to process functions ------------------------------------------------------

/// What a process function's `ctx` argument sees; one per operator instance, pointed at the
/// engine's context for the duration of each call.
struct PyContext {
  std::function<std::optional<int64_t>()> timestamp;
  TimerService* timers = nullptr;
  const Key* key = nullptr;
  int time_domain = -1;  // on_timer: 0 event time, 1 processing time
  // The decoded current key, cached for its bytes.
  std::string cached_key;
  Object cached_key_obj;

  nb::object get_current_key() {
    if (key == nullptr) throw nb::type_error("get_current_key: only on a keyed stream (after key_by)");
    if (!cached_key_obj || cached_key != *key) {
      cached_key = *key;
      cached_key_obj = decode_all(cached_key);
    }
    return to_nb(cached_key_obj);
  }
  TimerService& timer_service() {
    if (timers == nullptr) throw nb::type_error("timer_service: not available here");
    return *timers;
  }
};

/// Sends what a process function returned or yielded: values to the main output, `(tag, value)`
/// pairs to their side output when the job reads that tag (`requested`, the set of tag ids that
/// `get_side_output` was called with), else to the main output as the tuple they are (PyFlink).
template <class Ctx>
void emit_results(PyObject* result, const char* what, Ctx& ctx, Collector<Object>& out, PyObject* requested) {
  for_each_result(result, what, [&](Object&& item) {
    std::string tag;
    Object value;
    if (as_side_output(item.get(), tag, value)) {
      int asked = 1;
      if (requested != nullptr) {
        Object id = Object::steal(PyUnicode_FromStringAndSize(tag.data(), static_cast<Py_ssize_t>(tag.size())));
        asked = PySet_Contains(requested, id.get());
        if (asked < 0) throw_python_error();
      }
      if (asked != 0) {
        ctx.output(OutputTag<Object>(tag), value);
        return;
      }
    }
    out.collect(std::move(item));
  });
}

/// What the process function wrappers share: the user's function, the side-output tags the job
/// reads, and the Python context handed to every call (pointed at the engine's context for the
/// call). A copy (one per subtask) takes the function and the tags, not the context.
struct ProcessCalls {
  UserFunction f;
  Object requested;
  PyContext ctx;
  Object ctx_obj;

  ProcessCalls(UserFunction fn, Object req) : f(std::move(fn)), requested(std::move(req)) {}
  ProcessCalls(const ProcessCalls& o) : f(o.f), requested(o.requested) {}
  void open(RuntimeContext& rc) {
    f.open(rc);
    ctx_obj = Object::steal(nb::cast(&ctx, nb::rv_policy::reference).release().ptr());
  }
  void close() { f.close(); }

  /// Points the Python context at the engine's keyed context for one call.
  template <class Ctx>
  void point_at(Ctx& c, int time_domain) {
    ctx.timestamp = [&c] { return c.timestamp(); };
    ctx.timers = &c.timer_service();
    ctx.key = &c.get_current_key();
    ctx.time_domain = time_domain;
  }
  /// `fn(value, ctx)`, its results emitted.
  template <class Ctx>
  void element(PyObject* fn, const Object& value, Ctx& c, Collector<Object>& out) {
    Object r = call(fn, value.get(), ctx_obj.get());
    emit_results(r.get(), "process_element", c, out, requested.get());
  }
  /// A keyed function's `on_timer(timestamp, ctx)` (when it has one), its results emitted.
  template <class Ctx>
  void timer(const Object& on_timer, int64_t timestamp, Ctx& c, Collector<Object>& out) {
    if (!on_timer) return;
    point_at(c, c.time_domain() == TimeDomain::event_time ? 0 : 1);
    Object ts = Object::steal(PyLong_FromLongLong(timestamp));
    Object r = call(on_timer.get(), ts.get(), ctx_obj.get());
    emit_results(r.get(), "on_timer", c, out, requested.get());
  }
};

class ProcessFn final : public ProcessFunction<Object, Object> {
 public:
  ProcessFn(UserFunction f, Object requested) : calls_(std::move(f), std::move(requested)) {}
  void open(RuntimeContext& rc) override { calls_.open(rc); }
  void close() override { calls_.close(); }
  void process_element(const Object& value, Context& ctx, Collector<Object>& out) override {
    calls_.ctx.timestamp = [&ctx] { return ctx.timestamp(); };
    calls_.ctx.timers = &ctx.timer_service();
    calls_.element(calls_.f.fn(), value, ctx, out);
  }

 private:
  ProcessCalls calls_;
};

class KeyedProcessFn final : public KeyedProcessFunction<Key, Object, Object> {
 public:
  KeyedProcessFn(UserFunction f, Object requested) : calls_(std::move(f), std::move(requested)) {}
  void open(RuntimeContext& rc) override {
    calls_.open(rc);
    on_timer_ = calls_.f.method("on_timer");
  }
  void close() override { calls_.close(); }
  void process_element(const Object& value, Context& ctx, Collector<Object>& out) override {
    calls_.point_at(ctx, -1);
    calls_.element(calls_.f.fn(), value, ctx, out);
  }
  void on_timer(int64_t timestamp, OnTimerContext& ctx, Collector<Object>& out) override {
    calls_.timer(on_timer_, timestamp, ctx, out);
  }

 private:
  ProcessCalls calls_;
  Object on_timer_;
};

class KeyedCoProcessFn final : public KeyedCoProcessFunction<Key, Object, Object, Object> {
 public:
  KeyedCoProcessFn(UserFunction f, Object requested) : calls_(std::move(f), std::move(requested)) {}
  void open(RuntimeContext& rc) override {
    calls_.open(rc);
    e1_ = calls_.f.method("process_element1");
    e2_ = calls_.f.method("process_element2");
    on_timer_ = calls_.f.method("on_timer");
    if (!e1_ || !e2_) throw PythonError("KeyedCoProcessFunction: process_element1 and process_element2 are needed");
  }
  void close() override { calls_.close(); }
  void process_element1(const Object& v, Context& ctx, Collector<Object>& out) override {
    calls_.point_at(ctx, -1);
    calls_.element(e1_.get(), v, ctx, out);
  }
  void process_element2(const Object& v, Context& ctx, Collector<Object>& out) override {
    calls_.point_at(ctx, -1);
    calls_.element(e2_.get(), v, ctx, out);
  }
  void on_timer(int64_t timestamp, OnTimerContext& ctx, Collector<Object>& out) override {
    calls_.timer(on_timer_, timestamp, ctx, out);
  }

 private:
  ProcessCalls calls_;
  Object e1_, e2_, on_timer_;
};

/// One half of a CoMapFunction / CoFlatMapFunction (map1/map2, flat_map1/flat_map2). The two
/// halves of an operator share the subtask's copy of the object: the first half opened makes it
/// (and calls `open`), the second, opened right after it on the same thread, takes it over.
thread_local std::shared_ptr<UserFunction> t_co_opened;

template <bool Flat, int Side>
struct CoHalfBase {
  UserFunction proto;
  std::shared_ptr<UserFunction> f;
  Object method;
  explicit CoHalfBase(UserFunction p) : proto(std::move(p)) {}
  void open(RuntimeContext& rc) {
    if (Side == 1) {
      f = std::make_shared<UserFunction>(proto);
      f->open(rc);
      t_co_opened = f;
    } else {
      f = std::exchange(t_co_opened, nullptr);
      if (!f) throw PythonError("connect: the second half of a co-function opened alone");
    }
    const char* name = Flat ? (Side == 1 ? "flat_map1" : "flat_map2") : (Side == 1 ? "map1" : "map2");
    method = f->method(name);
    if (!method) throw PythonError(std::string("connect: the function has no ") + name + " method");
  }
  void close() {
    if (Side == 1 && f) f->close();
  }
};

template <int Side>
struct CoMapHalf : CoHalfBase<false, Side> {
  using CoHalfBase<false, Side>::CoHalfBase;
  Object operator()(const Object& v) const { return call(this->method.get(), v.get()); }
};

template <int Side>
struct CoFlatHalf : CoHalfBase<true, Side> {
  using CoHalfBase<true, Side>::CoHalfBase;
  void operator()(const Object& v, Collector<Object>& out) const {
    Object r = call(this->method.get(), v.get());
    for_each_result(r.get(), Side == 1 ? "flat_map1" : "flat_map2", [&](Object&& o) { out.collect(std::move(o)); });
  }
};

// ---- sinks -------------------------------------------------------------------------------------

/// `add_sink(callable)` and `print()`: a Python callable per record, on the sink's subtasks.
struct SinkFn : RichFn {
  void operator()(const Object& v) const { call(f.fn(), v.get()); }
};

/// `print()`: the formatter turns a record into its text; lines go to Python's `sys.stdout`
/// with PyFlink's "N> " prefix when the sink runs in parallel.
struct PrintFn {
  Object formatter;
  std::string prefix_id;
  std::string prefix;
  void open(RuntimeContext& rc) {
    prefix = prefix_id;
    if (rc.get_number_of_parallel_subtasks() > 1) {
      prefix += (prefix.empty() ? "" : ":") + std::to_string(rc.get_index_of_this_subtask() + 1) + "> ";
    } else if (!prefix.empty()) {
      prefix += "> ";
    }
  }
  void operator()(const Object& v) const {
    Object text = call(formatter.get(), v.get());
    PyObject* out = PySys_GetObject("stdout");  // borrowed
    if (out == nullptr || out == Py_None) return;
    const char* s = PyUnicode_AsUTF8(text.get());
    if (s == nullptr) throw_python_error();
    std::string line = prefix + s + "\n";
    Object str = Object::steal(PyUnicode_FromStringAndSize(line.data(), static_cast<Py_ssize_t>(line.size())));
    if (!str) throw_python_error();
    Object write = Object::steal(PyObject_GetAttrString(out, "write"));
    if (!write) throw_python_error();
    call(write.get(), str.get());
  }
};

/// The records of `execute_and_collect()`, handed from the sink to the iterating thread.
struct CollectQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Object> items;  // guarded by mu
};

struct CollectFn {
  std::shared_ptr<CollectQueue> q;
  void operator()(const Object& v) const {
    {
      std::lock_guard lock(q->mu);
      q->items.push_back(v);
    }
    q->cv.notify_one();
  }
};

struct PyCollector {
  std::shared_ptr<CollectQueue> q;
  /// The next record, or nothing once `done()` returns true and the queue is empty. Waits
  /// at most `timeout_ms` with the interpreter lock released.
  nb::object poll(int64_t timeout_ms) {
    Object got;
    {
      nb::gil_scoped_release release;
      std::unique_lock lock(q->mu);
      q->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !q->items.empty(); });
      if (!q->items.empty()) {
        got = std::move(q->items.front());
        q->items.pop_front();
      }
    }
    if (!got) return nb::none();
    return nb::make_tuple(to_nb(std::move(got)));
  }
  std::size_t size() {
    std::lock_guard lock(q->mu);
    return q->items.size();
  }
};

// ---- watermark strategies ----------------------------------------------------------------------

WatermarkStrategy<Object> make_strategy(const std::string& kind, int64_t bound_ms, int64_t idle_ms, nb::object assigner) {
  WatermarkStrategy<Object> s = base_watermark_strategy<Object>(kind, bound_ms, idle_ms);
  if (!assigner.is_none()) {
    Object fn = own(assigner);
    s = s.with_timestamp_assigner([fn](const Object& v, int64_t record_ts) -> int64_t {
      Object ts = Object::steal(PyLong_FromLongLong(record_ts));
      Object r = call(fn.get(), v.get(), ts.get());
      const long long t = PyLong_AsLongLong(r.get());
      if (t == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        throw PythonError(std::string("TimestampAssigner.extract_timestamp must return an int (milliseconds), not ") +
                          Py_TYPE(r.get())->tp_name);
      }
      return t;
    });
  }
  return s;
}

UserFunction user_fn(nb::handle target, const std::string& method) { return UserFunction(own(target), method); }

PyStream wrap(Stream s) { return PyStream{std::make_shared<Stream>(std::move(s))}; }

}  // namespace

void bind_stream(nb::module_& m) {
  nb::class_<TimerService>(m, "TimerService")
      .def("current_processing_time", &TimerService::current_processing_time)
      .def("current_watermark", &TimerService::current_watermark)
      .def("register_event_time_timer", &TimerService::register_event_time_timer)
      .def("register_processing_time_timer", &TimerService::register_processing_time_timer)
      .def("delete_event_time_timer", &TimerService::delete_event_time_timer)
      .def("delete_processing_time_timer", &TimerService::delete_processing_time_timer);

  nb::class_<PyContext>(m, "Context")
      .def("timestamp", [](PyContext& c) -> std::optional<int64_t> {
        if (!c.timestamp) return std::nullopt;
        auto t = c.timestamp();
        if (t && *t == kNoTimestamp) return std::nullopt;
        return t;
      })
      .def("get_current_key", &PyContext::get_current_key)
      .def("timer_service", &PyContext::timer_service, nb::rv_policy::reference)
      .def("_time_domain", [](PyContext& c) { return c.time_domain; });

  nb::class_<PyCollector>(m, "CollectQueue").def("poll", &PyCollector::poll).def("size", &PyCollector::size);

  nb::class_<DataStreamSink>(m, "Sink")
      .def("name", [](DataStreamSink& s, const std::string& n) { s.name(n); })
      .def("uid", [](DataStreamSink& s, const std::string& u) { s.uid(u); })
      .def("set_parallelism", [](DataStreamSink& s, int p) { s.set_parallelism(p); });

  nb::class_<PyStream>(m, "Stream")
      .def("id", [](PyStream& s) { return s.s->get_id(); })
      .def("get_name", [](PyStream& s) { return s.s->get_name(); })
      .def("name", [](PyStream& s, const std::string& n) { s.s->name(n); })
      .def("uid", [](PyStream& s, const std::string& u) { s.s->uid(u); })
      .def("set_parallelism", [](PyStream& s, int p) { s.s->set_parallelism(p); })
      .def("get_parallelism", [](PyStream& s) { return s.s->get_parallelism(); })
      .def("disable_chaining", [](PyStream& s) { s.s->disable_chaining(); })
      .def("start_new_chain", [](PyStream& s) { s.s->start_new_chain(); })
      .def("set_buffer_timeout", [](PyStream& s, int64_t ms) { s.s->set_buffer_timeout(ms); })
      .def("map", [](PyStream& s, nb::handle f, const std::string& method) {
        return wrap(s.s->map(MapFn{{user_fn(f, method)}}));
      })
      .def("filter", [](PyStream& s, nb::handle f, const std::string& method) {
        return wrap(s.s->filter(FilterFn{{user_fn(f, method)}}));
      })
      .def("flat_map", [](PyStream& s, nb::handle f, const std::string& method) {
        return wrap(s.s->flat_map<Object>(FlatMapFn{{user_fn(f, method)}}));
      })
      .def("process", [](PyStream& s, nb::handle f, nb::handle requested) {
        return wrap(s.s->process(ProcessFn(user_fn(f, "process_element"), own(requested))));
      })
      .def("key_by", [](PyStream& s, nb::handle f) {
        return PyKeyed{std::make_shared<Keyed>(s.s->key_by(KeyFn{own(f)}))};
      })
      .def("assign_timestamps_and_watermarks",
           [](PyStream& s, const std::string& kind, int64_t bound_ms, int64_t idle_ms, nb::object assigner) {
             return wrap(s.s->assign_timestamps_and_watermarks(make_strategy(kind, bound_ms, idle_ms, assigner)));
           }, nb::arg("kind"), nb::arg("bound_ms"), nb::arg("idle_ms"), nb::arg("assigner").none())
      .def("rebalance", [](PyStream& s) { return wrap(s.s->rebalance()); })
      .def("shuffle", [](PyStream& s) { return wrap(s.s->shuffle()); })
      .def("broadcast", [](PyStream& s) { return wrap(s.s->broadcast()); })
      .def("forward", [](PyStream& s) { return wrap(s.s->forward()); })
      .def("global_", [](PyStream& s) { return wrap(s.s->global()); })
      .def("union", [](PyStream& s, std::vector<PyStream> others) {
        Stream out = *s.s;
        for (auto& o : others) out = out.union_(*o.s);
        return wrap(out);
      })
      .def("get_side_output", [](PyStream& s, const std::string& tag) {
        return wrap(s.s->get_side_output(OutputTag<Object>(tag)));
      })
      .def("co_map", [](PyStream& a, PyStream& b, nb::handle f, bool flat) {
        auto connected = a.s->connect(*b.s);
        UserFunction uf = user_fn(f, flat ? "flat_map1" : "map1");
        if (flat) return wrap(connected.flat_map(CoFlatHalf<1>(uf), CoFlatHalf<2>(uf)));
        return wrap(connected.map(CoMapHalf<1>(uf), CoMapHalf<2>(uf)));
      })
      .def("add_sink", [](PyStream& s, nb::handle f, const std::string& method) {
        return s.s->add_sink(SinkFn{{user_fn(f, method)}});
      })
      .def("print", [](PyStream& s, nb::handle formatter, const std::string& id) {
        return s.s->add_sink(PrintFn{own(formatter), id, ""}).name("Print to Std. Out");
      })
      .def("discard", [](PyStream& s) {
        return s.s->add_sink([](const Object&) {}).name("Discarding Sink");
      })
      .def("collect", [](PyStream& s) {
        auto q = std::make_shared<CollectQueue>();
        s.s->add_sink(CollectFn{q}).name("Collect Sink").set_parallelism(1);
        return PyCollector{q};
      });

  nb::class_<PyKeyed>(m, "KeyedStream")
      .def("as_stream", [](PyKeyed& k) { return wrap(*k.k); })
      .def("reduce", [](PyKeyed& k, nb::handle f, const std::string& method) {
        return wrap(k.k->reduce(ReduceFn{{user_fn(f, method)}}));
      })
      .def("process", [](PyKeyed& k, nb::handle f, nb::handle requested) {
        return wrap(k.k->process(KeyedProcessFn(user_fn(f, "process_element"), own(requested))));
      })
      .def("connect_process", [](PyKeyed& a, PyKeyed& b, nb::handle f, nb::handle requested) {
        return wrap(a.k->connect(*b.k).process(KeyedCoProcessFn(user_fn(f, "process_element1"), own(requested))));
      });
}

}  // namespace weir::python
