// The inline key hash and key-group mapping are the same function as before: XXH3 of the key's
// serialised bytes (fixed-width little-endian bytes for arithmetic keys) modulo the maximum
// parallelism. Compared against the library's XXH3 (`stable_hash`) and a plain `%`, so key
// groups of savepoints written before still map to the same subtasks.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "weir/weir.hpp"

namespace {

struct Point {
  int32_t x;
  std::string name;
  bool operator==(const Point&) const = default;
};
WEIR_SERDE(Point, x, name)

/// Key groups as they were computed before the inline hash: XXH3 of the bytes, then `%`.
template <class K>
uint64_t reference_hash(const K& key) {
  if constexpr (std::is_arithmetic_v<K>) {
    return weir::stable_hash(&key, sizeof(K));
  } else {
    const std::string bytes = weir::serialize(key);
    return weir::stable_hash(bytes.data(), bytes.size());
  }
}

TEST(KeyHash, InlineXxh3EqualsTheLibraryForEveryShortLength) {
  std::mt19937_64 rng(7);
  unsigned char buf[16];
  for (std::size_t len = 0; len <= 16; ++len) {
    for (int i = 0; i < 20000; ++i) {
      for (auto& b : buf) b = static_cast<unsigned char>(rng());
      ASSERT_EQ(weir::detail::xxh3_64_upto16(buf, len), weir::stable_hash(buf, len)) << "length " << len;
      ASSERT_EQ(weir::stable_hash_inline(buf, len), weir::stable_hash(buf, len));
    }
  }
  std::string longer(100, 'x');
  EXPECT_EQ(weir::stable_hash_inline(longer.data(), longer.size()), weir::stable_hash(longer.data(), longer.size()));
}

TEST(KeyHash, KeyHashEqualsTheHashOfTheSerialisedKey) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t r = rng();
    EXPECT_EQ(weir::key_hash(static_cast<int64_t>(r)), reference_hash(static_cast<int64_t>(r)));
    EXPECT_EQ(weir::key_hash(static_cast<int32_t>(r)), reference_hash(static_cast<int32_t>(r)));
    EXPECT_EQ(weir::key_hash(static_cast<uint16_t>(r)), reference_hash(static_cast<uint16_t>(r)));
    EXPECT_EQ(weir::key_hash(static_cast<char>(r)), reference_hash(static_cast<char>(r)));
    EXPECT_EQ(weir::key_hash(static_cast<double>(r)), reference_hash(static_cast<double>(r)));
    // Strings of every length around the inline limit (the varint length byte included).
    std::string s(static_cast<std::size_t>(r % 40), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    ASSERT_EQ(weir::key_hash(s), reference_hash(s)) << "string of " << s.size() << " bytes";
    const auto t = std::make_tuple(static_cast<int64_t>(r), s);
    EXPECT_EQ(weir::key_hash(t), reference_hash(t));
    const auto p = std::make_pair(static_cast<int32_t>(r), static_cast<int32_t>(r >> 32));
    EXPECT_EQ(weir::key_hash(p), reference_hash(p));
    const Point pt{static_cast<int32_t>(r), s};
    EXPECT_EQ(weir::key_hash(pt), reference_hash(pt));
  }
  EXPECT_EQ(weir::key_hash(std::string()), reference_hash(std::string()));
  EXPECT_EQ(weir::key_hash(std::string(200, 'k')), reference_hash(std::string(200, 'k')));
}

TEST(KeyHash, MapperEqualsModulo) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> hashes{0, 1, 2, 127, 128, 129, std::numeric_limits<uint64_t>::max(),
                               std::numeric_limits<uint64_t>::max() - 1, uint64_t{1} << 63, (uint64_t{1} << 63) - 1};
  for (int i = 0; i < 100000; ++i) hashes.push_back(rng());
  for (int m : {1, 2, 3, 5, 7, 10, 100, 127, 128, 129, 1000, 4096, 10007, 32767, 32768}) {
    const weir::KeyGroupMapper mapper(m);
    for (uint64_t h : hashes) {
      ASSERT_EQ(mapper.key_group(h), static_cast<int>(h % static_cast<uint64_t>(m))) << "max parallelism " << m << ", hash " << h;
    }
  }
}

TEST(KeyHash, KeyGroupOfAndTheHashSelectorRouteAsBefore) {
  for (int m : {1, 7, 128, 1000, 32768}) {
    for (int n : {1, 2, 3, 4, 7}) {
      if (n > m) continue;
      auto key = [](const int64_t& v) { return v; };
      weir::runtime::KeyGroupSelector<decltype(key)> sel(key, m);
      for (int64_t k = -5000; k < 5000; ++k) {
        const int kg = static_cast<int>(reference_hash(k) % static_cast<uint64_t>(m));
        ASSERT_EQ(weir::key_group_of(k, m), kg);
        ASSERT_EQ(sel.select(k, n), weir::operator_index_for_key_group(kg, m, n)) << "key " << k;
      }
    }
  }
}

}  // namespace
