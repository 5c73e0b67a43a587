#include <xxhash.h>

#include "weir/runtime/partition.hpp"

namespace weir::runtime {

uint64_t stable_hash(const void* data, std::size_t size) noexcept { return XXH3_64bits(data, size); }

}  // namespace weir::runtime
