// q7, highest bid: the bids whose price is the largest of a 10 s tumbling window and whose
// dateTime lies in [window_end - 10 s, window_end] (both ends included, as BETWEEN).
//   SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra FROM bid B
//   JOIN (SELECT MAX(price) AS maxprice, window_end AS dateTime
//         FROM TUMBLE(bid, dateTime, 10 s) GROUP BY window_start, window_end) B1
//   ON B.price = B1.maxprice
//   WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime;
// Flink joins every bid by price against the window maxima (all bids in its join state). In
// Weir a chained ProcessFunction after the source drops, per source subtask, every bid priced
// below the largest price its subtask has already seen in the window(s) the bid could match (a
// bid at exactly a window's end can also match the window before); such a bid cannot equal the
// window's maximum. The few bids left go, keyed by window start, to a KeyedProcessFunction that
// computes each window's maximum from its bids and, when the watermark passes the window's end
// (so every bid at that end millisecond has arrived), emits the bids priced at the maximum.
#include <unordered_map>

#include "qa_util.h"

namespace nexmark {
namespace {

constexpr int64_t kSize = 10'000;

struct Q7Bid {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t bidder = 0;
  int64_t date_time = 0;
  Text extra;  // a view of the generator's pool while it is one (no copy per row)
  int64_t window = 0;     // start of the window this bid is a candidate for (the key)
  bool boundary = false;  // date_time is that window's end (the first ms of the next one)
};
WEIR_SERDE(Q7Bid, auction, price, bidder, date_time, extra, window, boundary)

/// Per source subtask: the largest price seen per recent window; passes only the bids that can
/// still be a window's maximum (a superset of the result's bids).
class DropBelowMax final : public weir::ProcessFunction<Event, Q7Bid> {
 public:
  void process_element(const Event& e, Context&, weir::Collector<Q7Bid>& out) override {
    const Bid* b = e.bid();
    if (!b) return;
    const int64_t start = qa::window_start(b->date_time, kSize);
    int64_t* own = slot(start);
    if (!own || b->price >= *own) out.collect(Q7Bid{b->auction, b->price, b->bidder, b->date_time, b->extra, start, false});
    if (b->date_time == start) {  // also the end of the window before
      const int64_t* prev = slot(start - kSize);
      if (!prev || b->price >= *prev) {
        out.collect(Q7Bid{b->auction, b->price, b->bidder, b->date_time, b->extra, start - kSize, true});
      }
    }
    if (own && b->price > *own) *own = b->price;
  }

 private:
  static constexpr int kSlots = 8;
  /// The running maximum of the window starting at `start`, or nullptr when that window is older
  /// than the ones kept (then nothing is dropped). A window seen first starts at -1 (no bid).
  int64_t* slot(int64_t start) {
    const int64_t idx = start / kSize;
    Slot& s = slots_[static_cast<std::size_t>(((idx % kSlots) + kSlots) % kSlots)];
    if (s.idx == idx) return &s.max;
    if (s.idx > idx) return nullptr;
    s.idx = idx;
    s.max = -1;
    return &s.max;
  }
  struct Slot {
    int64_t idx = INT64_MIN;
    int64_t max = -1;
  };
  Slot slots_[kSlots];
};

/// Keyed by window start: the window's largest price (from its own bids) and the candidates
/// priced at least the largest seen when they came; at the window's end, those at the maximum.
class MaxBids final : public weir::KeyedProcessFunction<int64_t, Q7Bid, Q7Bid> {
 public:
  void open(weir::RuntimeContext& rc) override {
    max_ = rc.get_state(weir::ValueStateDescriptor<int64_t>("max"));
    bids_ = rc.get_list_state(weir::ListStateDescriptor<Q7Bid>("candidates"));
  }
  void process_element(const Q7Bid& b, Context& ctx, weir::Collector<Q7Bid>&) override {
    ctx.timer_service().register_event_time_timer(b.window + kSize);  // once per window (timers are deduplicated)
    int64_t max = max_.value().value_or(-1);
    if (!b.boundary && b.price > max) {
      max = b.price;
      max_.update(max);
    }
    if (b.price >= max) bids_.add(b);
  }
  void on_timer(int64_t, OnTimerContext&, weir::Collector<Q7Bid>& out) override {
    if (const std::optional<int64_t> max = max_.value()) {
      for (const Q7Bid& b : bids_.get())
        if (b.price == *max) out.collect(b);
    }
    max_.clear();
    bids_.clear();
  }

 private:
  weir::ValueState<int64_t> max_;
  weir::ListState<Q7Bid> bids_;
};

std::string q7_row(int64_t auction, int64_t price, int64_t bidder, int64_t date_time, const std::string& extra) {
  return row(auction, price, bidder, date_time, extra);
}

std::vector<std::string> q7_reference(const std::vector<Event>& events, const Config&) {
  std::unordered_map<int64_t, int64_t> max_price;  // window end -> max
  for (const Event& e : events) {
    if (const Bid* b = e.bid()) {
      auto [it, fresh] = max_price.emplace(qa::window_start(b->date_time, kSize) + kSize, b->price);
      if (!fresh) it->second = std::max(it->second, b->price);
    }
  }
  std::vector<std::string> out;
  auto match = [&](const Bid& b, int64_t end) {  // B.price = maxprice AND dateTime in [end - 10 s, end]
    auto it = max_price.find(end);
    if (it != max_price.end() && it->second == b.price) {
      out.push_back(q7_row(b.auction, b.price, b.bidder, b.date_time, b.extra));
    }
  };
  for (const Event& e : events) {
    const Bid* b = e.bid();
    if (!b) continue;
    const int64_t start = qa::window_start(b->date_time, kSize);
    match(*b, start + kSize);
    if (b->date_time == start) match(*b, start);  // also the window ending here
  }
  return sorted_rows(out);
}

NEXMARK_QUERY(QueryDef{
    "q7", "highest bid: the bids at the maximum price of each 10 s window",
    [](QueryContext& ctx) {
      auto highest = ctx.events.process(DropBelowMax{})
                         .name("q7-drop-below-max")
                         .key_by([](const Q7Bid& b) { return b.window; })
                         .process(MaxBids{})
                         .name("q7-max");
      ctx.sink(highest, [](const Q7Bid& b) { return q7_row(b.auction, b.price, b.bidder, b.date_time, b.extra); },
               [](const Q7Bid& b) { return b.date_time; });
    },
    q7_reference});

}  // namespace
}  // namespace nexmark
