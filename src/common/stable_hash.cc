#include <xxhash.h>

#include "weir/common/key_groups.hpp"

namespace weir {

uint64_t stable_hash(const void* data, std::size_t size) noexcept { return XXH3_64bits(data, size); }

}  // namespace weir
