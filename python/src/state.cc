// Keyed state for Python functions: the RuntimeContext that `open()` receives, and the state
// handles it gives out. Values are Python objects; map keys are stored by their canonical bytes.
#include "bindings.h"

namespace weir::python {

namespace {

PyObject* g_context_factory = nullptr;  // weir.datastream.functions.RuntimeContext

/// A view of the engine's RuntimeContext, valid for the operator's life.
struct PyRuntimeContext {
  RuntimeContext* rc;
};

std::optional<StateTtlConfig> ttl_of(nb::object ttl) {
  if (ttl.is_none()) return std::nullopt;
  const int64_t ms = nb::cast<int64_t>(ttl.attr("_ttl_ms"));
  auto b = StateTtlConfig::new_builder(std::chrono::milliseconds(ms));
  const int update = nb::cast<int>(ttl.attr("_update_type"));
  if (update == 2) b.update_ttl_on_read_and_write();
  const int vis = nb::cast<int>(ttl.attr("_visibility"));
  if (vis == 1) b.return_expired_if_not_cleaned_up();
  return b.build();
}

template <class D>
D with_ttl(D d, nb::object ttl) {
  if (auto t = ttl_of(std::move(ttl))) d.enable_time_to_live(*t);
  return d;
}

/// Calls a Python AggregateFunction's methods (the accumulator is a Python value).
struct PyAggregate {
  Object fn;
  Object create_accumulator() const {
    Object m = Object::steal(PyObject_GetAttrString(fn.get(), "create_accumulator"));
    if (!m) throw_python_error();
    return call(m.get());
  }
  Object add(const Object& v, Object acc) const {
    Object m = Object::steal(PyObject_GetAttrString(fn.get(), "add"));
    if (!m) throw_python_error();
    return call(m.get(), v.get(), acc.get());
  }
  Object get_result(const Object& acc) const {
    Object m = Object::steal(PyObject_GetAttrString(fn.get(), "get_result"));
    if (!m) throw_python_error();
    return call(m.get(), acc.get());
  }
};

nb::object opt(std::optional<Object>&& v) { return v ? to_nb(std::move(*v)) : nb::none(); }

template <class F>
decltype(auto) state_call(F&& f) {
  try {
    return f();
  } catch (const std::logic_error& e) {
    throw nb::type_error(e.what());
  }
}

}  // namespace

Object make_runtime_context(RuntimeContext& rc) {
  nb::object c = nb::cast(PyRuntimeContext{&rc});
  if (g_context_factory == nullptr) return Object::steal(c.release().ptr());
  return call(g_context_factory, c.ptr());
}

void bind_state(nb::module_& m) {
  m.def("_set_runtime_context_class", [](nb::handle cls) {
    Py_XINCREF(cls.ptr());
    g_context_factory = cls.ptr();
  });

  using VS = ValueState<Object>;
  nb::class_<VS>(m, "ValueState")
      .def("value", [](VS& s) { return opt(s.value()); })
      .def("update", [](VS& s, nb::handle v) {
        if (v.is_none()) {
          s.clear();  // PyFlink: update(None) clears
        } else {
          s.update(own(v));
        }
      }, nb::arg("value").none())
      .def("clear", &VS::clear);

  using LS = ListState<Object>;
  nb::class_<LS>(m, "ListState")
      .def("get", [](LS& s) {
        nb::list out;
        for (auto& v : s.get()) out.append(to_nb(std::move(v)));
        return out;
      })
      .def("add", [](LS& s, nb::handle v) { s.add(own(v)); })
      .def("add_all", [](LS& s, nb::iterable vs) {
        std::vector<Object> all;
        for (nb::handle h : vs) all.push_back(own(h));
        s.add_all(all);
      })
      .def("update", [](LS& s, nb::iterable vs) {
        std::vector<Object> all;
        for (nb::handle h : vs) all.push_back(own(h));
        s.update(all);
      })
      .def("clear", &LS::clear);

  using MS = MapState<Key, Object>;
  nb::class_<MS>(m, "MapState")
      .def("get", [](MS& s, nb::handle k) { return opt(s.get(key_bytes(k.ptr()))); })
      .def("put", [](MS& s, nb::handle k, nb::handle v) { s.put(key_bytes(k.ptr()), own(v)); })
      .def("put_all", [](MS& s, nb::dict d) {
        for (auto [k, v] : d) s.put(key_bytes(k.ptr()), own(v));
      })
      .def("remove", [](MS& s, nb::handle k) { s.remove(key_bytes(k.ptr())); })
      .def("contains", [](MS& s, nb::handle k) { return s.get(key_bytes(k.ptr())).has_value(); })
      .def("items", [](MS& s) {
        nb::list out;
        for (auto& [k, v] : s.entries()) out.append(nb::make_tuple(to_nb(decode_all(k)), to_nb(std::move(v))));
        return out;
      })
      .def("keys", [](MS& s) {
        nb::list out;
        for (auto& k : s.keys()) out.append(to_nb(decode_all(k)));
        return out;
      })
      .def("values", [](MS& s) {
        nb::list out;
        for (auto& v : s.values()) out.append(to_nb(std::move(v)));
        return out;
      })
      .def("is_empty", &MS::is_empty)
      .def("clear", &MS::clear);

  using RS = ReducingState<Object>;
  nb::class_<RS>(m, "ReducingState")
      .def("get", [](RS& s) { return opt(s.get()); })
      .def("add", [](RS& s, nb::handle v) { s.add(own(v)); })
      .def("clear", &RS::clear);

  using AS = AggregatingState<Object, Object>;
  nb::class_<AS>(m, "AggregatingState")
      .def("get", [](AS& s) { return opt(s.get()); })
      .def("add", [](AS& s, nb::handle v) { s.add(own(v)); })
      .def("clear", &AS::clear);

  nb::class_<PyRuntimeContext>(m, "RuntimeContext")
      .def("get_index_of_this_subtask", [](PyRuntimeContext& c) { return c.rc->get_index_of_this_subtask(); })
      .def("get_number_of_parallel_subtasks", [](PyRuntimeContext& c) { return c.rc->get_number_of_parallel_subtasks(); })
      .def("get_max_number_of_parallel_subtasks",
           [](PyRuntimeContext& c) { return c.rc->get_max_number_of_parallel_subtasks(); })
      .def("get_attempt_number", [](PyRuntimeContext& c) { return c.rc->get_attempt_number(); })
      .def("get_task_name", [](PyRuntimeContext& c) { return c.rc->get_task_name(); })
      .def("get_operator_name", [](PyRuntimeContext& c) { return c.rc->get_operator_name(); })
      .def("counter_inc", [](PyRuntimeContext& c, const std::string& name, int64_t n) {
        c.rc->get_metric_group().counter(name).inc(n);
      })
      .def("gauge_set", [](PyRuntimeContext& c, const std::string& name, int64_t v) {
        c.rc->get_metric_group().gauge(name).set(v);
      })
      .def("value_state", [](PyRuntimeContext& c, const std::string& name, nb::object ttl) {
        return state_call([&] { return c.rc->get_state(with_ttl(ValueStateDescriptor<Object>(name), ttl)); });
      }, nb::arg("name"), nb::arg("ttl").none())
      .def("list_state", [](PyRuntimeContext& c, const std::string& name, nb::object ttl) {
        return state_call([&] { return c.rc->get_list_state(with_ttl(ListStateDescriptor<Object>(name), ttl)); });
      }, nb::arg("name"), nb::arg("ttl").none())
      .def("map_state", [](PyRuntimeContext& c, const std::string& name, nb::object ttl) {
        return state_call([&] { return c.rc->get_map_state(with_ttl(MapStateDescriptor<Key, Object>(name), ttl)); });
      }, nb::arg("name"), nb::arg("ttl").none())
      .def("reducing_state", [](PyRuntimeContext& c, const std::string& name, nb::object fn, nb::object ttl) {
        Object f = own(fn);
        ReducingStateDescriptor<Object> d(name, [f](const Object& a, const Object& b) { return call(f.get(), a.get(), b.get()); });
        return state_call([&] { return c.rc->get_reducing_state(with_ttl(std::move(d), ttl)); });
      }, nb::arg("name"), nb::arg("fn"), nb::arg("ttl").none())
      .def("aggregating_state", [](PyRuntimeContext& c, const std::string& name, nb::object agg, nb::object ttl) {
        AggregatingStateDescriptor<Object, Object, Object> d(name, PyAggregate{own(agg)});
        return state_call([&] { return c.rc->get_aggregating_state(with_ttl(std::move(d), ttl)); });
      }, nb::arg("name"), nb::arg("agg"), nb::arg("ttl").none());
}

}  // namespace weir::python
