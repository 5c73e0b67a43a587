// q16, channel statistics per day: q15's twelve counts per (channel, day), with the latest
// minute ('HH:mm') of the group's bids; an unbounded aggregate upserted by (channel, day).
//   SELECT channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
//          max(DATE_FORMAT(dateTime, 'HH:mm')) AS minute, <q15's twelve counts>
//   FROM bid GROUP BY channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
// Weir: bids projected to (channel, day, minute, bidder, auction, rank), keyed by (channel, day);
// the counts as in q15 plus the max minute, one update per bid.
#include <tuple>

#include "../query.h"
#include "qb_util.h"

namespace nexmark {
namespace {

struct Q16In {
  std::string channel;
  int64_t day = 0;
  int64_t bidder = 0;
  int64_t auction = 0;
  int32_t minute = 0;
  int32_t rank = 0;
};
WEIR_SERDE(Q16In, channel, day, bidder, auction, minute, rank)

struct Q16Out {
  std::string channel;
  int64_t day = 0;
  int32_t minute = 0;
  qb::RankedCounts counts;
};
WEIR_SERDE(Q16Out, channel, day, minute, counts)

struct Q16Agg : weir::KeyedProcessFunction<std::tuple<std::string, int64_t>, Q16In, Q16Out> {
  qb::RankedCountState state;
  weir::ValueState<int32_t> max_minute;
  void open(weir::RuntimeContext& rc) override {
    state.open(rc, "q16");
    max_minute = rc.get_state(weir::ValueStateDescriptor<int32_t>("q16-minute"));
  }
  void process_element(const Q16In& b, Context&, weir::Collector<Q16Out>& out) override {
    const std::optional<int32_t> m = max_minute.value();
    int32_t minute = b.minute;
    if (!m || *m < minute) {
      max_minute.update(minute);
    } else {
      minute = *m;
    }
    out.collect(Q16Out{b.channel, b.day, minute, state.add(b.bidder, b.auction, b.rank)});
  }
};

std::string q16_row(const Q16Out& r) {
  return r.channel + "," + qb::day_string(r.day) + "," + qb::hhmm(r.minute) + "," + qb::counts_text(r.counts);
}

NEXMARK_QUERY(QueryDef{
    "q16", "per channel and day: latest minute, bids, distinct bidders and auctions per price rank",
    [](QueryContext& ctx) {
      auto in = ctx.events
                    .flat_map([](const Event& e, weir::Collector<Q16In>& out) {
                      if (const Bid* b = e.bid())
                        out.collect(Q16In{b->channel, qb::day_number(b->date_time), b->bidder, b->auction,
                                          qb::minute_of_day(b->date_time), qb::price_rank(b->price)});
                    })
                    .name("q16-project");
      auto rows = in.key_by([](const Q16In& b) { return std::tuple<std::string, int64_t>(b.channel, b.day); })
                      .process(Q16Agg{})
                      .name("q16-aggregate");
      ctx.upsert_sink(rows, q16_row, [](const Q16Out&) { return INT64_MAX; },
                      [](const Q16Out& r) { return r.channel + "," + std::to_string(r.day); });
    },
    [](const std::vector<Event>& events, const Config&) {
      struct Group {
        std::string max_minute;
        qb::RankedCountReference counts;
      };
      std::map<std::pair<std::string, std::string>, Group> groups;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        const int rank = b->price < 10'000 ? 1 : b->price < 1'000'000 ? 2 : 3;
        const int64_t t = b->date_time;
        const std::string day = qb::day_string(qb::day_number(t));
        char hm[8];
        std::snprintf(hm, sizeof hm, "%02d:%02d", static_cast<int>((t / 3'600'000) % 24), static_cast<int>((t / 60'000) % 60));
        Group& g = groups[{b->channel, day}];
        g.max_minute = std::max(g.max_minute, std::string(hm));
        g.counts.add(b->bidder, b->auction, rank);
      }
      std::vector<std::string> out;
      for (const auto& [k, g] : groups)
        out.push_back(k.first + "," + k.second + "," + g.max_minute + "," + qb::counts_text(g.counts.counts));
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
