#pragma once
/// Python values as records: `Object` owns one reference to a Python object and is safe to copy
/// and destroy on any thread (it takes the interpreter lock when the thread does not hold it).
/// Records move between operators and channels without touching the reference count.
#include <Python.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "weir/runtime/execution.hpp"
#include "weir/serde/serde.hpp"

namespace weir::python {

/// True while the interpreter can run code (not before start-up, not while it shuts down).
bool interpreter_alive() noexcept;

/// Set while this thread runs a task slice holding the interpreter lock (`InterpreterLock`): a
/// cheaper test than PyGILState_Check on the records' hot path.
inline thread_local bool t_task_holds_lock = false;
/// This thread holds the interpreter lock.
inline bool holds_lock() noexcept { return t_task_holds_lock || PyGILState_Check(); }

/// Holds the interpreter lock for a scope on a thread that may or may not hold it already.
class GilGuard {
 public:
  GilGuard() : held_(holds_lock()) {
    if (!held_) state_ = PyGILState_Ensure();
  }
  ~GilGuard() {
    if (!held_) PyGILState_Release(state_);
  }
  GilGuard(const GilGuard&) = delete;
  GilGuard& operator=(const GilGuard&) = delete;

 private:
  bool held_;
  PyGILState_STATE state_{};
};


class Object {
 public:
  Object() noexcept = default;
  /// Takes over a new reference (as returned by most of the C API).
  static Object steal(PyObject* p) noexcept {
    Object o;
    o.p_ = p;
    return o;
  }
  /// Adds a reference to a borrowed one. The caller holds the interpreter lock.
  static Object borrow(PyObject* p) noexcept {
    Py_XINCREF(p);
    return steal(p);
  }
  Object(const Object& o) : p_(o.p_) {
    if (p_ != nullptr) {
      if (holds_lock()) {
        Py_INCREF(p_);
      } else {
        GilGuard g;
        Py_INCREF(p_);
      }
    }
  }
  Object(Object&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Object& operator=(Object o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Object() { reset(); }

  void reset() noexcept {
    PyObject* p = std::exchange(p_, nullptr);
    if (p == nullptr) return;
    if (t_task_holds_lock) {
      Py_DECREF(p);
      return;
    }
    if (!interpreter_alive()) return;  // gone with the interpreter
    if (PyGILState_Check()) {
      Py_DECREF(p);
    } else {
      GilGuard g;
      Py_DECREF(p);
    }
  }
  PyObject* get() const noexcept { return p_; }
  /// Gives up ownership (a new reference for the caller).
  PyObject* release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  PyObject* p_ = nullptr;
};

/// A Python exception, taken from the interpreter's error indicator, as a C++ exception whose
/// message is the Python traceback. Throw with `throw_python_error()` (lock held).
class PythonError : public std::runtime_error {
 public:
  explicit PythonError(const std::string& what) : std::runtime_error(what) {}
};
[[noreturn]] void throw_python_error();

/// The interpreter lock as the task lock of a Python job: each task thread keeps one Python
/// thread state for its life and attaches it for the slices it runs.
class InterpreterLock final : public TaskLock {
 public:
  void lock() override;
  void unlock() override;
};

/// Encodes a Python value: natively for None, bool, int, float, str, bytes, tuples, lists, dicts
/// and Rows of those; with cloudpickle otherwise. `key` makes the encoding canonical for keys
/// (dicts and sets in sorted order of their encoded items, -0.0 as 0.0), so equal keys have
/// equal bytes in every process. Lock held.
void encode(ByteWriter& w, PyObject* value, bool key = false);
/// Decodes what `encode` wrote; a new reference. Lock held. Throws SerdeError on damage.
Object decode(ByteReader& r);
/// A key's bytes (as `encode(..., key=true)`), the key weir routes and stores state by.
std::string key_bytes(PyObject* value);
/// The value of a whole byte string `encode` wrote.
Object decode_all(std::string_view bytes);

/// The Row class of the weir package (set at import: `weir.common.Row`), used to encode rows.
void set_row_class(PyObject* cls);
PyObject* row_class();

}  // namespace weir::python

namespace weir {
template <>
struct Serde<python::Object> {
  static constexpr std::string_view type_name = "python";
  static void write(ByteWriter& w, const python::Object& v);
  static python::Object read(ByteReader& r);
};
}  // namespace weir
