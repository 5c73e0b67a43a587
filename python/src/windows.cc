// Windows for Python streams: assigners, triggers, window functions.
#include "bindings.h"

namespace weir::python {

void bind_windows(nb::module_& m) {}

}  // namespace weir::python
