#include "object.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "errors.h"

namespace weir::python {

bool interpreter_alive() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() && !Py_IsFinalizing();
#else
  return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

// ---- the interpreter lock as a task lock -------------------------------------------------------

namespace {
struct ThreadAttachment {
  bool created = false;
  PyThreadState* detached = nullptr;  // this thread's state while it does not hold the lock
  // The thread state is not deleted when the thread ends: that would need the lock, which a
  // thread joining this one may hold. The interpreter deletes it when it shuts down.
};
thread_local ThreadAttachment attachment;
}  // namespace

void InterpreterLock::lock() {
  if (!attachment.created) {
    PyGILState_Ensure();  // creates this thread's Python state and takes the lock
    attachment.created = true;
  } else {
    PyEval_RestoreThread(attachment.detached);
    attachment.detached = nullptr;
  }
  t_task_holds_lock = true;
}

void InterpreterLock::unlock() {
  t_task_holds_lock = false;
  attachment.detached = PyEval_SaveThread();
}

// ---- Python errors -----------------------------------------------------------------------------

void throw_python_error() {
  PyObject* exc = fetch_exception();
  if (exc == nullptr) throw PythonError("a Python call failed without an exception");
  Object e = Object::steal(exc);
  std::string text = format_exception(e.get());
  remember_exception(text, e);
  throw PythonError(text);
}

// ---- encoding ----------------------------------------------------------------------------------

namespace {

enum Tag : uint8_t {
  kNone = 0,
  kFalse = 1,
  kTrue = 2,
  kInt = 3,
  kBigInt = 4,
  kFloat = 5,
  kStr = 6,
  kBytes = 7,
  kTuple = 8,
  kList = 9,
  kDict = 10,
  kRow = 11,
  kSet = 12,
  kFrozenSet = 13,
  kPickled = 14,
};

PyObject* g_row_class = nullptr;

PyObject* cloudpickle_fn(const char* name) {
  static PyObject* dumps = nullptr;
  static PyObject* loads = nullptr;
  if (dumps == nullptr) {
    Object mod = Object::steal(PyImport_ImportModule("cloudpickle"));
    if (!mod) throw_python_error();
    dumps = PyObject_GetAttrString(mod.get(), "dumps");
    loads = PyObject_GetAttrString(mod.get(), "loads");
    if (dumps == nullptr || loads == nullptr) throw_python_error();
  }
  return std::strcmp(name, "dumps") == 0 ? dumps : loads;
}

/// An int that fits 64 bits: its tag and zigzag varint.
void write_int(ByteWriter& w, int64_t x) {
  w.write_u8(kInt);
  w.write_varint((static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63));
}

void write_str(ByteWriter& w, PyObject* s) {
  Py_ssize_t n = 0;
  const char* data = PyUnicode_AsUTF8AndSize(s, &n);
  if (data == nullptr) throw_python_error();
  w.write_varint(static_cast<uint64_t>(n));
  w.write_bytes(data, static_cast<std::size_t>(n));
}

void write_items(ByteWriter& w, PyObject* seq, bool key) {
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject** items = PySequence_Fast_ITEMS(seq);
  w.write_varint(static_cast<uint64_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) encode(w, items[i], key);
}

// The elements of a set or the items of a dict, each encoded on its own, in sorted byte order.
void write_sorted(ByteWriter& w, std::vector<std::string>& parts) {
  std::sort(parts.begin(), parts.end());
  w.write_varint(parts.size());
  for (const auto& p : parts) w.write_bytes(p.data(), p.size());
}

void write_pickled(ByteWriter& w, PyObject* v) {
  Object bytes = Object::steal(PyObject_CallOneArg(cloudpickle_fn("dumps"), v));
  if (!bytes) throw_python_error();
  char* data = nullptr;
  Py_ssize_t n = 0;
  if (PyBytes_AsStringAndSize(bytes.get(), &data, &n) != 0) throw_python_error();
  w.write_u8(kPickled);
  w.write_varint(static_cast<uint64_t>(n));
  w.write_bytes(data, static_cast<std::size_t>(n));
}

}  // namespace

void set_row_class(PyObject* cls) {
  Py_XINCREF(cls);
  Py_XDECREF(g_row_class);
  g_row_class = cls;
}
PyObject* row_class() { return g_row_class; }

void encode(ByteWriter& w, PyObject* v, bool key) {
  if (v == Py_None) {
    w.write_u8(kNone);
  } else if (v == Py_False) {
    w.write_u8(kFalse);
  } else if (v == Py_True) {
    w.write_u8(kTrue);
  } else if (PyLong_CheckExact(v)) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0) {
      if (x == -1 && PyErr_Occurred()) throw_python_error();
      write_int(w, x);
    } else {
      Object s = Object::steal(PyObject_Str(v));
      if (!s) throw_python_error();
      w.write_u8(kBigInt);
      write_str(w, s.get());
    }
  } else if (PyFloat_CheckExact(v)) {
    double d = PyFloat_AS_DOUBLE(v);
    if (key && d == 0.0) d = 0.0;  // -0.0 == 0.0 in Python: one key
    w.write_u8(kFloat);
    w.write_fixed(d);
  } else if (PyUnicode_CheckExact(v)) {
    w.write_u8(kStr);
    write_str(w, v);
  } else if (PyBytes_CheckExact(v)) {
    w.write_u8(kBytes);
    w.write_varint(static_cast<uint64_t>(PyBytes_GET_SIZE(v)));
    w.write_bytes(PyBytes_AS_STRING(v), static_cast<std::size_t>(PyBytes_GET_SIZE(v)));
  } else if (PyTuple_CheckExact(v)) {
    w.write_u8(kTuple);
    write_items(w, v, key);
  } else if (PyList_CheckExact(v)) {
    w.write_u8(kList);
    write_items(w, v, key);
  } else if (PyDict_CheckExact(v)) {
    w.write_u8(kDict);
    if (key) {
      std::vector<std::string> parts;
      PyObject *k, *val;
      Py_ssize_t pos = 0;
      while (PyDict_Next(v, &pos, &k, &val)) {
        std::string part;
        ByteWriter pw(part);
        encode(pw, k, true);
        encode(pw, val, true);
        parts.push_back(std::move(part));
      }
      write_sorted(w, parts);
    } else {
      w.write_varint(static_cast<uint64_t>(PyDict_GET_SIZE(v)));
      PyObject *k, *val;
      Py_ssize_t pos = 0;
      while (PyDict_Next(v, &pos, &k, &val)) {
        encode(w, k, false);
        encode(w, val, false);
      }
    }
  } else if (PyAnySet_CheckExact(v)) {
    w.write_u8(PyFrozenSet_CheckExact(v) ? kFrozenSet : kSet);
    std::vector<std::string> parts;
    Object it = Object::steal(PyObject_GetIter(v));
    if (!it) throw_python_error();
    while (PyObject* item = PyIter_Next(it.get())) {
      Object owned = Object::steal(item);
      std::string part;
      ByteWriter pw(part);
      encode(pw, item, true);  // sorted either way: a set's order is not part of its value
      parts.push_back(std::move(part));
    }
    if (PyErr_Occurred()) throw_python_error();
    write_sorted(w, parts);
  } else if (g_row_class != nullptr && Py_TYPE(v) == reinterpret_cast<PyTypeObject*>(g_row_class)) {
    Object values = Object::steal(PyObject_GetAttrString(v, "_values"));
    Object fields = Object::steal(PyObject_GetAttrString(v, "_fields"));
    Object kind = Object::steal(PyObject_GetAttrString(v, "_row_kind_value"));
    if (!values || !fields || !kind) throw_python_error();
    const long k = PyLong_AsLong(kind.get());
    if (k == -1 && PyErr_Occurred()) throw_python_error();
    Object seq = Object::steal(PySequence_Fast(values.get(), "Row values"));
    if (!seq) throw_python_error();
    w.write_u8(kRow);
    w.write_u8(static_cast<uint8_t>(k));
    if (fields.get() == Py_None) {
      w.write_u8(0);
    } else {
      Object fseq = Object::steal(PySequence_Fast(fields.get(), "Row fields"));
      if (!fseq) throw_python_error();
      w.write_u8(1);
      write_items(w, fseq.get(), key);
    }
    write_items(w, seq.get(), key);
  } else {
    write_pickled(w, v);
  }
}

namespace {
Object read_sequence(ByteReader& r, bool tuple) {
  const uint64_t n = r.read_varint();
  if (n > r.remaining()) throw SerdeError("python value: a sequence of " + std::to_string(n) + " items in " +
                                          std::to_string(r.remaining()) + " bytes");
  Object seq = Object::steal(tuple ? PyTuple_New(static_cast<Py_ssize_t>(n)) : PyList_New(static_cast<Py_ssize_t>(n)));
  if (!seq) throw_python_error();
  for (uint64_t i = 0; i < n; ++i) {
    PyObject* item = decode(r).release();
    if (tuple) {
      PyTuple_SET_ITEM(seq.get(), static_cast<Py_ssize_t>(i), item);
    } else {
      PyList_SET_ITEM(seq.get(), static_cast<Py_ssize_t>(i), item);
    }
  }
  return seq;
}

Object read_string(ByteReader& r) {
  const uint64_t n = r.read_varint();
  std::string_view s = r.read_view(n);
  Object o = Object::steal(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict"));
  if (!o) throw_python_error();
  return o;
}
}  // namespace

Object decode(ByteReader& r) {
  const uint8_t tag = r.read_u8();
  switch (tag) {
    case kNone:
      return Object::borrow(Py_None);
    case kFalse:
      return Object::borrow(Py_False);
    case kTrue:
      return Object::borrow(Py_True);
    case kInt: {
      const uint64_t u = r.read_varint();
      const int64_t x = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
      return Object::steal(PyLong_FromLongLong(x));
    }
    case kBigInt: {
      Object s = read_string(r);
      Object o = Object::steal(PyLong_FromUnicodeObject(s.get(), 10));
      if (!o) throw_python_error();
      return o;
    }
    case kFloat:
      return Object::steal(PyFloat_FromDouble(r.read_fixed<double>()));
    case kStr:
      return read_string(r);
    case kBytes: {
      const uint64_t n = r.read_varint();
      std::string_view s = r.read_view(n);
      return Object::steal(PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
    }
    case kTuple:
      return read_sequence(r, true);
    case kList:
      return read_sequence(r, false);
    case kDict: {
      const uint64_t n = r.read_varint();
      Object d = Object::steal(PyDict_New());
      for (uint64_t i = 0; i < n; ++i) {
        Object k = decode(r);
        Object v = decode(r);
        if (PyDict_SetItem(d.get(), k.get(), v.get()) != 0) throw_python_error();
      }
      return d;
    }
    case kSet:
    case kFrozenSet: {
      const uint64_t n = r.read_varint();
      Object s = Object::steal(PySet_New(nullptr));
      for (uint64_t i = 0; i < n; ++i) {
        Object item = decode(r);
        if (PySet_Add(s.get(), item.get()) != 0) throw_python_error();
      }
      if (tag == kFrozenSet) return Object::steal(PyFrozenSet_New(s.get()));
      return s;
    }
    case kRow: {
      const uint8_t kind = r.read_u8();
      Object fields = r.read_u8() == 0 ? Object::borrow(Py_None) : read_sequence(r, false);
      Object values = read_sequence(r, false);
      if (g_row_class == nullptr) throw SerdeError("python value: a Row before weir.common was imported");
      Object made = Object::steal(PyObject_CallMethod(g_row_class, "_of", "OOi", values.get(), fields.get(), int{kind}));
      if (!made) throw_python_error();
      return made;
    }
    case kPickled: {
      const uint64_t n = r.read_varint();
      std::string_view s = r.read_view(n);
      Object bytes = Object::steal(PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
      Object v = Object::steal(PyObject_CallOneArg(cloudpickle_fn("loads"), bytes.get()));
      if (!v) throw_python_error();
      return v;
    }
    default:
      throw SerdeError("python value: unknown tag " + std::to_string(tag) + " (damaged bytes or another format)");
  }
}

std::string key_bytes(PyObject* value) {
  if (PyLong_CheckExact(value)) {  // the common key, without the general encoder's type tests
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow == 0 && !(x == -1 && PyErr_Occurred())) {
      std::string out;  // at most 11 bytes: no allocation
      ByteWriter w(out);
      write_int(w, x);
      return out;
    }
    PyErr_Clear();
  }
  std::string out;
  ByteWriter w(out);
  encode(w, value, true);
  return out;
}

Object decode_all(std::string_view bytes) {
  ByteReader r(bytes);
  Object o = decode(r);
  if (!r.at_end()) throw SerdeError("python value: " + std::to_string(r.remaining()) + " trailing bytes");
  return o;
}

}  // namespace weir::python

namespace weir {
void Serde<python::Object>::write(ByteWriter& w, const python::Object& v) {
  python::GilGuard g;
  python::encode(w, v.get() != nullptr ? v.get() : Py_None, false);
}
python::Object Serde<python::Object>::read(ByteReader& r) {
  python::GilGuard g;
  return python::decode(r);
}
}  // namespace weir
