#pragma once
// A state header that reaches up into the API: the layer check must refuse it.
#include "weir/api/job.hpp"
