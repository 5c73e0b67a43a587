// weir.workspace: the REST API and web UI served from this process (notebooks, scripts).
#include <memory>
#include <string>

#include <nanobind/stl/unique_ptr.h>

#include "bindings.h"
#include "rest/server.h"

namespace weir::python {

void bind_workspace(nb::module_& m) {
  nb::class_<rest::Server>(m, "WorkspaceServer")
      .def_prop_ro("address", &rest::Server::address)
      .def_prop_ro("token", &rest::Server::token)
      .def_prop_ro("url", &rest::Server::url)
      .def("stop", [](rest::Server& s) {
        nb::gil_scoped_release r;
        s.stop();
      });
  m.def(
      "_serve_workspace",
      [](const std::string& bind, const std::string& token, const std::string& web_root) {
        rest::ServerOptions o;
        o.bind = bind;
        o.token = token;
        o.web_root = web_root;
        try {
          return std::make_unique<rest::Server>(rest::local_backend(), o);
        } catch (const std::runtime_error& e) {
          throw nb::value_error(e.what());
        }
      },
      nb::arg("bind"), nb::arg("token") = "", nb::arg("web_root") = "");
}

}  // namespace weir::python
