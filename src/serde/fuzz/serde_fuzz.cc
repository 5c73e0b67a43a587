// libFuzzer target for weir serde: decodes arbitrary bytes as a few nested types. Decoding may
// only fail with SerdeError; anything that decodes must re-encode to the same bytes (or, for
// unordered containers, to bytes that decode to an equal value) and must render with to_text.
//
// The first input byte picks the type; the rest is the encoded value.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "weir/serde/serde.hpp"
#include "weir/serde/text.hpp"

namespace weir_fuzz {

enum class Kind : uint8_t { Quote, Trade, Cancel };

struct Leg {
  std::map<int8_t, std::string> notes;
  std::tuple<char, uint64_t> code;
  bool operator==(const Leg&) const = default;
};
WEIR_SERDE(Leg, notes, code);

struct Order {
  int64_t id;
  std::string symbol;
  bool active;
  Kind kind;
  std::optional<std::pair<int16_t, float>> limit;
  std::set<int32_t> tags;
  std::array<uint8_t, 3> venue;
  std::chrono::milliseconds ttl;
  std::chrono::system_clock::time_point placed;
  std::vector<Leg> legs;
  std::u16string label;
  std::vector<bool> flags;
};
WEIR_SERDE(Order, id, symbol, active, kind, limit, tags, venue, ttl, placed, legs, label, flags);

struct Tree {
  std::string label;
  std::vector<Tree> children;
  bool operator==(const Tree&) const = default;
};
WEIR_SERDE(Tree, label, children);

using Tuple = std::tuple<int64_t, std::string, std::vector<std::optional<double>>,
                         std::map<std::string, std::vector<int32_t>>>;
using Unordered = std::unordered_map<std::string, std::unordered_set<int64_t>>;
using Mixed = std::pair<std::vector<std::array<double, 2>>,
                        std::optional<std::map<uint32_t, std::tuple<std::chrono::nanoseconds, bool>>>>;

/// Decodes `bytes` as T; if that succeeds, checks that encoding reproduces `bytes` exactly.
template <class T>
void CheckCanonical(std::string_view bytes) {
  T value;
  try {
    value = weir::deserialize<T>(bytes);
  } catch (const weir::SerdeError&) {
    return;
  }
  if (weir::serialize(value) != bytes) __builtin_trap();
  (void)weir::to_text(value);
}

/// For types whose encoding follows an unspecified iteration order: checks that the re-encoded
/// bytes decode to an equal value.
template <class T>
void CheckValue(std::string_view bytes) {
  T value;
  try {
    value = weir::deserialize<T>(bytes);
  } catch (const weir::SerdeError&) {
    return;
  }
  const std::string again = weir::serialize(value);
  if (again.size() != bytes.size()) __builtin_trap();
  if (!(weir::deserialize<T>(again) == value)) __builtin_trap();
  (void)weir::to_text(value);
}

}  // namespace weir_fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir_fuzz;
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: CheckCanonical<Tuple>(bytes); break;
    case 1: CheckCanonical<Order>(bytes); break;
    case 2: CheckCanonical<Tree>(bytes); break;
    case 3: CheckCanonical<Mixed>(bytes); break;
    case 4: CheckValue<Unordered>(bytes); break;
  }
  return 0;
}
