#pragma once
// Shared by q12..q22: Flink's time functions in UTC (DATE_FORMAT 'yyyy-MM-dd' / 'HH:mm', HOUR),
// DECIMAL(·, 3) text, and the price ranks of q15..q17.
#include <cstdint>
#include <cstdio>
#include <string>

namespace nexmark::qb {

/// Days since 1970-01-01 of a time in ms (floor).
inline int64_t day_number(int64_t ms) {
  int64_t d = ms / 86'400'000;
  if (ms % 86'400'000 < 0) --d;
  return d;
}

/// 'yyyy-MM-dd' of a day number (proleptic Gregorian, as java.time).
inline std::string day_string(int64_t days) {
  // Howard Hinnant's civil_from_days.
  const int64_t z = days + 719'468;
  const int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const int64_t doe = z - era * 146'097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[64];  // room for any int64 fields, so the format is never cut
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d));
  return buf;
}

/// Milliseconds into the day (UTC).
inline int64_t ms_of_day(int64_t ms) { return ms - day_number(ms) * 86'400'000; }

/// HOUR(ts), UTC.
inline int hour_of(int64_t ms) { return static_cast<int>(ms_of_day(ms) / 3'600'000); }

/// Minute of the day (0..1439), UTC.
inline int minute_of_day(int64_t ms) { return static_cast<int>(ms_of_day(ms) / 60'000); }

/// 'HH:mm' of a minute of the day.
inline std::string hhmm(int minute) {
  char buf[32];  // room for any int, so the format is never cut
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

/// A DECIMAL with 3 digits after the point, given in thousandths.
inline std::string decimal3(int64_t thousandths) {
  std::string s;
  if (thousandths < 0) {
    s.push_back('-');
    thousandths = -thousandths;
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(thousandths % 1000));
  s += std::to_string(thousandths / 1000);
  s += buf;
  return s;
}

/// q15..q17's price ranks: 1 below 10,000, 2 below 1,000,000, else 3.
inline int price_rank(int64_t price) { return price < 10'000 ? 1 : price < 1'000'000 ? 2 : 3; }

}  // namespace nexmark::qb

#include <array>
#include <map>
#include <tuple>

#include "../query.h"

namespace nexmark::qb {

/// q15/q16's twelve counts: bids, distinct bidders, distinct auctions; each in total ([0]) and
/// per price rank ([1]..[3]).
struct RankedCounts {
  std::array<int64_t, 4> bids{};
  std::array<int64_t, 4> bidders{};
  std::array<int64_t, 4> auctions{};
  bool operator==(const RankedCounts&) const = default;
};
WEIR_SERDE(RankedCounts, bids, bidders, auctions)

/// The twelve counts as text, in the SELECT's order.
inline std::string counts_text(const RankedCounts& c) {
  std::string s;
  for (const auto* a : {&c.bids, &c.bidders, &c.auctions}) {
    for (int64_t v : *a) {
      if (!s.empty()) s.push_back(',');
      s += std::to_string(v);
    }
  }
  return s;
}

/// Keyed state for the twelve counts of one group: the counters, and per distinct bidder and
/// auction the ranks it was seen in (bit 0: any, bit r: rank r), as COUNT(DISTINCT x) FILTER.
class RankedCountState {
 public:
  void open(weir::RuntimeContext& rc, const std::string& prefix) {
    counts_ = rc.get_state(weir::ValueStateDescriptor<RankedCounts>(prefix + "-counts"));
    bidders_ = rc.get_map_state(weir::MapStateDescriptor<int64_t, uint8_t>(prefix + "-bidders"));
    auctions_ = rc.get_map_state(weir::MapStateDescriptor<int64_t, uint8_t>(prefix + "-auctions"));
  }
  /// Adds a bid of the current key; returns the new counts.
  RankedCounts add(int64_t bidder, int64_t auction, int rank) {
    RankedCounts c = counts_.value().value_or(RankedCounts{});
    ++c.bids[0];
    ++c.bids[rank];
    mark(bidders_, bidder, rank, c.bidders);
    mark(auctions_, auction, rank, c.auctions);
    counts_.update(c);
    return c;
  }

 private:
  static void mark(weir::MapState<int64_t, uint8_t>& seen, int64_t id, int rank, std::array<int64_t, 4>& counts) {
    const uint8_t before = seen.get(id).value_or(0);
    const uint8_t after = static_cast<uint8_t>(before | 1u | (1u << rank));
    if (after == before) return;
    if (!(before & 1u)) ++counts[0];
    if (!(before & (1u << rank))) ++counts[rank];
    seen.put(id, after);
  }
  weir::ValueState<RankedCounts> counts_;
  weir::MapState<int64_t, uint8_t> bidders_, auctions_;
};

/// The sequential twin of RankedCountState for references: plain sets.
struct RankedCountReference {
  RankedCounts counts;
  std::map<int64_t, uint8_t> bidders, auctions;
  void add(int64_t bidder, int64_t auction, int rank) {
    ++counts.bids[0];
    ++counts.bids[rank];
    for (auto [m, id, arr] : {std::tuple{&bidders, bidder, &counts.bidders}, std::tuple{&auctions, auction, &counts.auctions}}) {
      uint8_t& f = (*m)[id];
      if (!(f & 1u)) ++(*arr)[0];
      if (!(f & (1u << rank))) ++(*arr)[rank];
      f = static_cast<uint8_t>(f | 1u | (1u << rank));
    }
  }
};

}  // namespace nexmark::qb


namespace nexmark::qb {

/// q12's rows: bids per bidder in tumbling windows of 10 s of processing time.
struct Q12Row {
  int64_t bidder = 0;
  int64_t bid_count = 0;
  int64_t starttime = 0;
  int64_t endtime = 0;
  bool operator==(const Q12Row&) const = default;
};
WEIR_SERDE(Q12Row, bidder, bid_count, starttime, endtime)

/// q12's job on `events` (its operator "q12-window" counts in the windows); in q12.cc.
weir::DataStream<Q12Row> q12_bid_counts(const weir::DataStream<Event>& events);

}  // namespace nexmark::qb
