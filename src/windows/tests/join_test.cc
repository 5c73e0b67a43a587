// Interval joins, window joins and co-groups, by hand and as jobs compared with nested loops.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "weir/testing/harness.hpp"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;
using KV = std::pair<std::string, int64_t>;

struct Pair : weir::ProcessJoinFunction<KV, KV, std::string> {
  void process_element(const KV& l, const KV& r, Context& ctx, weir::Collector<std::string>& out) override {
    out.collect(l.first + ":" + std::to_string(l.second) + "-" + std::to_string(r.second) + "@" + std::to_string(ctx.get_timestamp()));
  }
};

TEST(IntervalJoin, JoinsWithinInclusiveBoundsAndCarriesTheLargerTimestamp) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto a = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  auto b = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  auto s = a.interval_join(b).between(-2ms, 1ms).process(Pair{});
  weir::testing::TwoInputHarness<KV, KV, std::string> h(s);
  h.open();
  h.process_element1({"k", 1}, 10);
  h.process_element2({"k", 100}, 7);   // 10-3: outside
  h.process_element2({"k", 101}, 8);   // 10-2: inside
  h.process_element2({"k", 102}, 11);  // 10+1: inside
  h.process_element2({"k", 103}, 12);  // outside
  h.process_element2({"x", 104}, 10);  // other key
  auto r = h.records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, "k:1-101@10");
  EXPECT_EQ(r[0].timestamp, 10);
  EXPECT_EQ(r[1].value, "k:1-102@11");
  EXPECT_EQ(r[1].timestamp, 11);
}

TEST(IntervalJoin, ExclusiveBoundsAndLateDataSideOutputs) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto a = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  auto b = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  const weir::OutputTag<KV> left_late("left-late");
  auto s = a.interval_join(b).between(-2ms, 2ms).lower_bound_exclusive().upper_bound_exclusive().side_output_left_late_data(left_late).process(Pair{});
  weir::testing::TwoInputHarness<KV, KV, std::string> h(s);
  h.capture_side_output(left_late);
  h.open();
  h.process_element2({"k", 1}, 8);
  h.process_element2({"k", 2}, 9);
  h.process_element2({"k", 3}, 11);
  h.process_element2({"k", 4}, 12);
  h.process_element1({"k", 0}, 10);  // joins 9 and 11 only
  EXPECT_EQ(h.extract_output_values(), (std::vector<std::string>{"k:0-2@10", "k:0-3@11"}));
  h.process_watermark1(20);
  h.process_watermark2(20);
  h.process_element1({"k", 5}, 15);  // behind the watermark: late
  ASSERT_EQ(h.side_output(left_late).size(), 1u);
  EXPECT_EQ(h.extract_output_values().size(), 2u);
}

TEST(IntervalJoin, BufferedElementsAreCleanedUpOnceTheWatermarkPassesTheirBound) {
  auto env = weir::StreamExecutionEnvironment::create();
  auto a = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  auto b = env.from_elements(KV{}).key_by([](const KV& kv) { return kv.first; });
  auto s = a.interval_join(b).between(-5ms, 5ms).process(Pair{});
  weir::testing::TwoInputHarness<KV, KV, std::string> h(s);
  h.open();
  for (int64_t t = 0; t < 100; ++t) {
    h.process_element1({"k" + std::to_string(t % 3), t}, t);
    h.process_element2({"k" + std::to_string(t % 3), t}, t);
  }
  using Op = weir::detail::IntervalJoinOperator<std::string, KV, KV, std::string, std::function<std::string(const KV&)>,
                                                std::function<std::string(const KV&)>, Pair>;
  auto& op = dynamic_cast<Op&>(h.op());
  EXPECT_EQ(op.buffered(), 200u);
  h.process_watermark1(50);
  h.process_watermark2(50);
  // left kept while ts + 5 > 50, right while ts + 5 > 50: ts >= 46 on both sides
  EXPECT_EQ(op.buffered(), 2u * (100 - 46));
  h.process_watermark1(1000);
  h.process_watermark2(1000);
  EXPECT_EQ(op.buffered(), 0u);
}

weir::WatermarkStrategy<KV> by_value_bounded(int64_t bound) {
  return weir::WatermarkStrategy<KV>::for_bounded_out_of_orderness(std::chrono::milliseconds(bound))
      .with_timestamp_assigner([](const KV& kv, int64_t) { return kv.second; });
}

TEST(IntervalJoin, JobMatchesNestedLoopAtParallelism124) {
  // Left: (key, ts) every 3 ms; right: every 5 ms; slightly out of order within the bound.
  auto left_of = [](int64_t i) { return KV{"k" + std::to_string(i % 13), i * 3 + (i % 4)}; };
  auto right_of = [](int64_t i) { return KV{"k" + std::to_string(i % 13), i * 5 + (i % 3)}; };
  std::multiset<std::string> want;
  for (int64_t i = 0; i < 2000; ++i)
    for (int64_t j = 0; j < 1200; ++j) {
      auto l = left_of(i);
      auto r = right_of(j);
      if (l.first == r.first && r.second >= l.second - 7 && r.second <= l.second + 4) {
        want.insert(l.first + ":" + std::to_string(l.second) + "-" + std::to_string(r.second) + "@" + std::to_string(std::max(l.second, r.second)));
      }
    }
  ASSERT_FALSE(want.empty());
  for (int p : {1, 2, 4}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    auto a = env.from_generator(2000, left_of).assign_timestamps_and_watermarks(by_value_bounded(10)).key_by([](const KV& kv) { return kv.first; });
    auto b = env.from_generator(1200, right_of).assign_timestamps_and_watermarks(by_value_bounded(10)).key_by([](const KV& kv) { return kv.first; });
    auto got = a.interval_join(b).between(-7ms, 4ms).process(Pair{}).execute_and_collect();
    EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()), want) << "parallelism " << p;
  }
}

TEST(WindowJoin, JoinAndCoGroupMatchNestedLoopsPerWindowIncludingSelfJoin) {
  auto gen_l = [](int64_t i) { return KV{"k" + std::to_string(i % 5), i * 7}; };
  auto gen_r = [](int64_t i) { return KV{"k" + std::to_string(i % 3), i * 11}; };
  const int64_t nl = 600, nr = 400, size = 100;
  std::multiset<std::string> want_join;
  std::map<std::string, std::pair<int, int>> want_cogroup;  // "key@window" -> sizes
  for (int64_t i = 0; i < nl; ++i) {
    auto l = gen_l(i);
    want_cogroup[l.first + "@" + std::to_string(l.second / size)].first++;
    for (int64_t j = 0; j < nr; ++j) {
      auto r = gen_r(j);
      if (l.first == r.first && l.second / size == r.second / size) {
        want_join.insert(std::to_string(l.second) + "+" + std::to_string(r.second));
      }
    }
  }
  for (int64_t j = 0; j < nr; ++j) {
    auto r = gen_r(j);
    want_cogroup[r.first + "@" + std::to_string(r.second / size)].second++;
  }
  for (int p : {1, 2, 4}) {
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p);
    auto a = env.from_generator(nl, gen_l).assign_timestamps_and_watermarks(by_value_bounded(0));
    auto b = env.from_generator(nr, gen_r).assign_timestamps_and_watermarks(by_value_bounded(0));
    auto key = [](const KV& kv) { return kv.first; };
    auto joined = a.join(b).where(key).equal_to(key).window(weir::TumblingEventTimeWindows::of(std::chrono::milliseconds(size)))
                      .apply([](const KV& l, const KV& r) { return std::to_string(l.second) + "+" + std::to_string(r.second); })
                      .collect_async();
    auto grouped = a.co_group(b).where(key).equal_to(key).window(weir::TumblingEventTimeWindows::of(std::chrono::milliseconds(size)))
                       .apply([](const std::vector<KV>& ls, const std::vector<KV>& rs, weir::Collector<std::string>& out) {
                         const auto& any = ls.empty() ? rs.front() : ls.front();
                         out.collect(any.first + "@" + std::to_string(any.second / 100) + "=" + std::to_string(ls.size()) + "/" + std::to_string(rs.size()));
                       })
                       .collect_async();
    auto self = a.join(a).where(key).equal_to(key).window(weir::TumblingEventTimeWindows::of(std::chrono::milliseconds(size)))
                    .apply([](const KV& l, const KV& r) { return l.second <= r.second ? 1 : 0; })
                    .collect_async();
    env.execute("joins");
    auto j = joined.get();
    EXPECT_EQ(std::multiset<std::string>(j.begin(), j.end()), want_join) << "parallelism " << p;
    std::map<std::string, std::pair<int, int>> got_cg;
    for (auto& s : grouped.get()) {
      const auto eq = s.find('=');
      const auto sl = s.find('/');
      got_cg[s.substr(0, eq)] = {std::stoi(s.substr(eq + 1, sl - eq - 1)), std::stoi(s.substr(sl + 1))};
    }
    EXPECT_EQ(got_cg, want_cogroup) << "co-group is called also when one side is empty; parallelism " << p;
    // self join: per key and window n elements give n*n pairs
    std::map<std::string, int64_t> per;
    for (int64_t i = 0; i < nl; ++i) ++per[gen_l(i).first + "@" + std::to_string(gen_l(i).second / size)];
    int64_t pairs = 0;
    for (auto& [k, n] : per) pairs += n * n;
    EXPECT_EQ(static_cast<int64_t>(self.get().size()), pairs);
  }
}


TEST(WindowJoin, CoGroupAndJoinSeeEachSidesElementsInArrivalOrderAtEveryParallelism) {
  // A parallelism-1 input (a collection source): each side's elements of a key must reach the
  // co-group function, and the join's pairs must follow, in the order they arrived, as a
  // sequential computation gives, at every window parallelism and on every run. Timestamps are
  // slightly out of order, so arrival order is not timestamp order.
  auto ts_of = [](int64_t i, int64_t step) { return i * step + (i % 3 == 0 ? 5 : 0); };
  std::vector<KV> left, right;
  for (int64_t i = 0; i < 3000; ++i) left.push_back({"k" + std::to_string(i % 5), ts_of(i, 3)});
  for (int64_t i = 0; i < 2000; ++i) right.push_back({"k" + std::to_string(i % 3), ts_of(i, 4)});
  const int64_t size = 200;
  auto group_of = [&](const KV& kv) { return kv.first + "@" + std::to_string(kv.second / size); };
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<int64_t>>> seq;
  for (const auto& l : left) seq[group_of(l)].first.push_back(l.second);
  for (const auto& r : right) seq[group_of(r)].second.push_back(r.second);
  std::map<std::string, std::string> want_cogroup;
  std::map<std::string, std::vector<std::string>> want_join;
  auto render = [](const std::vector<int64_t>& v) {
    std::string s;
    for (auto x : v) s += std::to_string(x) + ",";
    return s;
  };
  for (const auto& [g, sides] : seq) {
    want_cogroup[g] = render(sides.first) + "|" + render(sides.second);
    for (auto l : sides.first)
      for (auto r : sides.second) want_join[g].push_back(std::to_string(l) + "+" + std::to_string(r));
  }
  // Timestamps assigned after a collection source, or by a source of parallelism 1 itself.
  for (bool at_source : {false, true}) {
    for (int p : {1, 2, 3, 4}) {
      for (int run = 0; run < 3; ++run) {
        auto env = weir::StreamExecutionEnvironment::create();
        env.set_parallelism(p);
        env.set_worker_threads(2);
        auto input = [&](const std::vector<KV>& side, const char* name) {
          if (!at_source) return env.from_collection(side).assign_timestamps_and_watermarks(by_value_bounded(10));
          auto gen = weir::DataGeneratorSource([side](int64_t i) { return side[static_cast<std::size_t>(i)]; },
                                               static_cast<int64_t>(side.size()), 1);
          return env.from_source(gen, by_value_bounded(10), name).set_parallelism(1);
        };
        auto a = input(left, "left");
        auto b = input(right, "right");
        auto key = [](const KV& kv) { return kv.first; };
        auto window = weir::TumblingEventTimeWindows::of(std::chrono::milliseconds(size));
        auto grouped = a.co_group(b).where(key).equal_to(key).window(window)
                           .apply([size](const std::vector<KV>& ls, const std::vector<KV>& rs, weir::Collector<std::pair<std::string, std::string>>& out) {
                             const auto& any = ls.empty() ? rs.front() : ls.front();
                             std::string s;
                             for (const auto& l : ls) s += std::to_string(l.second) + ",";
                             s += "|";
                             for (const auto& r : rs) s += std::to_string(r.second) + ",";
                             out.collect(std::pair<std::string, std::string>{any.first + "@" + std::to_string(any.second / size), s});
                           })
                           .collect_async();
        auto joined = a.join(b).where(key).equal_to(key).window(window)
                          .apply([size](const KV& l, const KV& r) {
                            return KV{l.first + "@" + std::to_string(l.second / size) + "#" + std::to_string(l.second) + "+" +
                                          std::to_string(r.second),
                                      0};
                          })
                          .collect_async();
        env.execute("ordered co-group");
        std::map<std::string, std::string> got_cogroup;
        for (auto& [g, s] : grouped.get()) got_cogroup[g] = s;
        EXPECT_EQ(got_cogroup, want_cogroup) << "co_group at parallelism " << p << ", run " << run
                                             << (at_source ? ", timestamps from the source" : "");
        std::map<std::string, std::vector<std::string>> got_join;
        for (auto& [s, unused] : joined.get()) {
          const auto hash = s.find('#');
          got_join[s.substr(0, hash)].push_back(s.substr(hash + 1));
        }
        EXPECT_EQ(got_join, want_join) << "join at parallelism " << p << ", run " << run
                                       << (at_source ? ", timestamps from the source" : "");
        if (HasFailure()) return;
      }
    }
  }
}

}  // namespace
