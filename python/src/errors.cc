#include "errors.h"

#include <deque>
#include <mutex>
#include <utility>

#include "object.h"

namespace weir::python {

PyObject* fetch_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (type == nullptr) return nullptr;
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
#endif
}

std::string format_exception(PyObject* exc) {
  Object mod = Object::steal(PyImport_ImportModule("traceback"));
  Object lines = mod ? Object::steal(PyObject_CallMethod(mod.get(), "format_exception", "O", exc)) : Object();
  Object sep = Object::steal(PyUnicode_FromString(""));
  Object text = lines ? Object::steal(PyUnicode_Join(sep.get(), lines.get())) : Object();
  const char* s = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
  if (s == nullptr) {
    PyErr_Clear();
    Object str = Object::steal(PyObject_Str(exc));
    const char* t = str ? PyUnicode_AsUTF8(str.get()) : nullptr;
    if (t == nullptr) PyErr_Clear();
    return std::string(Py_TYPE(exc)->tp_name) + ": " + (t != nullptr ? t : "(unprintable)");
  }
  std::string out(s);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {
std::mutex g_mu;
std::deque<std::pair<std::string, Object>> g_kept;  // guarded by g_mu
}  // namespace

void remember_exception(const std::string& text, const Object& exc) {
  std::lock_guard lock(g_mu);
  g_kept.emplace_back(text, exc);
  while (g_kept.size() > 16) g_kept.pop_front();
}

PyObject* take_exception(const std::string& message) {
  std::lock_guard lock(g_mu);
  for (auto it = g_kept.rbegin(); it != g_kept.rend(); ++it) {
    if (message.find(it->first) != std::string::npos) {
      PyObject* e = it->second.get();
      Py_INCREF(e);
      return e;
    }
  }
  return nullptr;
}

}  // namespace weir::python
