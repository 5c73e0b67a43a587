#pragma once
/// Key groups: a key's serialised bytes are hashed with a stable hash
/// into one of `max_parallelism` key groups, and subtask i of an operator owns a contiguous
/// range of them. Routing, keyed state and restores at another parallelism all use these.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "weir/serde/serde.hpp"

namespace weir {

/// A stable 64-bit hash of bytes (XXH3), the same on every machine and run. Keys are hashed
/// through their serialised form, never with `std::hash`.
uint64_t stable_hash(const void* data, std::size_t size) noexcept;

/// The key group (in [0, max_parallelism)) of a key.
template <SerdeType K>
int key_group_of(const K& key, int max_parallelism) {
  uint64_t h;
  if constexpr ((std::is_arithmetic_v<K> || std::is_enum_v<K>) && std::endian::native == std::endian::little) {
    h = stable_hash(&key, sizeof(K));  // fixed width, little-endian: every host hashes the same bytes
  } else {
    thread_local std::string buf;
    buf.clear();
    serialize_into(buf, key);
    h = stable_hash(buf.data(), buf.size());
  }
  return static_cast<int>(h % static_cast<uint64_t>(max_parallelism));
}

/// The subtask that owns a key group: subtask i owns a contiguous range of key groups.
inline int operator_index_for_key_group(int key_group, int max_parallelism, int parallelism) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

}  // namespace weir
