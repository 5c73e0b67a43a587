// q12 on processing time: the job runs on a ManualClock while a gated source lets the events in
// a quarter at a time; the clock moves 10 s after each quarter has reached the windows, and
// then until every window has fired. The windows must be 10 s of the clock's time, aligned,
// and the counts must add up, per bidder, to the bids (at parallelism 1, 2 and 4).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "queries/qb_util.h"
#include "query.h"
#include "support/test_support.h"

namespace nexmark {
namespace {

// Readers make event ids below `limit` only, and end only when `limit` is past the last event;
// opening the gate wakes the readers that wait.
struct Gate {
  std::mutex mu;
  int64_t limit = 0;
  std::vector<weir::SourceWakeup> waiting;
  void open_to(int64_t l) {
    std::vector<weir::SourceWakeup> wake;
    {
      std::lock_guard lock(mu);
      limit = l;
      wake.swap(waiting);
    }
    for (auto& w : wake) w.wakeup();
  }
};

// The generator's events (split s of S: ids s, s+S, ...) behind a gate.
class GatedSource final : public weir::Source<Event> {
 public:
  GatedSource(Config c, std::shared_ptr<Gate> gate) : gen_(std::make_shared<Generator>(c)), gate_(std::move(gate)) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<weir::SplitReader<Event>> create_reader(int split, int n) const override {
    struct Reader final : weir::SplitReader<Event> {
      std::shared_ptr<const Generator> gen;
      std::shared_ptr<Gate> gate;
      int64_t next, stride;
      Reader(std::shared_ptr<const Generator> g, std::shared_ptr<Gate> gt, int64_t s, int64_t st)
          : gen(std::move(g)), gate(std::move(gt)), next(s), stride(st) {}
      Status read(std::size_t max, weir::SourceOutput<Event>& out) override {
        const int64_t end = gen->config().events;
        int64_t limit;
        {
          std::lock_guard lock(gate->mu);
          limit = std::min(gate->limit, end);
        }
        std::size_t n = 0;
        for (; n < max && next < limit; ++n, next += stride) {
          Event e = gen->event(next);
          const int64_t ts = e.date_time();
          out.collect(std::move(e), ts);
        }
        if (n > 0) return Status::kMoreAvailable;
        std::lock_guard lock(gate->mu);
        // The split ends once the gate opens past the last event (the test holds the job
        // open until then: windows still open at the end of the input would not fire).
        if (next >= end && gate->limit > end) return Status::kEndOfSplit;
        if (next < end && gate->limit > next) return Status::kMoreAvailable;
        gate->waiting.push_back(wakeup_handle());
        return Status::kNothingAvailable;
      }
    };
    return std::make_unique<Reader>(gen_, gate_, split, n);
  }

 private:
  std::shared_ptr<const Generator> gen_;
  std::shared_ptr<Gate> gate_;
};

struct Collected {
  std::mutex mu;
  std::vector<qb::Q12Row> rows;
  int64_t counted() {
    std::lock_guard lock(mu);
    int64_t n = 0;
    for (const auto& r : rows) n += r.bid_count;
    return n;
  }
};

TEST(NexmarkQ12, WindowsOfTenSecondsOfProcessingTimeCountEveryBid) {
  Config c;
  c.events = 40'000;
  c.rate = 1'000;
  c.seed = 7;
  const std::vector<Event> all = all_events(c);
  std::map<int64_t, int64_t> expected;  // bidder -> bids
  int64_t bids = 0;
  std::vector<int64_t> bids_below(5, 0);  // bids among ids below k * 10,000
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (const Bid* b = all[i].bid()) {
      ++expected[b->bidder];
      ++bids;
      for (int k = static_cast<int>(i / 10'000) + 1; k <= 4; ++k) ++bids_below[static_cast<std::size_t>(k)];
    }
  }
  ASSERT_EQ(bids_below[4], bids);

  for (int p : {1, 2, 4}) {
    SCOPED_TRACE("p=" + std::to_string(p));
    auto clock = std::make_shared<weir::ManualClock>(0);
    auto gate = std::make_shared<Gate>();
    auto got = std::make_shared<Collected>();
    auto env = weir::StreamExecutionEnvironment::create();
    env.set_parallelism(p).set_worker_threads(p);
    env.set_clock(clock);
    auto events = env.from_source(GatedSource(c, gate), watermarks(), "nexmark");
    qb::q12_bid_counts(events).add_sink([got](const qb::Q12Row& r) {
      std::lock_guard lock(got->mu);
      got->rows.push_back(r);
    });
    weir::JobClient client = env.execute_async("q12");

    int64_t advanced = 0;
    for (int k = 1; k <= 4; ++k) {
      gate->open_to(k * 10'000);
      weir::testsupport::wait_for_input(client, static_cast<uint64_t>(bids_below[static_cast<std::size_t>(k)]), "q12-window");
      clock->advance(10'000);
      advanced += 10'000;
    }
    // Every bid has reached the windows; move on until the last ones have fired (a batch taken
    // just before a move may have landed in the next window).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (got->counted() < bids && std::chrono::steady_clock::now() < deadline) {
      const int64_t before = got->counted();
      const auto step_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      while (got->counted() == before && std::chrono::steady_clock::now() < step_end)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (got->counted() < bids) {
        clock->advance(10'000);
        advanced += 10'000;
      }
    }
    ASSERT_EQ(got->counted(), bids);
    gate->open_to(INT64_MAX);
    client.wait();

    std::map<int64_t, int64_t> per_bidder;
    std::set<int64_t> windows;
    for (const auto& r : got->rows) {
      EXPECT_EQ(r.endtime - r.starttime, 10'000) << r.bidder;
      EXPECT_EQ(r.starttime % 10'000, 0) << r.bidder;
      EXPECT_GE(r.starttime, 0);
      EXPECT_LE(r.endtime, advanced);
      EXPECT_GT(r.bid_count, 0);
      per_bidder[r.bidder] += r.bid_count;
      windows.insert(r.starttime);
    }
    EXPECT_EQ(per_bidder, expected);
    EXPECT_GE(windows.size(), 2u) << "the clock moved four times while bids came in";
  }
}

}  // namespace
}  // namespace nexmark
