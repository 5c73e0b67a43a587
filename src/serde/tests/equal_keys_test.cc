// Equal values encode to equal bytes, so keys hashed through their bytes are not split:
// unordered containers encode their elements sorted by encoded bytes, whatever their iteration
// order. (Floating-point keys are refused at compile time: tests/compile_fail.)
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "weir/serde/serde.hpp"
#include "weir/weir.hpp"

namespace equal_keys {

struct Tagged {
  std::string name;
  std::unordered_set<std::string> tags;
  bool operator==(const Tagged&) const = default;
};
WEIR_SERDE(Tagged, name, tags)

}  // namespace equal_keys

namespace {

using equal_keys::Tagged;

const std::vector<std::string> kWords{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};

/// The same set, built in a rotating insertion order with a varying bucket count, so that
/// iteration orders differ between variants.
std::unordered_set<std::string> set_variant(int i) {
  std::unordered_set<std::string> s;
  s.reserve(static_cast<std::size_t>(1 + (i % 5) * 7));
  const int n = static_cast<int>(kWords.size());
  for (int j = 0; j < n; ++j) s.insert(kWords[static_cast<std::size_t>((i + j * (i % 2 == 0 ? 1 : n - 1)) % n)]);
  return s;
}

std::unordered_map<std::string, int64_t> map_variant(int i) {
  std::unordered_map<std::string, int64_t> m;
  m.reserve(static_cast<std::size_t>(1 + (i % 3) * 11));
  for (const auto& w : set_variant(i)) m.emplace(w, static_cast<int64_t>(w.size()));
  return m;
}

std::vector<std::string> iteration_order(const std::unordered_set<std::string>& s) { return {s.begin(), s.end()}; }

TEST(EqualKeys, UnorderedContainersEncodeAlikeWhateverTheirIterationOrder) {
  std::set<std::vector<std::string>> orders;
  const std::string set_bytes = weir::serialize(set_variant(0));
  const std::string map_bytes = weir::serialize(map_variant(0));
  const std::string nested_bytes = weir::serialize(Tagged{"x", set_variant(0)});
  for (int i = 0; i < 20; ++i) {
    orders.insert(iteration_order(set_variant(i)));
    ASSERT_EQ(set_variant(i), set_variant(0));
    EXPECT_EQ(weir::serialize(set_variant(i)), set_bytes) << "variant " << i;
    EXPECT_EQ(weir::serialize(map_variant(i)), map_bytes) << "variant " << i;
    EXPECT_EQ(weir::serialize(Tagged{"x", set_variant(i)}), nested_bytes) << "variant " << i;
  }
  ASSERT_GT(orders.size(), 1u) << "the variants must iterate in different orders for this test to mean anything";
  // Sorted by encoded bytes: "beta" (length 4) before "alpha" (length 5).
  const auto small = weir::serialize(std::unordered_set<std::string>{"alpha", "beta"});
  EXPECT_EQ(small, std::string("\x02\x04" "beta" "\x05" "alpha", 12));
  // Decoding still accepts any order (older encodings), and re-encodes canonically.
  const std::string reversed("\x02\x05" "alpha" "\x04" "beta", 12);
  EXPECT_EQ(weir::serialize(weir::deserialize<std::unordered_set<std::string>>(reversed)), small);
  // Nested unordered containers are canonical at every level.
  std::unordered_map<std::string, std::unordered_set<std::string>> a, b;
  for (int i = 0; i < 6; ++i) a["k" + std::to_string(i)] = set_variant(i);
  for (int i = 5; i >= 0; --i) b["k" + std::to_string(i)] = set_variant(i + 7);
  ASSERT_EQ(a, b);
  EXPECT_EQ(weir::serialize(a), weir::serialize(b));
}

TEST(EqualKeys, OneLogicalKeyWhoseIterationOrderVariesIsCountedOnceAtParallelism4) {
  // 1000 records with one unordered-set key (in 1000 differently built copies) and one
  // unordered-map key: each must end in one count of 1000, as a sequential count gives.
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(4);
  env.set_worker_threads(2);
  auto records = env.from_generator(1000, [](int64_t i) { return i; });
  auto by_set = records.key_by([](const int64_t& i) { return set_variant(static_cast<int>(i)); })
                    .process([] {
                      struct Count : weir::KeyedProcessFunction<std::unordered_set<std::string>, int64_t, int64_t> {
                        weir::ValueState<int64_t> n;
                        void open(weir::RuntimeContext& ctx) override {
                          n = ctx.get_state(weir::ValueStateDescriptor<int64_t>("n"));
                        }
                        void process_element(const int64_t&, Context&, weir::Collector<int64_t>& out) override {
                          const int64_t c = n.value().value_or(0) + 1;
                          n.update(c);
                          out.collect(c);
                        }
                      };
                      return Count{};
                    }())
                    .collect_async();
  auto by_map = records.map([](const int64_t& i) { return std::make_pair(map_variant(static_cast<int>(i)), int64_t{1}); })
                    .key_by([](const std::pair<std::unordered_map<std::string, int64_t>, int64_t>& r) { return r.first; })
                    .reduce([](const auto& a, const auto& b) { return std::make_pair(a.first, a.second + b.second); })
                    .collect_async();
  env.execute("equal keys");
  const auto counts = by_set.get();
  ASSERT_EQ(counts.size(), 1000u);
  EXPECT_EQ(*std::max_element(counts.begin(), counts.end()), 1000) << "the key's records were split between subtasks";
  int64_t map_max = 0;
  for (const auto& [m, c] : by_map.get()) map_max = std::max(map_max, c);
  EXPECT_EQ(map_max, 1000);
}

}  // namespace
