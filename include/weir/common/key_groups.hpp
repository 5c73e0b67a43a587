#pragma once
/// Key groups: a key's serialised bytes are hashed with a stable hash
/// into one of `max_parallelism` key groups, and subtask i of an operator owns a contiguous
/// range of them. Routing, keyed state and restores at another parallelism all use these.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "weir/serde/serde.hpp"

namespace weir {

/// A stable 64-bit hash of bytes (XXH3), the same on every machine and run. Keys are hashed
/// through their serialised form, never with `std::hash`.
uint64_t stable_hash(const void* data, std::size_t size) noexcept;

namespace detail {

/// Reads 4 / 8 bytes as a little-endian integer (one load on little-endian hosts).
inline uint32_t xxh_read_le32(const unsigned char* p) noexcept {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline uint64_t xxh_read_le64(const unsigned char* p) noexcept {
  return static_cast<uint64_t>(xxh_read_le32(p)) | static_cast<uint64_t>(xxh_read_le32(p + 4)) << 32;
}
inline uint64_t xxh_rotl64(uint64_t v, int r) noexcept { return (v << r) | (v >> (64 - r)); }

/// XXH3_64bits (seed 0, default secret) of 0 to 16 bytes, inline: the same value as
/// `stable_hash` (tests/common compare them), without the call into the library. This is
/// XXH 0.8's short-input path, constants from its default secret.
inline uint64_t xxh3_64_upto16(const void* data, std::size_t len) noexcept {
  // The first 72 bytes of XXH3's default secret, read little-endian where XXH3 reads them.
  constexpr uint64_t kS0to4 = 0x396cfeb8ull ^ 0xbe4ba423ull;                 // LE32 at 0 ^ LE32 at 4
  constexpr uint64_t kS8to16 = 0x1cad21f72c81017cull ^ 0xdb979083e96dd4deull;  // LE64 at 8 ^ 16
  constexpr uint64_t kS24to32 = 0x1f67b3b7a4a44072ull ^ 0x78e5c0cc4ee679cbull;
  constexpr uint64_t kS40to48 = 0x2172ffcc7dd05a82ull ^ 0x8e2443f7744608b8ull;
  constexpr uint64_t kS56to64 = 0x4c263a81e69035e0ull ^ 0xcb00c391bb52283cull;
  constexpr uint64_t kPrime64_2 = 0xC2B2AE3D27D4EB4Full;
  constexpr uint64_t kPrime64_3 = 0x165667B19E3779F9ull;
  const auto* in = static_cast<const unsigned char*>(data);
  const auto xxh64_avalanche = [](uint64_t h) {
    h ^= h >> 33;
    h *= kPrime64_2;
    h ^= h >> 29;
    h *= kPrime64_3;
    h ^= h >> 32;
    return h;
  };
  if (len > 8) {
    const uint64_t lo = xxh_read_le64(in) ^ kS24to32;
    const uint64_t hi = xxh_read_le64(in + len - 8) ^ kS40to48;
    const unsigned __int128 product = static_cast<unsigned __int128>(lo) * hi;
    const uint64_t fold = static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
    uint64_t acc = len + __builtin_bswap64(lo) + hi + fold;
    acc ^= acc >> 37;
    acc *= 0x165667919E3779F9ull;
    acc ^= acc >> 32;
    return acc;
  }
  if (len >= 4) {
    const uint32_t in1 = xxh_read_le32(in);
    const uint32_t in2 = xxh_read_le32(in + len - 4);
    uint64_t h = (static_cast<uint64_t>(in2) + (static_cast<uint64_t>(in1) << 32)) ^ kS8to16;
    h ^= xxh_rotl64(h, 49) ^ xxh_rotl64(h, 24);
    h *= 0x9FB21C651E98DF25ull;
    h ^= (h >> 35) + len;
    h *= 0x9FB21C651E98DF25ull;
    return h ^ (h >> 28);
  }
  if (len > 0) {
    const uint32_t combined = static_cast<uint32_t>(in[0]) << 16 | static_cast<uint32_t>(in[len >> 1]) << 24 |
                              static_cast<uint32_t>(in[len - 1]) | static_cast<uint32_t>(len) << 8;
    return xxh64_avalanche(static_cast<uint64_t>(combined) ^ kS0to4);
  }
  return xxh64_avalanche(kS56to64);
}

}  // namespace detail

/// `stable_hash`, with short inputs (keys of fixed width, short strings) hashed inline.
inline uint64_t stable_hash_inline(const void* data, std::size_t size) noexcept {
  return size <= 16 ? detail::xxh3_64_upto16(data, size) : stable_hash(data, size);
}

/// The stable hash of a key: XXH3 of its serialised bytes (arithmetic and enum keys: their
/// fixed-width little-endian bytes). Strings are hashed without a copy when short.
template <SerdeType K>
uint64_t key_hash(const K& key) {
  if constexpr ((std::is_arithmetic_v<K> || std::is_enum_v<K>) && std::endian::native == std::endian::little) {
    return stable_hash_inline(&key, sizeof(K));  // fixed width, little-endian: every host hashes the same bytes
  } else if constexpr (std::is_same_v<K, std::string>) {
    // The serialised form is varint(size) then the bytes: a short one is built on the stack.
    if (key.size() < 16) {
      unsigned char buf[16];
      buf[0] = static_cast<unsigned char>(key.size());
      if (!key.empty()) std::memcpy(buf + 1, key.data(), key.size());
      return detail::xxh3_64_upto16(buf, key.size() + 1);
    }
    thread_local std::string buf;
    buf.clear();
    serialize_into(buf, key);
    return stable_hash(buf.data(), buf.size());
  } else {
    thread_local std::string buf;
    buf.clear();
    serialize_into(buf, key);
    return stable_hash_inline(buf.data(), buf.size());
  }
}

/// Maps key hashes to key groups (`hash % max_parallelism`) without a division per record:
/// a mask when `max_parallelism` is a power of two (the default, 128), else Lemire's
/// remainder by multiplication, exact for every 64-bit hash and 32-bit divisor.
class KeyGroupMapper {
 public:
  explicit KeyGroupMapper(int max_parallelism)
      : d_(static_cast<uint64_t>(max_parallelism)),
        pow2_(max_parallelism > 0 && (max_parallelism & (max_parallelism - 1)) == 0),
        m_(~static_cast<unsigned __int128>(0) / (max_parallelism > 0 ? d_ : 1) + 1) {}
  int key_group(uint64_t h) const {
    if (pow2_) return static_cast<int>(h & (d_ - 1));
    const unsigned __int128 low = m_ * h;  // modulo 2^128
    // (low * d) >> 128, with d below 2^32
    const uint64_t lo = static_cast<uint64_t>(low), hi = static_cast<uint64_t>(low >> 64);
    const unsigned __int128 t = static_cast<unsigned __int128>(lo) * d_;
    const unsigned __int128 u = static_cast<unsigned __int128>(hi) * d_ + static_cast<uint64_t>(t >> 64);
    return static_cast<int>(static_cast<uint64_t>(u >> 64));
  }
  int max_parallelism() const { return static_cast<int>(d_); }

 private:
  uint64_t d_;
  bool pow2_;
  unsigned __int128 m_;
};

/// The key group (in [0, max_parallelism)) of a key.
template <SerdeType K>
int key_group_of(const K& key, int max_parallelism) {
  const uint64_t h = key_hash(key);
  if ((max_parallelism & (max_parallelism - 1)) == 0) return static_cast<int>(h & static_cast<uint64_t>(max_parallelism - 1));
  return static_cast<int>(h % static_cast<uint64_t>(max_parallelism));
}

/// The subtask that owns a key group: subtask i owns a contiguous range of key groups.
inline int operator_index_for_key_group(int key_group, int max_parallelism, int parallelism) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

}  // namespace weir
