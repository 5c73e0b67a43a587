#pragma once
/// Python exceptions raised in user functions: their traceback text travels through the engine
/// in the job's failure message; the exception object itself is kept so that `execute()` can
/// raise it again (as the cause of the job's failure) in the thread that waits for the job.
#include <Python.h>

#include <string>

namespace weir::python {
class Object;

/// The exception's type, message and traceback, as Python prints them. Lock held.
std::string format_exception(PyObject* exc);
/// Keeps `exc` for `take_exception` (the last few only).
void remember_exception(const std::string& text, const Object& exc);
/// The kept exception whose text the failure message contains; a new reference or nullptr.
PyObject* take_exception(const std::string& message);
/// The raised exception (normalised), taking it from the error indicator; nullptr when none.
PyObject* fetch_exception();
}  // namespace weir::python
