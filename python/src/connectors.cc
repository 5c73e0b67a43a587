// Connectors for Python streams: Kafka, files, number sequences.
#include "bindings.h"

namespace weir::python {

void bind_connectors(nb::module_& m) {}

}  // namespace weir::python
