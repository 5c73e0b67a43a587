// Windows for Python streams: assigners, triggers, window functions on the engine's
// WindowedStream. The Python side (weir/datastream/window.py) describes the assigner and the
// trigger as tuples; one call here builds the window operator.
#include "bindings.h"

namespace weir::python {

namespace {

PyObject* g_time_window_cls = nullptr;
PyObject* g_global_window_cls = nullptr;
PyObject* g_count_window_cls = nullptr;

int64_t as_int64(PyObject* v, const char* what) {
  const long long t = PyLong_AsLongLong(v);
  if (t == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    throw PythonError(std::string(what) + " must return an int (milliseconds), not " + Py_TYPE(v)->tp_name);
  }
  return t;
}

// ---- triggers ----------------------------------------------------------------------------------

/// PyFlink's sliding count windows: window k holds elements k*slide .. k*slide+size-1 of the key
/// and fires once, when it is full (the C++ count_window(size, slide) fires every `slide`
/// elements, as Java's does). With CountEvictor(size) the window function sees the last `size`.
template <class T, class W>
class CountSlideTrigger final : public Trigger<T, W> {
 public:
  CountSlideTrigger(int64_t size, int64_t slide) : size_(size), slide_(slide) {}
  TriggerResult on_element(const T&, int64_t, const W&, TriggerContext<W>& ctx) override {
    const int64_t c = ctx.get_counter("count") + 1;
    ctx.set_counter("count", c);
    return c >= size_ && (c - size_) % slide_ == 0 ? TriggerResult::FIRE : TriggerResult::CONTINUE;
  }
  TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
  TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
  void clear(const W&, TriggerContext<W>& ctx) override { ctx.clear_counter("count"); }

 private:
  int64_t size_, slide_;
};

/// A trigger described from Python: ("event",), ("processing",), ("never",), ("count", n),
/// ("continuous_event", ms), ("purging", inner), ("count_slide", size, slide).
struct TriggerSpec {
  std::string kind;
  int64_t a = 0, b = 0;
  std::shared_ptr<TriggerSpec> inner;

  static TriggerSpec from(nb::handle t) {
    nb::tuple tup = nb::cast<nb::tuple>(t);
    TriggerSpec s;
    s.kind = nb::cast<std::string>(tup[0]);
    if (s.kind == "purging") {
      s.inner = std::make_shared<TriggerSpec>(from(tup[1]));
    } else if (s.kind == "count" || s.kind == "continuous_event") {
      s.a = nb::cast<int64_t>(tup[1]);
    } else if (s.kind == "count_slide") {
      s.a = nb::cast<int64_t>(tup[1]);
      s.b = nb::cast<int64_t>(tup[2]);
    }
    return s;
  }

  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    if (kind == "event") return EventTimeTrigger::create().make<T, W>();
    if (kind == "processing") return ProcessingTimeTrigger::create().make<T, W>();
    if (kind == "never") return NeverTrigger::create().make<T, W>();
    if (kind == "count") return CountTrigger::of(a).make<T, W>();
    if (kind == "continuous_event") return ContinuousEventTimeTrigger::of(std::chrono::milliseconds(a)).make<T, W>();
    if (kind == "count_slide") return std::make_unique<CountSlideTrigger<T, W>>(a, b);
    if (kind == "purging") {
      using P = typename PurgingTriggerOf<TriggerSpec>::template For<T, W>;
      return std::make_unique<P>(inner->make<T, W>());
    }
    throw GraphError("unknown trigger '" + kind + "'");
  }
};

// ---- functions ---------------------------------------------------------------------------------

struct ReduceCall {
  Object fn;
  Object operator()(const Object& a, const Object& b) const { return call(fn.get(), a.get(), b.get()); }
};

/// An AggregateFunction's methods (bound methods of the user's object).
struct AggCall {
  Object create, add_fn, result, merge_fn;
  Object create_accumulator() const { return call(create.get()); }
  Object add(const Object& v, Object acc) const { return call(add_fn.get(), v.get(), acc.get()); }
  Object get_result(const Object& acc) const { return call(result.get(), acc.get()); }
  Object merge(Object a, Object b) const { return call(merge_fn.get(), a.get(), b.get()); }
};

/// What a ProcessWindowFunction's `context` argument sees during one call.
struct PyWindowContext {
  Object window;
  std::function<int64_t()> processing_time;
  std::function<int64_t()> watermark;
  std::function<void(const std::string&, const Object&)> output;

  nb::object get_window() { return to_nb(window); }
  int64_t current_processing_time() {
    if (!processing_time) throw nb::value_error("current_processing_time: only inside process()");
    return processing_time();
  }
  int64_t current_watermark() {
    if (!watermark) throw nb::value_error("current_watermark: only inside process()");
    return watermark();
  }
};

enum class Mode { kEmit = 0, kProcess = 1, kApply = 2, kAllProcess = 3, kAllApply = 4 };

Object window_object(const TimeWindow& w) {
  Object s = Object::steal(PyLong_FromLongLong(w.start()));
  Object e = Object::steal(PyLong_FromLongLong(w.end()));
  return call(g_time_window_cls, s.get(), e.get());
}

/// The window function run by the engine's window operator: hands each fired window (its
/// elements, or the incremental result) to the Python function, or emits the result as it is.
template <class W>
class PyWindowFn final : public ProcessWindowFunction<Object, Object, Key, W> {
 public:
  using Base = ProcessWindowFunction<Object, Object, Key, W>;
  PyWindowFn(Mode mode, UserFunction f, bool count_ids, bool has_clear)
      : mode_(mode), f_(std::move(f)), count_ids_(count_ids), has_clear_(has_clear) {}
  PyWindowFn(const PyWindowFn& o)
      : Base(), mode_(o.mode_), f_(o.f_), count_ids_(o.count_ids_), has_clear_(o.has_clear_) {}

  void open(RuntimeContext& rc) override {
    if (mode_ == Mode::kEmit) return;
    f_.open(rc);
    if (has_clear_) clear_ = f_.method("clear");
    if (count_ids_) ids_.emplace(rc.get_state(ValueStateDescriptor<int64_t>("__count-window-id")));
    ctx_obj_ = Object::steal(nb::cast(&ctx_, nb::rv_policy::reference).release().ptr());
  }
  void close() override {
    if (mode_ != Mode::kEmit) f_.close();
  }

  void process(const Key& key, typename Base::Context& ctx, const std::vector<Object>& elements,
               Collector<Object>& out) override {
    if (mode_ == Mode::kEmit) {
      for (const auto& e : elements) out.collect(e);
      return;
    }
    Object win = window_of(ctx.window(), true);
    Object list = Object::steal(PyList_New(static_cast<Py_ssize_t>(elements.size())));
    if (!list) throw_python_error();
    for (std::size_t i = 0; i < elements.size(); ++i) {
      PyObject* o = elements[i].get() ? elements[i].get() : Py_None;
      Py_INCREF(o);
      PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), o);
    }
    Object r;
    switch (mode_) {
      case Mode::kApply: r = call(f_.fn(), key_obj(key).get(), win.get(), list.get()); break;
      case Mode::kAllApply: r = call(f_.fn(), win.get(), list.get()); break;
      case Mode::kProcess:
      case Mode::kAllProcess: {
        set_ctx(ctx, win);
        if (mode_ == Mode::kProcess) {
          r = call(f_.fn(), key_obj(key).get(), ctx_obj_.get(), list.get());
        } else {
          r = call(f_.fn(), ctx_obj_.get(), list.get());
        }
        break;
      }
      default: break;
    }
    // A generator runs while its results are taken: the context stays set until then.
    struct Reset {
      PyWindowContext& c;
      ~Reset() {
        c.window = Object();
        c.processing_time = nullptr;
        c.watermark = nullptr;
        c.output = nullptr;
      }
    } reset{ctx_};
    for_each_result(r.get(), mode_ == Mode::kApply || mode_ == Mode::kAllApply ? "apply" : "process",
                    [&](Object&& item) {
                      std::string tag;
                      Object value;
                      if (as_side_output(item.get(), tag, value)) {
                        ctx.output(OutputTag<Object>(tag), value);
                      } else {
                        out.collect(std::move(item));
                      }
                    });
  }

  void clear(typename Base::Context& ctx) override {
    if (!clear_) return;
    Object win = window_of(ctx.window(), false);
    set_ctx(ctx, win);
    call(clear_.get(), ctx_obj_.get());
    ctx_.window = Object();
    ctx_.processing_time = nullptr;
    ctx_.watermark = nullptr;
    ctx_.output = nullptr;
  }

 private:
  void set_ctx(typename Base::Context& ctx, const Object& win) {
    ctx_.window = win;
    ctx_.processing_time = [&ctx] { return ctx.current_processing_time(); };
    ctx_.watermark = [&ctx] { return ctx.current_watermark(); };
    ctx_.output = [&ctx](const std::string& tag, const Object& v) { ctx.output(OutputTag<Object>(tag), v); };
  }

  Object key_obj(const Key& key) {
    if (!cached_key_obj_ || cached_key_ != key) {
      cached_key_ = key;
      cached_key_obj_ = decode_all(key);
    }
    return cached_key_obj_;
  }

  /// The Python window: a TimeWindow, or for count windows a CountWindow numbered per key
  /// (`firing`: a new window fires; the id counts the firings), else the GlobalWindow.
  Object window_of(const W& w, bool firing) {
    if constexpr (std::is_same_v<W, TimeWindow>) {
      return window_object(w);
    } else {
      if (count_ids_ && ids_) {
        int64_t id = ids_->value().value_or(0);
        if (firing) ids_->update(id + 1);
        else id = id > 0 ? id - 1 : 0;
        Object i = Object::steal(PyLong_FromLongLong(id));
        return call(g_count_window_cls, i.get());
      }
      return call(g_global_window_cls);
    }
  }

  Mode mode_;
  UserFunction f_;
  bool count_ids_;
  bool has_clear_;
  Object clear_;
  std::optional<ValueState<int64_t>> ids_;
  PyWindowContext ctx_;
  Object ctx_obj_;
  std::string cached_key_;
  Object cached_key_obj_;
};

/// Everything Python says about a windowed stream and its function.
struct Spec {
  bool all = false;
  nb::object trigger;      // None: the assigner's default
  int64_t lateness = 0;
  std::string late_tag;
  std::string kind;        // reduce, aggregate, process, apply
  nb::object fn;           // the reduce callable, or the AggregateFunction object
  nb::object wfn;          // the window function object, or None
  std::string wmethod;     // its method: process / apply
  bool has_clear = false;
  bool count_ids = false;
  int64_t evict_count = 0;  // > 0: CountEvictor(n)
};

template <class A>
Stream build(Keyed& keyed, A assigner, const Spec& s) {
  using W = typename A::window_type;
  WindowedStream<Object, Key, A> ws(keyed, std::move(assigner), s.all);
  if (!s.trigger.is_none()) ws.trigger(TriggerSpec::from(s.trigger));
  if (s.evict_count > 0) ws.evictor(CountEvictor::of(s.evict_count));
  if (s.lateness != 0) ws.allowed_lateness(std::chrono::milliseconds(s.lateness));
  if (!s.late_tag.empty()) ws.side_output_late_data(OutputTag<Object>(s.late_tag));
  Mode mode = Mode::kEmit;
  UserFunction uf;
  if (!s.wfn.is_none()) {
    const bool apply = s.wmethod == "apply";
    mode = s.all ? (apply ? Mode::kAllApply : Mode::kAllProcess) : (apply ? Mode::kApply : Mode::kProcess);
    uf = UserFunction(own(s.wfn), s.wmethod);
  }
  PyWindowFn<W> pwf(mode, uf, s.count_ids, s.has_clear);
  if (s.kind == "reduce") return ws.reduce(ReduceCall{own(s.fn)}, pwf);
  if (s.kind == "aggregate") {
    auto m = [&](const char* name) {
      Object r = Object::steal(PyObject_GetAttrString(s.fn.ptr(), name));
      if (!r) throw_python_error();
      return r;
    };
    return ws.aggregate(AggCall{m("create_accumulator"), m("add"), m("get_result"), m("merge")}, pwf);
  }
  return ws.process(pwf);
}

using GapFn = std::function<int64_t(const Object&)>;

GapFn gap_fn(int64_t gap, nb::object extractor) {
  if (extractor.is_none()) return [gap](const Object&) { return gap; };
  Object fn = own(extractor);
  return [fn](const Object& v) { return as_int64(call(fn.get(), v.get()).get(), "SessionWindowTimeGapExtractor.extract"); };
}

/// assigner: (kind, event_time, size, slide, offset, gap, gap_extractor)
PyStream window(PyKeyed& k, nb::tuple a, Spec s) {
  const auto kind = nb::cast<std::string>(a[0]);
  const bool et = nb::cast<bool>(a[1]);
  const auto size = std::chrono::milliseconds(nb::cast<int64_t>(a[2]));
  const auto slide = std::chrono::milliseconds(nb::cast<int64_t>(a[3]));
  const auto offset = std::chrono::milliseconds(nb::cast<int64_t>(a[4]));
  const int64_t gap = nb::cast<int64_t>(a[5]);
  nb::object extractor = nb::borrow<nb::object>(a[6]);
  Keyed& keyed = *k.k;
  auto wrap = [](Stream st) { return PyStream{std::make_shared<Stream>(std::move(st))}; };
  if (kind == "tumbling") {
    if (et) return wrap(build(keyed, TumblingEventTimeWindows::of(size, offset), s));
    return wrap(build(keyed, TumblingProcessingTimeWindows::of(size, offset), s));
  }
  if (kind == "sliding") {
    if (et) return wrap(build(keyed, SlidingEventTimeWindows::of(size, slide, offset), s));
    return wrap(build(keyed, SlidingProcessingTimeWindows::of(size, slide, offset), s));
  }
  if (kind == "session") {
    if (extractor.is_none() && gap <= 0) throw GraphError("session windows: the gap must be positive");
    if (et) return wrap(build(keyed, SessionWindows<GapFn, true>(gap, gap_fn(gap, extractor)), s));
    return wrap(build(keyed, SessionWindows<GapFn, false>(gap, gap_fn(gap, extractor)), s));
  }
  if (kind == "global") return wrap(build(keyed, GlobalWindows::create(), s));
  throw GraphError("unknown window assigner '" + kind + "'");
}

}  // namespace

void bind_windows(nb::module_& m) {
  m.def("_set_window_classes", [](nb::handle tw, nb::handle gw, nb::handle cw) {
    Py_XINCREF(tw.ptr());
    Py_XINCREF(gw.ptr());
    Py_XINCREF(cw.ptr());
    g_time_window_cls = tw.ptr();
    g_global_window_cls = gw.ptr();
    g_count_window_cls = cw.ptr();
  });

  nb::class_<PyWindowContext>(m, "WindowContext")
      .def("window", &PyWindowContext::get_window)
      .def("current_processing_time", &PyWindowContext::current_processing_time)
      .def("current_watermark", &PyWindowContext::current_watermark)
      .def("_output", [](PyWindowContext& c, const std::string& tag, nb::handle v) {
        if (!c.output) throw nb::value_error("output: only inside process()");
        c.output(tag, own(v));
      });

  m.def("window",
        [](PyStream* stream, PyKeyed* keyed, nb::tuple assigner, nb::object trigger, int64_t lateness,
           const std::string& late_tag, const std::string& kind, nb::object fn, nb::object wfn,
           const std::string& wmethod, bool has_clear, bool count_ids, int64_t evict_count) {
          Spec s;
          s.all = stream != nullptr;
          s.trigger = std::move(trigger);
          s.lateness = lateness;
          s.late_tag = late_tag;
          s.kind = kind;
          s.fn = std::move(fn);
          s.wfn = std::move(wfn);
          s.wmethod = wmethod;
          s.has_clear = has_clear;
          s.count_ids = count_ids;
          s.evict_count = evict_count;
          if (stream != nullptr) {
            // window_all: one key; the engine runs the operator with parallelism 1.
            PyKeyed k{std::make_shared<Keyed>(stream->s->key_by([](const Object&) { return Key(); }))};
            return window(k, assigner, std::move(s));
          }
          return window(*keyed, assigner, std::move(s));
        },
        nb::arg("stream").none(), nb::arg("keyed").none(), nb::arg("assigner"), nb::arg("trigger").none(),
        nb::arg("lateness"), nb::arg("late_tag"), nb::arg("kind"), nb::arg("fn").none(), nb::arg("wfn").none(),
        nb::arg("wmethod"), nb::arg("has_clear"), nb::arg("count_ids"), nb::arg("evict_count"));
}

}  // namespace weir::python
