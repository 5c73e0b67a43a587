// pybind11 variant of the binding-overhead benchmark
#include <pybind11/pybind11.h>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace py = pybind11;

struct Ctx {
    std::vector<py::object> items;
    int64_t timestamp() const {
        return std::chrono::steady_clock::now().time_since_epoch().count();
    }
    void collect(py::object o) { items.push_back(std::move(o)); }
    size_t size() const { return items.size(); }
    void clear() { items.clear(); }
};

// C++ -> Python via the library's own call API
static int64_t call_n(py::function fn, int64_t n) {
    int64_t s = 0;
    for (int64_t i = 0; i < n; ++i)
        s += fn(i).cast<int64_t>();
    return s;
}

// C++ -> Python via raw CPython vectorcall
static int64_t call_n_raw(py::handle fn, int64_t n) {
    PyObject *f = fn.ptr();
    int64_t s = 0;
    for (int64_t i = 0; i < n; ++i) {
        PyObject *arg = PyLong_FromLongLong(i);
        if (!arg) throw py::error_already_set();
        PyObject *r = PyObject_Vectorcall(f, &arg, 1, nullptr);
        Py_DECREF(arg);
        if (!r) throw py::error_already_set();
        long long v = PyLong_AsLongLong(r);
        Py_DECREF(r);
        if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
        s += v;
    }
    return s;
}

// Extra: worker std::thread, GIL re-acquired around every call (task-thread pattern)
static int64_t thread_call_n(py::function fn, int64_t n) {
    int64_t s = 0;
    {
        py::gil_scoped_release rel;
        std::thread t([&] {
            for (int64_t i = 0; i < n; ++i) {
                py::gil_scoped_acquire acq;
                s += fn(i).cast<int64_t>();
            }
        });
        t.join();
    }
    return s;
}

// Extra: same, but GIL held once for the whole batch on the worker thread
static int64_t thread_call_n_batch(py::function fn, int64_t n) {
    int64_t s = 0;
    {
        py::gil_scoped_release rel;
        std::thread t([&] {
            py::gil_scoped_acquire acq;
            for (int64_t i = 0; i < n; ++i)
                s += fn(i).cast<int64_t>();
        });
        t.join();
    }
    return s;
}

// Extra: worker thread keeps one Python thread state alive for its lifetime and
// re-acquires only the GIL per call (typical persistent task-thread pattern)
static int64_t thread_call_n_persist(py::function fn, int64_t n) {
    int64_t s = 0;
    {
        py::gil_scoped_release rel;
        std::thread t([&] {
            py::gil_scoped_acquire outer;       // creates this thread's tstate once
            py::gil_scoped_release idle;        // drop the GIL, keep the tstate
            for (int64_t i = 0; i < n; ++i) {
                py::gil_scoped_acquire acq;     // GIL only
                s += fn(i).cast<int64_t>();
            }
        });
        t.join();
    }
    return s;
}

PYBIND11_MODULE(pbbench, m) {
    m.def("noop", []() {});
    m.def("ident", [](py::object o) { return o; });
    py::class_<Ctx>(m, "Ctx")
        .def(py::init<>())
        .def("timestamp", &Ctx::timestamp)
        .def("collect", &Ctx::collect)
        .def("size", &Ctx::size)
        .def("clear", &Ctx::clear);
    m.def("call_n", &call_n);
    m.def("call_n_raw", &call_n_raw);
    m.def("thread_call_n", &thread_call_n);
    m.def("thread_call_n_batch", &thread_call_n_batch);
    m.def("thread_call_n_persist", &thread_call_n_persist);
}
