// Complex event processing for Python streams (weir.cep): the engine's Pattern<Object>, built
// call by call from Python (so a malformed pattern raises at the call that made it), conditions
// that call Python functions, and CEP::pattern with select / flat_select and timeouts.
#include <nanobind/stl/map.h>

#include "bindings.h"
#include "weir/cep/cep.hpp"

namespace weir::python {

namespace {

using CepPattern = cep::Pattern<Object>;
using Match = cep::MatchMap<Object>;

/// The condition context handed to an iterative condition: valid during the call only.
struct PyCepContext {
  const cep::Context<Object>* ctx = nullptr;
  nb::list get_events_for_pattern(const std::string& name) const {
    if (ctx == nullptr) throw nb::value_error("get_events_for_pattern: the context is only valid inside the condition");
    nb::list out;
    for (const Object& e : ctx->get_events_for_pattern(name)) out.append(to_nb(e));
    return out;
  }
  int64_t timestamp() const {
    if (ctx == nullptr) throw nb::value_error("timestamp: the context is only valid inside the condition");
    return ctx->timestamp();
  }
};

/// The context handed to a `process` function: valid during the call only.
struct PyPatternContext {
  cep::PatternContext* ctx = nullptr;
  int64_t timestamp() const {
    if (ctx == nullptr) throw nb::value_error("timestamp: the context is only valid inside process()");
    return ctx->timestamp();
  }
  int64_t current_processing_time() const {
    if (ctx == nullptr) throw nb::value_error("current_processing_time: the context is only valid inside process()");
    return ctx->current_processing_time();
  }
};

/// A context object owned by Python (a function may keep it): valid while `Scope` lives, and an
/// error to use afterwards.
template <class C, class P>
struct ContextScope {
  nb::object obj;
  C* c;
  explicit ContextScope(P* ctx) : obj(nb::cast(C{ctx})), c(nb::inst_ptr<C>(obj)) {}
  ~ContextScope() { c->ctx = nullptr; }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;
};

/// A Python condition: `fn(value)` or, iterative, `fn(value, ctx)`.
cep::detail::Condition<Object> condition(nb::handle f, bool iterative) {
  Object fn = own(f);
  if (!iterative) {
    return [fn](const Object& e, const cep::Context<Object>&) { return truth(call(fn.get(), e.get()).get()); };
  }
  return [fn](const Object& e, const cep::Context<Object>& c) {
    ContextScope<PyCepContext, const cep::Context<Object>> scope(&c);
    return truth(call(fn.get(), e.get(), scope.obj.ptr()).get());
  };
}

/// The match as a dict {name: [values]}.
Object match_dict(const Match& m) {
  nb::dict d;
  for (const auto& [name, evs] : m) {
    nb::list l;
    for (const auto& e : evs) l.append(to_nb(e));
    d[nb::str(name.c_str())] = l;
  }
  return own(d);
}

cep::AfterMatchSkipStrategy skip_of(const std::string& kind, const std::string& name, bool throw_on_miss) {
  using S = cep::AfterMatchSkipStrategy;
  S s = kind == "no_skip"                ? S::no_skip()
        : kind == "skip_to_next"         ? S::skip_to_next()
        : kind == "skip_past_last_event" ? S::skip_past_last_event()
        : kind == "skip_to_first"        ? S::skip_to_first(name)
        : kind == "skip_to_last"         ? S::skip_to_last(name)
                                         : throw GraphError("unknown AfterMatchSkipStrategy '" + kind + "'");
  return throw_on_miss ? s.throw_exception_on_miss() : s;
}

/// What a PatternStream was given from Python.
struct Spec {
  bool processing_time = false;
  std::string late_tag;     // empty: none
  std::string timeout_tag;  // empty: no timeout function
  Object fn, timeout_fn;
  bool flat = false;
  bool process = false;
};

template <class PS>
PyStream finish(PS ps, const Spec& s) {
  if (s.processing_time) ps = ps.in_processing_time();
  if (!s.late_tag.empty()) ps = ps.side_output_late_data(OutputTag<Object>(s.late_tag));
  Object fn = s.fn, tfn = s.timeout_fn;
  auto wrap = [](DataStream<Object> st) { return PyStream{std::make_shared<Stream>(std::move(st))}; };
  if (s.process) {
    // fn(match, ctx) returns or yields values; `(OutputTag, value)` goes to that side output
    auto emit = [](PyObject* result, cep::PatternContext& ctx, Collector<Object>& out) {
      for_each_result(result, "process", [&](Object item) {
        std::string tag;
        Object value;
        if (as_side_output(item.get(), tag, value)) {
          ctx.output(OutputTag<Object>(tag), value);
        } else {
          out.collect(std::move(item));
        }
      });
    };
    auto proc = [fn, emit](const Match& m, cep::PatternContext& ctx, Collector<Object>& out) {
      ContextScope<PyPatternContext, cep::PatternContext> scope(&ctx);
      Object r = call(fn.get(), match_dict(m).get(), scope.obj.ptr());
      emit(r.get(), ctx, out);  // (a generator runs here, with the context still valid)
    };
    if (!tfn) return wrap(ps.template process<Object>(proc));
    return wrap(ps.template process<Object>(proc, [tfn, emit](const Match& m, int64_t ts, cep::PatternContext& ctx) {
      ContextScope<PyPatternContext, cep::PatternContext> scope(&ctx);
      Object t = Object::steal(PyLong_FromLongLong(ts));
      Object r = call(tfn.get(), match_dict(m).get(), t.get(), scope.obj.ptr());
      struct NoMain final : Collector<Object> {
        void collect(const Object&) override { throw PythonError("process: a timeout function emits to side outputs only: yield (tag, value)"); }
        void collect(Object&&) override { throw PythonError("process: a timeout function emits to side outputs only: yield (tag, value)"); }
      } none;
      emit(r.get(), ctx, none);
    }));
  }
  if (!s.flat) {
    auto sel = [fn](const Match& m) { return call(fn.get(), match_dict(m).get()); };
    if (s.timeout_tag.empty()) return wrap(ps.select(sel));
    return wrap(ps.select(OutputTag<Object>(s.timeout_tag),
                          [tfn](const Match& m, int64_t ts) {
                            Object t = Object::steal(PyLong_FromLongLong(ts));
                            return call(tfn.get(), match_dict(m).get(), t.get());
                          },
                          sel));
  }
  auto flat = [fn](const Match& m, Collector<Object>& out) {
    Object r = call(fn.get(), match_dict(m).get());
    for_each_result(r.get(), "flat_select", [&](Object v) { out.collect(std::move(v)); });
  };
  if (s.timeout_tag.empty()) return wrap(ps.flat_select(flat));
  return wrap(ps.flat_select(OutputTag<Object>(s.timeout_tag),
                             [tfn](const Match& m, int64_t ts, Collector<Object>& out) {
                               Object t = Object::steal(PyLong_FromLongLong(ts));
                               Object r = call(tfn.get(), match_dict(m).get(), t.get());
                               for_each_result(r.get(), "the timeout function", [&](Object v) { out.collect(std::move(v)); });
                             },
                             flat));
}

}  // namespace

void bind_cep(nb::module_& m) {
  nb::class_<PyCepContext>(m, "CepContext")
      .def("get_events_for_pattern", &PyCepContext::get_events_for_pattern)
      .def("timestamp", &PyCepContext::timestamp);

  nb::class_<PyPatternContext>(m, "PatternContext")
      .def("timestamp", &PyPatternContext::timestamp)
      .def("current_processing_time", &PyPatternContext::current_processing_time);

  nb::class_<CepPattern>(m, "CepPattern")
      .def_static("begin",
                  [](const std::string& name, const std::string& kind, const std::string& skip_name, bool throw_on_miss) {
                    return CepPattern::begin(name, skip_of(kind, skip_name, throw_on_miss));
                  })
      .def_static("begin_group",
                  [](const CepPattern& g, const std::string& kind, const std::string& skip_name, bool throw_on_miss) {
                    return CepPattern::begin(g, skip_of(kind, skip_name, throw_on_miss));
                  })
      .def("next", [](const CepPattern& p, const std::string& n) { return p.next(n); })
      .def("followed_by", [](const CepPattern& p, const std::string& n) { return p.followed_by(n); })
      .def("followed_by_any", [](const CepPattern& p, const std::string& n) { return p.followed_by_any(n); })
      .def("not_next", [](const CepPattern& p, const std::string& n) { return p.not_next(n); })
      .def("not_followed_by", [](const CepPattern& p, const std::string& n) { return p.not_followed_by(n); })
      .def("next_group", [](const CepPattern& p, const CepPattern& g) { return p.next(g); })
      .def("followed_by_group", [](const CepPattern& p, const CepPattern& g) { return p.followed_by(g); })
      .def("followed_by_any_group", [](const CepPattern& p, const CepPattern& g) { return p.followed_by_any(g); })
      .def("where", [](const CepPattern& p, nb::handle f, bool it) { return p.where(condition(f, it)); })
      .def("or_", [](const CepPattern& p, nb::handle f, bool it) { return p.or_(condition(f, it)); })
      .def("until", [](const CepPattern& p, nb::handle f, bool it) { return p.until(condition(f, it)); })
      .def("times", [](const CepPattern& p, int from, int to) { return p.times(from, to); })
      .def("times_or_more", [](const CepPattern& p, int n) { return p.times_or_more(n); })
      .def("optional", [](const CepPattern& p) { return p.optional(); })
      .def("greedy", [](const CepPattern& p) { return p.greedy(); })
      .def("consecutive", [](const CepPattern& p) { return p.consecutive(); })
      .def("allow_combinations", [](const CepPattern& p) { return p.allow_combinations(); })
      .def("within", [](const CepPattern& p, int64_t ms) { return p.within(std::chrono::milliseconds(ms)); })
      .def("get_name", [](const CepPattern& p) { return p.get_name(); })
      .def("get_window_ms", [](const CepPattern& p) { return p.get_window_ms(); })
      .def("check", [](const CepPattern& p) { cep::detail::NfaCompiler<Object>::compile(p); });

  m.def(
      "cep_select",
      [](PyStream* stream, PyKeyed* keyed, const CepPattern& p, bool processing_time, const std::string& late_tag,
         const std::string& timeout_tag, nb::handle fn, nb::handle timeout_fn, bool flat, bool process) {
        Spec s;
        s.processing_time = processing_time;
        s.late_tag = late_tag;
        s.timeout_tag = timeout_tag;
        s.fn = own(fn);
        if (!timeout_fn.is_none()) s.timeout_fn = own(timeout_fn);
        s.flat = flat;
        s.process = process;
        if (keyed != nullptr) return finish(cep::CEP::pattern(*keyed->k, p), s);
        return finish(cep::CEP::pattern(*stream->s, p), s);
      },
      nb::arg("stream").none(), nb::arg("keyed").none(), nb::arg("pattern"), nb::arg("processing_time"),
      nb::arg("late_tag"), nb::arg("timeout_tag"), nb::arg("fn"), nb::arg("timeout_fn").none(), nb::arg("flat"),
      nb::arg("process") = false);
}

}  // namespace weir::python
