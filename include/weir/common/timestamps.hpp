#pragma once
/// Event time values: timestamps and watermarks are int64 milliseconds since the epoch.
#include <cstdint>
#include <limits>

namespace weir {

/// A record without an event timestamp carries this value.
inline constexpr int64_t kNoTimestamp = std::numeric_limits<int64_t>::min();
/// The watermark that ends event time: every window and timer fires before it.
inline constexpr int64_t kMaxWatermark = std::numeric_limits<int64_t>::max();

}  // namespace weir
