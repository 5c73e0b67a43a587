#pragma once
/// Shared by the binding files: the Python-facing wrappers of environments and streams, and the
/// C++ functions that call Python functions from the tasks. Every call into Python below runs on
/// a task thread that holds the interpreter lock for its slice (`InterpreterLock`).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/function.h>

#include <memory>
#include <optional>
#include <string>

#include "errors.h"
#include "object.h"
#include "weir/weir.hpp"

namespace weir::python {

namespace nb = nanobind;
using Key = std::string;  // a key's canonical bytes (`key_bytes`)
using Stream = DataStream<Object>;
using Keyed = KeyedStream<Object, Key>;

/// A borrowed nanobind handle as an owned Object, and back.
inline Object own(nb::handle h) { return Object::borrow(h.ptr()); }
inline nb::object to_nb(const Object& o) { return nb::borrow<nb::object>(o.get() ? o.get() : Py_None); }
inline nb::object to_nb(Object&& o) {
  if (!o) return nb::none();
  return nb::steal<nb::object>(o.release());
}

/// Calls `fn(args...)`; a Python exception becomes a PythonError (its traceback as the message).
template <class... A>
Object call(PyObject* fn, A... args) {
  PyObject* argv[] = {nullptr, args...};
  PyObject* r = PyObject_Vectorcall(fn, argv + 1, sizeof...(A) | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
  if (r == nullptr) throw_python_error();
  return Object::steal(r);
}

/// Truth of a Python value (raises as `call` does).
inline bool truth(PyObject* v) {
  const int t = PyObject_IsTrue(v);
  if (t < 0) throw_python_error();
  return t != 0;
}

/// Calls `emit(item)` for each element of what a Python function returned: nothing for None,
/// the elements of an iterable (a generator, a list, ...). Anything else is an error.
template <class F>
void for_each_result(PyObject* result, const char* what, F&& emit) {
  if (result == Py_None) return;
  Object it = Object::steal(PyObject_GetIter(result));
  if (!it) {
    PyErr_Clear();
    throw PythonError(std::string(what) + " must return an iterable (or be a generator that yields), not " +
                      Py_TYPE(result)->tp_name);
  }
  while (PyObject* item = PyIter_Next(it.get())) emit(Object::steal(item));
  if (PyErr_Occurred()) throw_python_error();
}

/// The engine's watermark strategy for a Python `WatermarkStrategy`'s kind ("none" or
/// "bounded"), out-of-orderness bound and idle timeout (0: none); the assigner is added by the
/// caller where records can be given to Python.
template <class T>
WatermarkStrategy<T> base_watermark_strategy(const std::string& kind, int64_t bound_ms, int64_t idle_ms) {
  WatermarkStrategy<T> s = kind == "none" ? WatermarkStrategy<T>::no_watermarks()
                                          : WatermarkStrategy<T>::for_bounded_out_of_orderness(std::chrono::milliseconds(bound_ms));
  if (idle_ms > 0) s = s.with_idleness(std::chrono::milliseconds(idle_ms));
  return s;
}

/// A user function given from Python: a plain callable, or an object (a MapFunction, a
/// KeyedProcessFunction, ...) with a method to call. Objects are copied per parallel subtask
/// (as PyFlink unpickles one per worker), get `open(runtime_context)` and `close()`.
class UserFunction {
 public:
  UserFunction() = default;
  /// `method` empty: `target` is the callable.
  UserFunction(Object target, std::string method) : target_(std::move(target)), method_(std::move(method)) {}
  bool is_object() const { return !method_.empty(); }
  /// Copies the object for this subtask and calls its `open`. Lock held.
  void open(RuntimeContext& rc);
  void close();
  /// The callable for the method named at construction (or another of the object's methods).
  PyObject* fn() const { return bound_ ? bound_.get() : target_.get(); }
  PyObject* instance() const { return instance_ ? instance_.get() : target_.get(); }
  /// A method of the subtask's instance, or nullptr when it has none.
  Object method(const char* name) const;

 private:
  Object target_;
  std::string method_;
  Object instance_;  // this subtask's copy
  Object bound_;     // its bound method
};

/// The Python `RuntimeContext` handed to `open()`: a view of the C++ one, valid while the
/// operator lives (state handles taken from it stay valid).
Object make_runtime_context(RuntimeContext& rc);

/// The `OutputTag` class of weir.datastream (for `yield tag, value`), set at import.
void set_output_tag_class(PyObject* cls);
/// When `item` is `(OutputTag, value)`: the tag's id and the value.
bool as_side_output(PyObject* item, std::string& tag, Object& value);

/// Python-facing wrappers.
struct PyEnv;
struct PyStream {
  std::shared_ptr<Stream> s;
};
struct PyKeyed {
  std::shared_ptr<Keyed> k;
};

void bind_env(nb::module_& m);
void bind_stream(nb::module_& m);
void bind_state(nb::module_& m);
void bind_windows(nb::module_& m);
void bind_connectors(nb::module_& m);
void bind_workspace(nb::module_& m);
void bind_cep(nb::module_& m);
void bind_nexmark(nb::module_& m);

/// The environment of a stream (for sources that the bindings add).
StreamExecutionEnvironment env_of(const Stream& s);
/// The environment shared with the Python `StreamExecutionEnvironment`.
StreamExecutionEnvironment& env_ref(PyEnv& e);

}  // namespace weir::python
