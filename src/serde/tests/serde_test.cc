#include "weir/serde/serde.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "weir/serde/text.hpp"

// ---------------------------------------------------------------------------------------------
// Allocation probe: records the largest single operator new request, so tests can prove that a
// corrupt length prefix does not turn into a huge allocation.
// ---------------------------------------------------------------------------------------------

namespace {
std::atomic<std::size_t> g_largest_allocation{0};
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t n) {
  std::size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

/// Resets the probe on construction; largest() is the biggest allocation since then.
class AllocationProbe {
 public:
  AllocationProbe() { g_largest_allocation.store(0); }
  std::size_t largest() const { return g_largest_allocation.load(); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Test types
// ---------------------------------------------------------------------------------------------

namespace trading {

enum class Side : uint8_t { Buy, Sell };

struct Trade {
  int64_t id = 0;
  std::string symbol;
  double price = 0;
  Side side = Side::Buy;
  std::optional<std::string> venue;
  std::vector<int32_t> fills;
  bool operator==(const Trade&) const = default;
};
WEIR_SERDE(Trade, id, symbol, price, side, venue, fills);

struct Book {
  std::string name;
  std::map<std::string, std::vector<Trade>> by_symbol;
  std::chrono::milliseconds window{0};
  std::chrono::system_clock::time_point opened{};
  std::set<int64_t> halted;
  std::array<uint16_t, 3> levels{};
  bool operator==(const Book&) const = default;
};
WEIR_SERDE(Book, name, by_symbol, window, opened, halted, levels);

/// Has both WEIR_SERDE and operator<<; to_text must use operator<<.
struct Tagged {
  int32_t x = 0;
  bool operator==(const Tagged&) const = default;
};
WEIR_SERDE(Tagged, x);
std::ostream& operator<<(std::ostream& os, const Tagged& t) { return os << "Tagged<" << t.x << ">"; }

/// A recursive type: a tree of labelled nodes.
struct TreeNode {
  std::string label;
  std::vector<TreeNode> children;
  bool operator==(const TreeNode&) const = default;
};
WEIR_SERDE(TreeNode, label, children);

}  // namespace trading

struct GlobalPoint {
  int32_t x = 0;
  int32_t y = 0;
  bool operator==(const GlobalPoint&) const = default;
};
WEIR_SERDE(GlobalPoint, x, y);

/// Inherits GlobalPoint's fields but has no macro of its own: must not silently use the base's.
struct UndescribedPoint3 : GlobalPoint {
  int32_t z = 0;
};

/// Lists inherited fields explicitly.
struct Point3 : GlobalPoint {
  int32_t z = 0;
  bool operator==(const Point3&) const = default;
};
WEIR_SERDE(Point3, x, y, z);

struct Wide40 {
  int32_t f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16, f17, f18,
      f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31, f32, f33, f34, f35, f36, f37, f38,
      f39;
  bool operator==(const Wide40&) const = default;
};
WEIR_SERDE(Wide40, f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16,
           f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31, f32, f33, f34, f35,
           f36, f37, f38, f39);

struct NoSerde {
  int x;
};
enum UnfixedEnum { kUnfixedA, kUnfixedB };
enum FixedLevel : uint8_t { kLow = 1, kHigh = 200 };
enum class Color : int16_t { Red = -1, Green = 0, Blue = 1 };
enum class Named : char { Alpha = 'a' };
std::ostream& operator<<(std::ostream& os, Named) { return os << "Alpha"; }

namespace {

using weir::ByteReader;
using weir::ByteWriter;
using weir::deserialize;
using weir::serialize;
using weir::SerdeError;
using weir::to_text;

template <class T>
void ExpectRoundTrip(const T& v) {
  const std::string bytes = serialize(v);
  EXPECT_EQ(deserialize<T>(bytes), v) << "bytes: " << bytes.size();
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

std::string Varint(uint64_t v) {
  std::string s;
  ByteWriter(s).write_varint(v);
  return s;
}

/// Expects `f` to throw SerdeError whose message contains `fragment`.
template <class F>
void ExpectSerdeError(F&& f, std::string_view fragment) {
  try {
    f();
    ADD_FAILURE() << "expected SerdeError containing \"" << fragment << "\"";
  } catch (const SerdeError& e) {
    EXPECT_NE(std::string_view(e.what()).find(fragment), std::string_view::npos) << e.what();
  }
}

trading::Trade SampleTrade(int64_t id) {
  return trading::Trade{id, "SYM" + std::to_string(id), 100.25 + static_cast<double>(id),
                        id % 2 ? trading::Side::Sell : trading::Side::Buy,
                        id % 3 ? std::optional<std::string>("XNAS") : std::nullopt,
                        {static_cast<int32_t>(id), -7, 1 << 30}};
}

trading::Book SampleBook() {
  trading::Book b;
  b.name = "equities";
  b.by_symbol["AAPL"] = {SampleTrade(1), SampleTrade(2)};
  b.by_symbol["MSFT"] = {SampleTrade(3)};
  b.by_symbol["NONE"] = {};
  b.window = std::chrono::milliseconds(250);
  b.opened = std::chrono::system_clock::time_point(std::chrono::seconds(1709294400));
  b.halted = {-5, 0, 42};
  b.levels = {1, 2, 65535};
  return b;
}

using Nested = std::tuple<trading::Trade, std::map<std::string, std::vector<std::optional<double>>>,
                          std::vector<std::string>, trading::Book, std::pair<GlobalPoint, std::array<int8_t, 2>>>;

Nested SampleNested() {
  return Nested{SampleTrade(7),
                {{"a", {1.5, std::nullopt, -0.0}}, {"b", {}}},
                {"", "x", std::string(300, 'z')},
                SampleBook(),
                {GlobalPoint{-1, 2}, {-128, 127}}};
}

// ---------------------------------------------------------------------------------------------
// Compile-time properties
// ---------------------------------------------------------------------------------------------

static_assert(weir::SerdeType<int64_t>);
static_assert(weir::SerdeType<std::vector<std::map<std::string, trading::Trade>>>);
static_assert(weir::SerdeType<trading::TreeNode>);
static_assert(!weir::SerdeType<NoSerde>);
static_assert(!weir::SerdeType<std::vector<NoSerde>>);
static_assert(!weir::SerdeType<std::optional<std::pair<int, NoSerde>>>);
static_assert(!weir::SerdeType<long double>);
static_assert(!weir::SerdeType<UnfixedEnum>);
static_assert(weir::SerdeType<FixedLevel>);
static_assert(!weir::SerdeType<std::chrono::steady_clock::time_point>);
static_assert(weir::has_serde_fields<trading::Trade>);
static_assert(weir::has_serde_fields<const GlobalPoint>);
static_assert(!weir::has_serde_fields<UndescribedPoint3>);
static_assert(!weir::has_serde_fields<NoSerde>);
static_assert(weir::serde_min_encoded_size<int64_t> == 8);
static_assert(weir::serde_min_encoded_size<std::string> == 1);
static_assert(weir::serde_min_encoded_size<trading::Trade> == 8 + 1 + 8 + 1 + 1 + 1);
static_assert(weir::serde_min_encoded_size<std::array<int32_t, 4>> == 16);
static_assert(weir::serde_type_name<trading::Trade>() == "Trade");
static_assert(!std::is_constructible_v<ByteReader, std::string&&>);

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

template <class T>
class SerdeIntegers : public ::testing::Test {};
using IntegerTypes =
    ::testing::Types<int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t, char,
                     signed char, unsigned char, wchar_t, char8_t, char16_t, char32_t, long, unsigned long,
                     long long, unsigned long long>;
TYPED_TEST_SUITE(SerdeIntegers, IntegerTypes);

TYPED_TEST(SerdeIntegers, RoundTripAtTheirLimitsInFixedWidth) {
  using T = TypeParam;
  for (T v : {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), T{0}, T{1}, T{42}}) {
    const std::string bytes = serialize(v);
    EXPECT_EQ(bytes.size(), sizeof(T));
    EXPECT_EQ(deserialize<T>(bytes), v);
  }
}

TEST(Serde, Int64IsEightLittleEndianBytes) {
  EXPECT_EQ(serialize(int64_t{0x0102030405060708}), Bytes({8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(serialize(int64_t{-1}), std::string(8, '\xff'));
  EXPECT_EQ(serialize(uint16_t{0xABCD}), Bytes({0xCD, 0xAB}));
}

TEST(Serde, BoolRoundTripsAsOneByteAndRejectsOtherBytes) {
  EXPECT_EQ(serialize(true), Bytes({1}));
  EXPECT_EQ(serialize(false), Bytes({0}));
  ExpectRoundTrip(true);
  ExpectRoundTrip(false);
  ExpectSerdeError([] { deserialize<bool>(Bytes({2})); }, "bool byte 2 is neither 0 nor 1 at offset 0");
}

TEST(Serde, FloatingPointRoundTripsBitExactIncludingNanAndNegativeZero) {
  const double nan_with_payload = std::bit_cast<double>(uint64_t{0x7ff8000000abcdef});
  for (double v : {0.0, -0.0, 1.5, -1e308, std::numeric_limits<double>::denorm_min(),
                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                   nan_with_payload}) {
    EXPECT_EQ(std::bit_cast<uint64_t>(deserialize<double>(serialize(v))), std::bit_cast<uint64_t>(v));
  }
  for (float v : {0.0f, -0.0f, 0.1f, std::numeric_limits<float>::max(), std::numeric_limits<float>::quiet_NaN()}) {
    EXPECT_EQ(std::bit_cast<uint32_t>(deserialize<float>(serialize(v))), std::bit_cast<uint32_t>(v));
  }
  EXPECT_EQ(serialize(1.0), Bytes({0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));
}

TEST(Serde, StringsRoundTripIncludingEmptyAndEmbeddedNul) {
  ExpectRoundTrip(std::string());
  ExpectRoundTrip(std::string("hello"));
  ExpectRoundTrip(std::string("a\0b\xff", 4));
  ExpectRoundTrip(std::string(100000, 'q'));
  ExpectRoundTrip(std::u16string(u"h\u00e9llo"));
  ExpectRoundTrip(std::u32string(U"\U0001F600"));
  EXPECT_EQ(serialize(std::string("hi")), Bytes({2, 'h', 'i'}));
}

TEST(Serde, VectorsOfArithmeticAreOneLengthThenRawElements) {
  const std::vector<int64_t> v{1, -2, 3};
  const std::string bytes = serialize(v);
  EXPECT_EQ(bytes.size(), 1 + 3 * 8);
  EXPECT_EQ(bytes.substr(0, 9), Bytes({3, 1, 0, 0, 0, 0, 0, 0, 0}));
  ExpectRoundTrip(v);
  ExpectRoundTrip(std::vector<double>{1.5, -2.25});
  ExpectRoundTrip(std::vector<uint8_t>{});
  ExpectRoundTrip(std::vector<char>{'a', 'b'});
}

TEST(Serde, VectorOfBoolRoundTripsAndValidatesEachByte) {
  ExpectRoundTrip(std::vector<bool>{true, false, true, true});
  ExpectRoundTrip(std::vector<bool>{});
  ExpectSerdeError([] { deserialize<std::vector<bool>>(Bytes({2, 1, 7})); }, "neither 0 nor 1 at offset 2");
}

TEST(Serde, PairsTuplesAndArraysRoundTrip) {
  ExpectRoundTrip(std::pair<int32_t, std::string>{7, "seven"});
  ExpectRoundTrip(std::tuple<>{});
  ExpectRoundTrip(std::tuple<int8_t, double, std::string, bool>{-1, 2.5, "x", true});
  ExpectRoundTrip(std::array<int64_t, 3>{1, 2, 3});
  ExpectRoundTrip(std::array<std::string, 2>{"a", ""});
  ExpectRoundTrip(std::array<bool, 2>{true, false});
  EXPECT_EQ(serialize(std::array<int16_t, 2>{1, 2}), Bytes({1, 0, 2, 0}));
  EXPECT_EQ(serialize(std::tuple<>{}), "");
}

TEST(Serde, OptionalsRoundTripAndRejectBadTags) {
  ExpectRoundTrip(std::optional<int32_t>{});
  ExpectRoundTrip(std::optional<int32_t>{5});
  ExpectRoundTrip(std::optional<std::optional<std::string>>{std::optional<std::string>{}});
  EXPECT_EQ(serialize(std::optional<int8_t>{}), Bytes({0}));
  EXPECT_EQ(serialize(std::optional<int8_t>{9}), Bytes({1, 9}));
  ExpectSerdeError([] { deserialize<std::optional<int8_t>>(Bytes({2, 9})); }, "optional tag 2 is neither 0 nor 1");
}

TEST(Serde, VariantsRoundTripKeepTheAlternativeAndRejectBadIndexes) {
  // Two alternatives of the same type stay apart (a join's left and right records).
  using LR = std::variant<int64_t, int64_t>;
  const LR left(std::in_place_index<0>, 7), right(std::in_place_index<1>, 7);
  ExpectRoundTrip(left);
  ExpectRoundTrip(right);
  EXPECT_NE(serialize(left), serialize(right));
  EXPECT_EQ(deserialize<LR>(serialize(right)).index(), 1u);
  ExpectRoundTrip(std::variant<std::string, std::vector<int32_t>>{std::vector<int32_t>{1, 2}});
  ExpectRoundTrip(std::variant<std::string, std::vector<int32_t>>{std::string("x")});
  EXPECT_EQ(serialize(std::variant<int8_t, std::string>{int8_t{9}}), Bytes({0, 9}));
  ExpectSerdeError([] { deserialize<std::variant<int8_t, int8_t>>(Bytes({2, 9})); }, "variant index 2 is not below 2");
}

TEST(Serde, MapsAndSetsRoundTrip) {
  ExpectRoundTrip(std::map<std::string, int32_t>{{"a", 1}, {"b", 2}});
  ExpectRoundTrip(std::map<int64_t, std::vector<std::string>>{});
  ExpectRoundTrip(std::map<int32_t, int32_t, std::greater<>>{{1, 10}, {2, 20}, {3, 30}});
  ExpectRoundTrip(std::set<std::string>{"x", "y", ""});
  ExpectRoundTrip(std::unordered_map<std::string, int64_t>{{"a", 1}, {"b", 2}, {"c", 3}});
  ExpectRoundTrip(std::unordered_set<int32_t>{4, 5, 6});
}

TEST(Serde, OrderedMapRejectsDuplicateOrUnsortedKeys) {
  // count 2, key "b" -> 1, key "a" -> 2 (each value one int8)
  ExpectSerdeError([] { deserialize<std::map<std::string, int8_t>>(Bytes({2, 1, 'b', 1, 1, 'a', 2})); },
                   "map keys are not strictly increasing at offset 4");
  ExpectSerdeError([] { deserialize<std::map<std::string, int8_t>>(Bytes({2, 1, 'a', 1, 1, 'a', 2})); },
                   "not strictly increasing");
  ExpectSerdeError([] { deserialize<std::set<int8_t>>(Bytes({2, 5, 5})); }, "set elements are not strictly increasing");
}

TEST(Serde, UnorderedContainersRejectDuplicates) {
  ExpectSerdeError([] { deserialize<std::unordered_map<int8_t, int8_t>>(Bytes({2, 1, 1, 1, 2})); },
                   "duplicate map key at offset 3");
  ExpectSerdeError([] { deserialize<std::unordered_set<int8_t>>(Bytes({2, 3, 3})); }, "duplicate set element");
}

TEST(Serde, DurationsAndSystemTimePointsRoundTripAsTickCounts) {
  using namespace std::chrono;
  ExpectRoundTrip(milliseconds(250));
  ExpectRoundTrip(nanoseconds(-1));
  ExpectRoundTrip(duration<double>(1.5));
  ExpectRoundTrip(system_clock::time_point(nanoseconds(1709294400123456789)));
  ExpectRoundTrip(time_point<system_clock, seconds>(seconds(-86400)));
  EXPECT_EQ(serialize(milliseconds(250)), serialize(int64_t{250}));
}

TEST(Serde, EnumsRoundTripByUnderlyingTypeIncludingUnnamedValues) {
  ExpectRoundTrip(Color::Red);
  ExpectRoundTrip(static_cast<Color>(999));
  ExpectRoundTrip(kHigh);
  EXPECT_EQ(serialize(Color::Red), Bytes({0xff, 0xff}));
  EXPECT_EQ(serialize(trading::Side::Sell), Bytes({1}));
}

TEST(Serde, NestedCombinationsRoundTrip) {
  ExpectRoundTrip(SampleNested());
  ExpectRoundTrip(std::vector<std::map<std::string, std::optional<std::vector<std::pair<int, double>>>>>{
      {{"k", std::nullopt}, {"l", std::vector<std::pair<int, double>>{{1, 2.0}}}}, {}});
  ExpectRoundTrip(std::optional<std::tuple<std::set<int>, std::array<std::optional<bool>, 2>>>{
      std::tuple<std::set<int>, std::array<std::optional<bool>, 2>>{{1, 2}, {true, std::nullopt}}});
}

// ---------------------------------------------------------------------------------------------
// WEIR_SERDE structs
// ---------------------------------------------------------------------------------------------

TEST(Serde, StructInUserNamespaceRoundTripsFieldsInMacroOrder) {
  const trading::Trade t = SampleTrade(5);
  ExpectRoundTrip(t);
  std::string expected;
  weir::serialize_into(expected, t.id);
  weir::serialize_into(expected, t.symbol);
  weir::serialize_into(expected, t.price);
  weir::serialize_into(expected, t.side);
  weir::serialize_into(expected, t.venue);
  weir::serialize_into(expected, t.fills);
  EXPECT_EQ(serialize(t), expected);
  ExpectRoundTrip(SampleBook());
}

TEST(Serde, StructInGlobalNamespaceRoundTrips) {
  ExpectRoundTrip(GlobalPoint{3, -4});
  EXPECT_EQ(serialize(GlobalPoint{1, 2}), Bytes({1, 0, 0, 0, 2, 0, 0, 0}));
  ExpectRoundTrip(Point3{{5, 6}, 7});
}

TEST(Serde, StructWithFortyFieldsRoundTrips) {
  Wide40 w{};
  int32_t i = 0;
  weir::for_each_field(w, [&](std::string_view, int32_t& f) { f = i++ * 1000; });
  EXPECT_EQ(w.f39, 39000);
  ExpectRoundTrip(w);
  EXPECT_EQ(serialize(w).size(), 40 * 4);
  EXPECT_EQ(weir::serde_field_names<Wide40>()[39], "f39");
}

TEST(Serde, RecursiveStructRoundTrips) {
  trading::TreeNode root{"root", {{"a", {}}, {"b", {{"b1", {}}, {"b2", {}}}}}};
  ExpectRoundTrip(root);
}

TEST(Serde, DeeplyNestedRecursiveInputIsRejectedBeforeTheStackOverflows) {
  trading::TreeNode ok{"0", {}};
  for (std::size_t i = 1; i < ByteReader::kMaxNestingDepth; ++i) ok = trading::TreeNode{"", {std::move(ok)}};
  ExpectRoundTrip(ok);

  // Each level is "empty label, one child"; a million levels would overflow any stack.
  std::string hostile;
  for (int i = 0; i < 1000000; ++i) hostile += Bytes({0, 1});
  hostile += Bytes({0, 0});
  ExpectSerdeError([&] { deserialize<trading::TreeNode>(hostile); }, "nesting deeper than 256 levels at offset 512");
}

TEST(Serde, ForEachFieldVisitsNamesAndValuesInMacroOrder) {
  const GlobalPoint p{10, 20};
  std::vector<std::pair<std::string, int32_t>> seen;
  weir::for_each_field(p, [&](std::string_view name, const auto& value) { seen.emplace_back(name, value); });
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int32_t>>{{"x", 10}, {"y", 20}}));

  std::vector<std::string> names;
  weir::for_each_field(SampleTrade(1), [&](std::string_view name, const auto&) { names.emplace_back(name); });
  EXPECT_EQ(names, (std::vector<std::string>{"id", "symbol", "price", "side", "venue", "fills"}));
}

TEST(Serde, SerdeTypeNameIsTheNameWrittenInTheMacro) {
  EXPECT_EQ(weir::serde_type_name<trading::Trade>(), "Trade");
  EXPECT_EQ(weir::serde_type_name<GlobalPoint>(), "GlobalPoint");
  EXPECT_EQ(weir::serde_field_names<GlobalPoint>(), (std::array<std::string_view, 2>{"x", "y"}));
}

// ---------------------------------------------------------------------------------------------
// Varints and the reader
// ---------------------------------------------------------------------------------------------

TEST(Serde, VarintsRoundTripAcrossEveryWidth) {
  std::string buf;
  ByteWriter w(buf);
  std::vector<uint64_t> values{0, 1, 127, 128, 255, 300, 16383, 16384, std::numeric_limits<uint64_t>::max()};
  for (int shift = 0; shift < 64; ++shift) values.push_back((uint64_t{1} << shift) - 1);
  for (uint64_t v : values) w.write_varint(v);
  ByteReader r(buf);
  for (uint64_t v : values) EXPECT_EQ(r.read_varint(), v);
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(Varint(300), Bytes({0xAC, 0x02}));
  EXPECT_EQ(Varint(std::numeric_limits<uint64_t>::max()).size(), 10);
}

TEST(Serde, VarintRejectsOverflowOverlongAndNonCanonicalEncodings) {
  const auto read = [](const std::string& s) {
    ByteReader r(s);
    return r.read_varint();
  };
  ExpectSerdeError([&] { read(Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})); },
                   "varint overflows 64 bits at offset 0");
  ExpectSerdeError([&] { read(Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})); },
                   "varint overflows 64 bits");
  ExpectSerdeError([&] { read(Bytes({0x80, 0x00})); }, "non-canonical varint");
  ExpectSerdeError([&] { read(Bytes({0xff, 0x80})); }, "unterminated varint at offset 0 (2 bytes left)");
  ExpectSerdeError([&] { read(""); }, "unterminated varint");
}

TEST(Serde, TruncationErrorsNameTheOffsetAndByteCounts) {
  ExpectSerdeError([] { deserialize<int64_t>("abc"); }, "truncated input: need 8 bytes at offset 0, 3 left");
  ExpectSerdeError([] { deserialize<std::pair<int32_t, int64_t>>(std::string(7, '\0')); },
                   "truncated input: need 8 bytes at offset 4, 3 left");
  ExpectSerdeError([] { deserialize<std::string>(Bytes({5, 'a'})); }, "corrupt length: 5 elements");
}

TEST(Serde, ReaderTracksOffsetAndRemaining) {
  const std::string bytes = serialize(std::tuple<int32_t, std::string>{1, "ab"});
  ByteReader r(bytes);
  EXPECT_EQ(r.read_fixed<int32_t>(), 1);
  EXPECT_EQ(r.offset(), 4);
  EXPECT_EQ(r.remaining(), 3);
  EXPECT_EQ(r.read_length(), 2);
  EXPECT_EQ(r.read_view(2), "ab");
  EXPECT_TRUE(r.at_end());
  EXPECT_THROW(r.read_u8(), SerdeError);
  ByteReader empty(nullptr, 0);
  EXPECT_TRUE(empty.at_end());
  EXPECT_THROW(ByteReader(nullptr, 1), SerdeError);
}

// ---------------------------------------------------------------------------------------------
// Untrusted input
// ---------------------------------------------------------------------------------------------

TEST(Serde, TruncatedInputThrowsAtEveryPrefix) {
  const std::string bytes = serialize(SampleNested());
  ASSERT_GT(bytes.size(), 300u);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(deserialize<Nested>(std::string_view(bytes).substr(0, n)), SerdeError) << "prefix " << n;
  }
  EXPECT_EQ(deserialize<Nested>(bytes), SampleNested());
}

TEST(Serde, CorruptingAnySingleByteEitherDecodesOrThrowsSerdeError) {
  const std::string good = serialize(SampleNested());
  int decoded = 0;
  int rejected = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int delta : {1, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ delta);
      try {
        (void)deserialize<Nested>(bad);
        ++decoded;
      } catch (const SerdeError&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(decoded, 0);
  EXPECT_GT(rejected, 0);
}

TEST(Serde, CorruptLengthPrefixesThrowWithoutHugeAllocation) {
  const std::string huge = Varint(uint64_t{1} << 62);
  const std::string max = Varint(std::numeric_limits<uint64_t>::max());
  const std::string tail(64, '\x01');
  AllocationProbe probe;
  EXPECT_THROW(deserialize<std::string>(huge + tail), SerdeError);
  EXPECT_THROW(deserialize<std::string>(max + tail), SerdeError);
  EXPECT_THROW(deserialize<std::vector<int64_t>>(huge + tail), SerdeError);
  EXPECT_THROW(deserialize<std::vector<std::string>>(max + tail), SerdeError);
  EXPECT_THROW((deserialize<std::map<std::string, std::vector<int32_t>>>(huge + tail)), SerdeError);
  EXPECT_THROW((deserialize<std::unordered_map<int64_t, int64_t>>(huge + tail)), SerdeError);
  EXPECT_THROW(deserialize<std::vector<std::vector<double>>>(Varint(2) + huge + tail), SerdeError);
  EXPECT_THROW(deserialize<std::vector<trading::Trade>>(huge + tail), SerdeError);
  EXPECT_LT(probe.largest(), 4096u);

  // The probe does see real allocations, so the bound above is meaningful.
  AllocationProbe sanity;
  const std::string big(100000, 'x');
  EXPECT_GE(sanity.largest(), big.size());
}

TEST(Serde, LengthsAreBoundedByTheElementsMinimumSize) {
  // 8 elements of int64 need 64 bytes; 63 are present.
  ExpectSerdeError([] { deserialize<std::vector<int64_t>>(Varint(8) + std::string(63, '\0')); },
                   "8 elements of at least 8 byte(s) each, but only 63 bytes left at offset 0");
  // A Trade takes at least 20 bytes, so 3 Trades cannot fit in 59.
  ExpectSerdeError([] { deserialize<std::vector<trading::Trade>>(Varint(3) + std::string(59, '\0')); },
                   "3 elements of at least 20 byte(s)");
}

TEST(Serde, DeserializeRejectsTrailingBytes) {
  ExpectSerdeError([] { deserialize<int32_t>(std::string(5, '\0')); },
                   "trailing bytes: 1 bytes left after the value at offset 4");
  std::string bytes = serialize(SampleTrade(1));
  bytes.push_back('\0');
  EXPECT_THROW(deserialize<trading::Trade>(bytes), SerdeError);
}

TEST(Serde, SerializeIntoAppendsToExistingBytes) {
  std::string out = "xy";
  weir::serialize_into(out, int32_t{7});
  weir::serialize_into(out, std::string("z"));
  EXPECT_EQ(out, Bytes({'x', 'y', 7, 0, 0, 0, 1, 'z'}));
  ByteReader r(std::string_view(out).substr(2));
  EXPECT_EQ(weir::Serde<int32_t>::read(r), 7);
  EXPECT_EQ(weir::Serde<std::string>::read(r), "z");
}

// ---------------------------------------------------------------------------------------------
// to_text
// ---------------------------------------------------------------------------------------------

TEST(Text, ScalarsFollowJavaToString) {
  EXPECT_EQ(to_text(std::string("plain")), "plain");
  EXPECT_EQ(to_text("literal"), "literal");
  EXPECT_EQ(to_text(std::string_view("view")), "view");
  EXPECT_EQ(to_text(-42), "-42");
  EXPECT_EQ(to_text(int8_t{-5}), "-5");
  EXPECT_EQ(to_text(uint8_t{200}), "200");
  EXPECT_EQ(to_text(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(to_text('x'), "x");
  EXPECT_EQ(to_text(U'\u00e9'), "\xc3\xa9");
  EXPECT_EQ(to_text(std::u16string(u"\U0001F600")), "\xf0\x9f\x98\x80");
  EXPECT_EQ(to_text(true), "true");
  EXPECT_EQ(to_text(false), "false");
}

TEST(Text, FloatingPointIsShortestRoundTrip) {
  EXPECT_EQ(to_text(0.1), "0.1");
  EXPECT_EQ(to_text(0.1f), "0.1");
  EXPECT_EQ(to_text(1.0), "1");
  EXPECT_EQ(to_text(-2.5), "-2.5");
  EXPECT_EQ(to_text(1e21), "1e+21");
  EXPECT_EQ(to_text(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(to_text(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(to_text(std::numeric_limits<float>::infinity()), "Infinity");
}

TEST(Text, TuplesUseFlinkFormatWithoutSpaces) {
  EXPECT_EQ(to_text(std::pair<int, std::string>{1, "a"}), "(1,a)");
  EXPECT_EQ(to_text(std::tuple<int, double, std::string>{1, 2.5, "x y"}), "(1,2.5,x y)");
  EXPECT_EQ(to_text(std::tuple<>{}), "()");
  EXPECT_EQ(to_text(std::tuple<std::pair<int, int>>{{1, 2}}), "((1,2))");
}

TEST(Text, CollectionsUseJavaCollectionFormat) {
  EXPECT_EQ(to_text(std::vector<int>{1, 2, 3}), "[1, 2, 3]");
  EXPECT_EQ(to_text(std::vector<int>{}), "[]");
  EXPECT_EQ(to_text(std::array<std::string, 2>{"a", "b"}), "[a, b]");
  EXPECT_EQ(to_text(std::set<int>{3, 1}), "[1, 3]");
  EXPECT_EQ(to_text(std::map<std::string, int>{{"a", 1}, {"b", 2}}), "{a=1, b=2}");
  EXPECT_EQ(to_text(std::unordered_map<int, int>{{1, 2}}), "{1=2}");
  EXPECT_EQ(to_text(std::map<int, std::vector<int>>{}), "{}");
}

TEST(Text, OptionalIsTheValueOrNull) {
  EXPECT_EQ(to_text(std::optional<int>{}), "null");
  EXPECT_EQ(to_text(std::optional<std::string>{"v"}), "v");
  EXPECT_EQ(to_text(std::vector<std::optional<int>>{1, std::nullopt}), "[1, null]");
}

TEST(Text, DurationsCarryTheirUnit) {
  using namespace std::chrono;
  EXPECT_EQ(to_text(milliseconds(250)), "250ms");
  EXPECT_EQ(to_text(seconds(3)), "3s");
  EXPECT_EQ(to_text(minutes(2)), "2min");
  EXPECT_EQ(to_text(hours(1)), "1h");
  EXPECT_EQ(to_text(microseconds(7)), "7us");
  EXPECT_EQ(to_text(nanoseconds(-9)), "-9ns");
  EXPECT_EQ(to_text(duration<double>(1.5)), "1.5s");
  EXPECT_EQ(to_text(duration<int, std::ratio<7, 3>>(2)), "2[7/3]s");
}

TEST(Text, SystemTimePointsAreIso8601Utc) {
  using namespace std::chrono;
  EXPECT_EQ(to_text(system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(to_text(sys_seconds(seconds(1709294400))), "2024-03-01T12:00:00Z");
  EXPECT_EQ(to_text(sys_seconds(seconds(1709294400)) + milliseconds(250)), "2024-03-01T12:00:00.250Z");
  EXPECT_EQ(to_text(sys_seconds(seconds(1709294400)) + microseconds(1)), "2024-03-01T12:00:00.000001Z");
  EXPECT_EQ(to_text(sys_seconds(seconds(1709294400)) + nanoseconds(5)), "2024-03-01T12:00:00.000000005Z");
  EXPECT_EQ(to_text(sys_seconds(seconds(-1))), "1969-12-31T23:59:59Z");
  EXPECT_EQ(to_text(sys_seconds(seconds(-2208988800))), "1900-01-01T00:00:00Z");
  EXPECT_EQ(to_text(sys_days(days(std::numeric_limits<int64_t>::max()))),
            "9223372036854775807d since epoch");
}

TEST(Text, ExtremeTimePointsRenderWithoutOverflow) {
  using namespace std::chrono;
  EXPECT_EQ(to_text(sys_time<nanoseconds>(nanoseconds::min())), "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(to_text(sys_time<nanoseconds>(nanoseconds::max())), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(to_text(sys_days(days(-719468))), "0000-03-01T00:00:00Z");
  EXPECT_EQ(to_text(sys_days(days(2932897))), "+10000-01-01T00:00:00Z");
  EXPECT_EQ(to_text(sys_seconds(seconds::min())), "-9223372036854775808s since epoch");
  EXPECT_EQ(to_text(sys_time<duration<uint64_t, std::milli>>(duration<uint64_t, std::milli>(1500))),
            "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(to_text(sys_time<duration<double>>(duration<double>(-0.5))), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(to_text(sys_time<duration<double>>(duration<double>(1e300))), "1e+300s since epoch");
  EXPECT_EQ(to_text(sys_time<duration<int64_t, std::pico>>(duration<int64_t, std::pico>(-1))),
            "1969-12-31T23:59:59.999999999Z");
}

TEST(Text, StructsRenderAsTypeNameWithFields) {
  EXPECT_EQ(to_text(GlobalPoint{1, -2}), "GlobalPoint{x=1, y=-2}");
  EXPECT_EQ(to_text(SampleTrade(3)),
            "Trade{id=3, symbol=SYM3, price=103.25, side=1, venue=null, fills=[3, -7, 1073741824]}");
  EXPECT_EQ(to_text(std::vector<GlobalPoint>{{1, 2}}), "[GlobalPoint{x=1, y=2}]");
  EXPECT_EQ(to_text(trading::TreeNode{"r", {{"c", {}}}}), "TreeNode{label=r, children=[TreeNode{label=c, children=[]}]}");
}

TEST(Text, StreamOperatorTakesPrecedenceOverWeirSerde) {
  EXPECT_EQ(to_text(trading::Tagged{3}), "Tagged<3>");
  EXPECT_EQ(to_text(std::pair<trading::Tagged, int>{{4}, 5}), "(Tagged<4>,5)");
}

TEST(Text, EnumsRenderAsTheirUnderlyingValue) {
  EXPECT_EQ(to_text(Color::Red), "-1");
  EXPECT_EQ(to_text(kHigh), "200");
  EXPECT_EQ(to_text(kUnfixedB), "1");
  EXPECT_EQ(to_text(Named::Alpha), "Alpha");
}

}  // namespace
