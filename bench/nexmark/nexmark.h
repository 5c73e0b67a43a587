#pragma once
// The Nexmark events (person, auction, bid) and their generator, as a parallel, checkpointable
// Weir source. The generator follows the Nexmark model (nexmark/nexmark, after Beam's): event ids
// 0, 1, 2, ... are split 1/3/46 per 50 (2/6/92 %) into persons, auctions and bids; sellers and
// bidders are mostly "hot" people, bids mostly go to hot auctions and hot channels; prices are
// log-uniform from 1 to 1,000,000 (in cents); auctions expire within about two horizons of
// in-flight auctions; `extra` pads each event to its average size (200/500/100 bytes).
//
// Where it departs from that code, for reproducibility (the same events in Weir and in
// bench/nexmark/flink, whose NexmarkGenerator.java is this file's twin):
// - Every event draws from its own random generator, seeded from (seed, event id) with
//   splitmix64 (see NexmarkRandom), so event i is the same at any parallelism, after any restore
//   and in both languages. The shared tables (the 1 MiB pool `extra` is cut from, the hot URLs,
//   the 10,000 channels) come from a generator seeded with the seed alone.
// - Parallel subtasks interleave: subtask s of P generates event ids s, s+P, s+2P, ... so all of
//   them move through event time together and the whole stream is the same for any P.
// - Event time is fixed by the event id: base_time + id * 1e6 / rate µs (the suite's 10 M
//   events/s by default), whatever the wall clock does; the generator itself runs flat out.
// - A bid's bidder is a person id (the Flink suite's code adds the first person id twice).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <ostream>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "weir/weir.hpp"

namespace nexmark {

/// A string field of an event. The generator's tables (the `extra` pool, URLs, channels, names)
/// live as long as the process, so an event's strings cut from them are views into them: making
/// a bid copies no bytes. A `Text` read back from bytes (an exchange, state) owns its bytes.
/// Reads like a `std::string_view`; converts to `std::string` where one is needed.
class Text {
 public:
  Text() = default;
  explicit Text(std::string s) : own_(std::move(s)) {}
  explicit Text(const char* s) : own_(s) {}
  /// A view of bytes that outlive every event (the generator's tables, string literals).
  static Text borrowed(std::string_view immortal) {
    Text t;
    t.p_ = immortal.data();
    t.n_ = immortal.size();
    return t;
  }
  std::string_view view() const { return p_ ? std::string_view(p_, n_) : std::string_view(own_); }
  operator std::string_view() const { return view(); }
  operator std::string() const { return std::string(view()); }
  std::string str() const { return std::string(view()); }
  const char* data() const { return view().data(); }
  std::size_t size() const { return view().size(); }
  std::size_t length() const { return size(); }
  bool empty() const { return size() == 0; }
  char operator[](std::size_t i) const { return view()[i]; }
  auto begin() const { return view().begin(); }
  auto end() const { return view().end(); }
  std::size_t find(std::string_view s, std::size_t pos = 0) const { return view().find(s, pos); }
  std::size_t find(char c, std::size_t pos = 0) const { return view().find(c, pos); }
  std::string_view substr(std::size_t pos, std::size_t n = std::string_view::npos) const { return view().substr(pos, n); }
  /// Bytes [pos, pos + n) as a Text: a view while this is one, else a copy.
  Text slice(std::size_t pos, std::size_t n = std::string_view::npos) const {
    return p_ ? borrowed(view().substr(pos, n)) : Text(std::string(view().substr(pos, n)));
  }
  friend bool operator==(const Text& a, const Text& b) { return a.view() == b.view(); }
  friend bool operator==(const Text& a, std::string_view b) { return a.view() == b; }
  friend auto operator<=>(const Text& a, const Text& b) { return a.view() <=> b.view(); }
  friend auto operator<=>(const Text& a, std::string_view b) { return a.view() <=> b; }
  friend std::ostream& operator<<(std::ostream& o, const Text& t) { return o << t.view(); }
  template <class H>
  friend H AbslHashValue(H h, const Text& t) {
    return H::combine(std::move(h), t.view());
  }

 private:
  std::string own_;
  const char* p_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace nexmark

/// Text goes over the wire and into state as a string; it comes back owning its bytes.
template <>
struct weir::Serde<nexmark::Text> {
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const nexmark::Text& t) {
    w.write_varint(t.size());
    w.write_bytes(t.data(), t.size());
  }
  static nexmark::Text read(ByteReader& r) {
    const std::size_t n = r.read_length(1);
    return nexmark::Text(std::string(r.read_view(n)));
  }
};

namespace nexmark {

struct Person {
  int64_t id = 0;
  Text name;
  std::string email_address;
  std::string credit_card;
  Text city;
  Text state;
  int64_t date_time = 0;  // ms since the epoch
  Text extra;
  bool operator==(const Person&) const = default;
};
WEIR_SERDE(Person, id, name, email_address, credit_card, city, state, date_time, extra)

struct Auction {
  int64_t id = 0;
  std::string item_name;
  std::string description;
  int64_t initial_bid = 0;
  int64_t reserve = 0;
  int64_t date_time = 0;
  int64_t expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  Text extra;
  bool operator==(const Auction&) const = default;
};
WEIR_SERDE(Auction, id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra)

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  Text channel;
  Text url;
  int64_t date_time = 0;
  Text extra;
  bool operator==(const Bid&) const = default;
};
WEIR_SERDE(Bid, auction, bidder, price, channel, url, date_time, extra)

/// One event: exactly one of person, auction, bid (event_type 0, 1, 2 as in the Flink suite's
/// `datagen` table).
struct Event {
  std::variant<Person, Auction, Bid> v;
  int type() const { return static_cast<int>(v.index()); }
  const Person* person() const { return std::get_if<Person>(&v); }
  const Auction* auction() const { return std::get_if<Auction>(&v); }
  const Bid* bid() const { return std::get_if<Bid>(&v); }
  int64_t date_time() const {
    return std::visit([](const auto& e) { return e.date_time; }, v);
  }
  bool operator==(const Event&) const = default;
};
WEIR_SERDE(Event, v)

/// The generator's settings (the suite's defaults).
struct Config {
  uint64_t seed = 0;
  int64_t events = 0;                    // how many events (ids 0 .. events-1)
  double rate = 10'000'000;              // events per second of event time
  int64_t base_time = 1'767'225'600'000; // event time of event 0: 2026-01-01T00:00:00Z, in ms
  int person_proportion = 1;
  int auction_proportion = 3;
  int bid_proportion = 46;
  int avg_person_bytes = 200;
  int avg_auction_bytes = 500;
  int avg_bid_bytes = 100;
  int hot_auction_ratio = 2;
  int hot_sellers_ratio = 4;
  int hot_bidders_ratio = 4;
  int num_in_flight_auctions = 100;
  int num_active_people = 1000;
  int total_proportion() const { return person_proportion + auction_proportion + bid_proportion; }
  /// Event time of event `id`, ms.
  int64_t timestamp(int64_t id) const {
    return base_time + static_cast<int64_t>(static_cast<double>(id) * (1'000'000.0 / rate)) / 1000;
  }
};

inline constexpr int64_t kFirstAuctionId = 1000;
inline constexpr int64_t kFirstPersonId = 1000;
inline constexpr int64_t kFirstCategoryId = 10;

/// splitmix64, one per event. Java twin: NexmarkRandom.java (same arithmetic on unsigned 64 bits).
class NexmarkRandom {
 public:
  static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// The generator of event `id` under `seed`.
  static NexmarkRandom for_event(uint64_t seed, int64_t id) { return NexmarkRandom(mix(seed ^ mix(static_cast<uint64_t>(id)))); }
  explicit NexmarkRandom(uint64_t state) : state_(state) {}
  uint64_t next_long() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound), bound in [1, 2^31).
  int32_t next_int(int32_t bound) { return static_cast<int32_t>(((next_long() >> 32) * static_cast<uint64_t>(bound)) >> 32); }
  /// Uniform in [0, n) for n >= 1 (any size).
  int64_t next_long(int64_t n) {
    if (n < 0x7FFFFFFF) return next_int(static_cast<int32_t>(n));
    return static_cast<int64_t>(next_long() % static_cast<uint64_t>(n));
  }
  /// Uniform in [0, 1) with 53 bits.
  double next_double() { return static_cast<double>(next_long() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

/// The tables every event draws from, made once per seed.
class Tables {
 public:
  static constexpr const char* kFirstNames[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                                "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
  static constexpr const char* kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                               "Walton", "Smith",  "Jones",   "Noris"};
  static constexpr int kExtraPool = 1 << 20;
  static constexpr int kChannels = 10'000;
  explicit Tables(uint64_t seed) : seed(seed) {
    for (int i = 0; i < 11; ++i)
      for (int j = 0; j < 9; ++j) names[9 * i + j] = std::string(kFirstNames[i]) + " " + kLastNames[j];
    NexmarkRandom r(NexmarkRandom::mix(seed ^ 0x6E65786D61726Bull));  // "nexmark"
    extra_pool.resize(kExtraPool);
    for (auto& c : extra_pool) c = static_cast<char>('a' + r.next_int(26));
    for (auto& u : hot_urls) u = base_url(r);
    channels.reserve(kChannels);
    for (int i = 0; i < kChannels; ++i) {
      std::string url = base_url(r);
      if (r.next_int(10) > 0) {
        // As the suite: the absolute value of the bit-reversed index, as a 32-bit int.
        uint32_t x = static_cast<uint32_t>(i), rev = 0;
        for (int b = 0; b < 32; ++b) rev |= ((x >> b) & 1u) << (31 - b);
        const int32_t s = static_cast<int32_t>(rev);
        const int64_t a = s == INT32_MIN ? static_cast<int64_t>(s) : (s < 0 ? -static_cast<int64_t>(s) : s);
        url += "&channel_id=" + std::to_string(a);
      }
      channels.emplace_back("channel-" + std::to_string(i), std::move(url));
    }
    // A compact index of the channels (24 bytes each) for the random lookups of bids.
    channel_refs.reserve(kChannels);
    for (const auto& [channel, url] : channels) {
      channel_refs.push_back(ChannelRef{channel.data(), url.data(), static_cast<uint32_t>(channel.size()),
                                        static_cast<uint32_t>(url.size())});
    }
  }
  /// `max_length`: 3 + [0, max_length - 3) letters, a `special` one time in 13, trimmed of spaces
  /// at both ends (Java's String.trim: every char <= ' ').
  static std::string next_string(NexmarkRandom& r, int max_length, char special = ' ') {
    int len = 3 + r.next_int(max_length - 3);
    std::string s;
    s.reserve(len);
    while (len-- > 0) s.push_back(r.next_int(13) == 0 ? special : static_cast<char>('a' + r.next_int(26)));
    std::size_t b = 0, e = s.size();
    while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
    while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
    return s.substr(b, e - b);
  }
  Text next_extra(NexmarkRandom& r, int current_size, int desired_average) const {
    if (current_size > desired_average) return {};
    desired_average -= current_size;
    const int delta = static_cast<int>(std::llround(desired_average * 0.2));
    const int min_size = desired_average - delta;
    const int size = min_size + (delta == 0 ? 0 : r.next_int(2 * delta));
    const int offset = r.next_int(kExtraPool - size);
    return Text::borrowed(std::string_view(extra_pool).substr(offset, size));
  }

  /// The tables of `seed`, made once and kept for the life of the process (events view them).
  static const Tables& of(uint64_t seed) {
    static std::mutex mu;
    static std::vector<std::unique_ptr<const Tables>>* all = new std::vector<std::unique_ptr<const Tables>>();
    std::lock_guard lock(mu);
    for (const auto& t : *all)
      if (t->seed == seed) return *t;
    all->push_back(std::make_unique<const Tables>(seed));
    return *all->back();
  }

  uint64_t seed;
  std::string extra_pool;
  std::array<std::string, 4> hot_urls;
  std::array<std::string, 99> names;  // first name i, last name j at 9 * i + j
  std::vector<std::pair<std::string, std::string>> channels;
  struct ChannelRef {
    const char* channel;
    const char* url;
    uint32_t channel_size, url_size;
  };
  std::vector<ChannelRef> channel_refs;

 private:
  static std::string base_url(NexmarkRandom& r) {
    std::string u = "https://www.nexmark.com/";
    u += next_string(r, 5, '_');
    u += '/';
    u += next_string(r, 5, '_');
    u += '/';
    u += next_string(r, 5, '_');
    u += "/item.htm?query=1";
    return u;
  }
};

/// Makes event `id`. Stateless: any event can be made in any order.
class Generator {
 public:
  explicit Generator(Config c) : c_(c), t_(&Tables::of(c.seed)) {}
  const Config& config() const { return c_; }
  const Tables& tables() const { return *t_; }

  Event event(int64_t id) const {
    NexmarkRandom r = NexmarkRandom::for_event(c_.seed, id);
    const int64_t ts = c_.timestamp(id);
    const int64_t rem = id % c_.total_proportion();
    if (rem < c_.person_proportion) return Event{person(id, r, ts)};
    if (rem < c_.person_proportion + c_.auction_proportion) return Event{auction(id, r, ts)};
    return Event{bid(id, r, ts)};
  }

  int64_t last_base0_person_id(int64_t id) const {
    const int64_t epoch = id / c_.total_proportion();
    int64_t offset = id % c_.total_proportion();
    if (offset >= c_.person_proportion) offset = c_.person_proportion - 1;
    return epoch * c_.person_proportion + offset;
  }
  int64_t last_base0_auction_id(int64_t id) const {
    int64_t epoch = id / c_.total_proportion();
    int64_t offset = id % c_.total_proportion();
    if (offset < c_.person_proportion) {
      --epoch;
      offset = c_.auction_proportion - 1;
    } else if (offset >= c_.person_proportion + c_.auction_proportion) {
      offset = c_.auction_proportion - 1;
    } else {
      offset -= c_.person_proportion;
    }
    return epoch * c_.auction_proportion + offset;
  }

 private:
  static constexpr const char* kStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  static constexpr const char* kCities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                                            "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};

  int64_t next_base0_person_id(int64_t id, NexmarkRandom& r) const {
    const int64_t num_people = last_base0_person_id(id) + 1;
    const int64_t active = std::min<int64_t>(num_people, c_.num_active_people);
    const int64_t n = r.next_long(active + 10);
    return num_people - active + n;
  }
  int64_t next_base0_auction_id(int64_t id, NexmarkRandom& r) const {
    const int64_t max_auction = last_base0_auction_id(id);
    const int64_t min_auction = std::max<int64_t>(max_auction - c_.num_in_flight_auctions, 0);
    return min_auction + r.next_long(max_auction - min_auction + 1 + 10);
  }
  static int64_t next_price(NexmarkRandom& r) {
    return static_cast<int64_t>(std::llround(std::pow(10.0, r.next_double() * 6.0) * 100.0));
  }

  Person person(int64_t id, NexmarkRandom& r, int64_t ts) const {
    Person p;
    p.id = last_base0_person_id(id) + kFirstPersonId;
    const int first = r.next_int(11);
    p.name = Text::borrowed(t_->names[9 * first + r.next_int(9)]);
    // Draws in the order Java evaluates them (left to right); C++ leaves the operands of + unsequenced.
    p.email_address = Tables::next_string(r, 7);
    p.email_address += '@';
    p.email_address += Tables::next_string(r, 5);
    p.email_address += ".com";
    p.credit_card.reserve(19);
    for (int i = 0; i < 4; ++i) {
      if (i > 0) p.credit_card.push_back(' ');
      char buf[8];
      std::snprintf(buf, sizeof buf, "%04d", r.next_int(10000));
      p.credit_card += buf;
    }
    p.city = Text::borrowed(kCities[r.next_int(10)]);
    p.state = Text::borrowed(kStates[r.next_int(6)]);
    p.date_time = ts;
    const int size = 8 + static_cast<int>(p.name.size() + p.email_address.size() + p.credit_card.size() + p.city.size() +
                                          p.state.size());
    p.extra = t_->next_extra(r, size, c_.avg_person_bytes);
    return p;
  }

  Auction auction(int64_t id, NexmarkRandom& r, int64_t ts) const {
    Auction a;
    a.id = last_base0_auction_id(id) + kFirstAuctionId;
    int64_t seller;
    if (r.next_int(c_.hot_sellers_ratio) > 0) {
      seller = (last_base0_person_id(id) / 100) * 100;  // the first of the last 100 people
    } else {
      seller = next_base0_person_id(id, r);
    }
    a.seller = seller + kFirstPersonId;
    a.category = kFirstCategoryId + r.next_int(5);
    a.initial_bid = next_price(r);
    // Expires after 1 + [0, 2 * horizon) ms, the horizon being the event time until
    // num_in_flight_auctions more auctions have been made.
    const int64_t events_for_auctions =
        static_cast<int64_t>(c_.num_in_flight_auctions) * c_.total_proportion() / c_.auction_proportion;
    const int64_t horizon = c_.timestamp(id + events_for_auctions) - ts;
    a.expires = ts + 1 + r.next_long(std::max<int64_t>(horizon * 2, 1));
    a.item_name = Tables::next_string(r, 20);
    a.description = Tables::next_string(r, 100);
    a.reserve = a.initial_bid + next_price(r);
    a.date_time = ts;
    const int size = 8 + static_cast<int>(a.item_name.size() + a.description.size()) + 8 + 8 + 8 + 8 + 8;
    a.extra = t_->next_extra(r, size, c_.avg_auction_bytes);
    return a;
  }

  Bid bid(int64_t id, NexmarkRandom& r, int64_t ts) const {
    Bid b;
    int64_t auction;
    if (r.next_int(c_.hot_auction_ratio) > 0) {
      auction = (last_base0_auction_id(id) / 100) * 100;  // the first of the last 100 auctions
    } else {
      auction = next_base0_auction_id(id, r);
    }
    b.auction = auction + kFirstAuctionId;
    int64_t bidder;
    if (r.next_int(c_.hot_bidders_ratio) > 0) {
      bidder = (last_base0_person_id(id) / 100) * 100 + 1;  // the second of the last 100 people
    } else {
      bidder = next_base0_person_id(id, r);
    }
    b.bidder = bidder + kFirstPersonId;
    b.price = next_price(r);
    if (r.next_int(2) > 0) {
      const int i = r.next_int(4);
      static constexpr const char* kHotChannels[] = {"Google", "Facebook", "Baidu", "Apple"};
      b.channel = Text::borrowed(kHotChannels[i]);
      b.url = Text::borrowed(t_->hot_urls[i]);
    } else {
      const Tables::ChannelRef& c = t_->channel_refs[r.next_int(Tables::kChannels)];
      b.channel = Text::borrowed(std::string_view(c.channel, c.channel_size));
      b.url = Text::borrowed(std::string_view(c.url, c.url_size));
    }
    b.date_time = ts;
    b.extra = t_->next_extra(r, 8 + 8 + 8 + 8, c_.avg_bid_bytes);
    return b;
  }

  Config c_;
  const Tables* t_;  // immortal
};

/// Appends `s` to `out` as a JSON string.
inline void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

/// One JSON line for an event (no newline), fields in the Flink suite's column order and names,
/// times as ms since the epoch. The Java twin writes the same bytes: the first million events
/// hash the same on both sides.
inline std::string to_json(const Event& e) {
  std::string o;
  o.reserve(320);
  auto num = [&o](const char* k, int64_t v) {
    o += '"';
    o += k;
    o += "\":";
    o += std::to_string(v);
  };
  auto str = [&o](const char* k, std::string_view v) {
    o += '"';
    o += k;
    o += "\":";
    json_string(o, v);
  };
  o += "{\"event_type\":";
  o += std::to_string(e.type());
  if (const Person* p = e.person()) {
    o += ",\"person\":{";
    num("id", p->id), o += ',', str("name", p->name), o += ',', str("emailAddress", p->email_address), o += ',';
    str("creditCard", p->credit_card), o += ',', str("city", p->city), o += ',', str("state", p->state), o += ',';
    num("dateTime", p->date_time), o += ',', str("extra", p->extra);
  } else if (const Auction* a = e.auction()) {
    o += ",\"auction\":{";
    num("id", a->id), o += ',', str("itemName", a->item_name), o += ',', str("description", a->description), o += ',';
    num("initialBid", a->initial_bid), o += ',', num("reserve", a->reserve), o += ',', num("dateTime", a->date_time);
    o += ',', num("expires", a->expires), o += ',', num("seller", a->seller), o += ',', num("category", a->category);
    o += ',', str("extra", a->extra);
  } else if (const Bid* b = e.bid()) {
    o += ",\"bid\":{";
    num("auction", b->auction), o += ',', num("bidder", b->bidder), o += ',', num("price", b->price), o += ',';
    str("channel", b->channel), o += ',', str("url", b->url), o += ',', num("dateTime", b->date_time), o += ',';
    str("extra", b->extra);
  }
  o += "}}";
  return o;
}

/// When event time was generated, for latency: each source subtask records (event time, wall
/// clock) as it goes; an output stamped with event time T was caused, at the earliest, by the
/// first event of time >= T any subtask generated. Latency = its arrival at the sink minus that
/// moment. The same definition runs in the Java twin.
class GenerationClock {
 public:
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  explicit GenerationClock(int subtasks) : lanes_(std::max(subtasks, 1)) {}
  /// Subtask `s` has generated events up to event time `event_time` by now.
  void record(int s, int64_t event_time, int64_t wall_ns) {
    Lane& l = lanes_[static_cast<std::size_t>(s) % lanes_.size()];
    std::lock_guard lock(l.mu);
    if (!l.samples.empty() && l.samples.back().first >= event_time) return;
    l.samples.emplace_back(event_time, wall_ns);
  }
  /// The earliest wall time at which some subtask had generated event time >= t; when none has
  /// (a window the end of the input closes), the last sample of any subtask: when the input was
  /// done. nullopt: no sample yet.
  std::optional<int64_t> generated_at(int64_t t) {
    std::optional<int64_t> best, last;
    for (Lane& l : lanes_) {
      std::lock_guard lock(l.mu);
      auto it = std::lower_bound(l.samples.begin(), l.samples.end(), std::pair<int64_t, int64_t>(t, INT64_MIN));
      if (it != l.samples.end() && (!best || it->second < *best)) best = it->second;
      if (!l.samples.empty() && (!last || l.samples.back().second > *last)) last = l.samples.back().second;
    }
    return best ? best : last;
  }

 private:
  struct Lane {
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> samples;
  };
  std::vector<Lane> lanes_;
};

/// The generator as a Weir source: `splits` splits (0: one per subtask), split s of S making
/// event ids s, s+S, s+2S, ... below `config.events`. Its position (the next id) is in
/// checkpoints. Timestamps: each event's date_time. With a GenerationClock it records progress
/// for latency once per read.
class NexmarkSource final : public weir::Source<Event> {
 public:
  explicit NexmarkSource(Config c, int splits = 0, std::shared_ptr<GenerationClock> clock = nullptr)
      : gen_(std::make_shared<Generator>(c)), splits_(splits), clock_(std::move(clock)) {
    if (c.events < 0) throw weir::GraphError("NexmarkSource: the number of events must not be negative");
    if (!(c.rate > 0)) throw weir::GraphError("NexmarkSource: the event rate must be above 0");
  }
  int num_splits(int parallelism) const override { return splits_ > 0 ? splits_ : parallelism; }
  std::unique_ptr<weir::SplitReader<Event>> create_reader(int split, int n) const override {
    struct Reader final : weir::SplitReader<Event> {
      std::shared_ptr<const Generator> gen;
      std::shared_ptr<GenerationClock> clock;
      int split;
      int64_t next, stride;
      Reader(std::shared_ptr<const Generator> g, std::shared_ptr<GenerationClock> c, int s, int64_t st)
          : gen(std::move(g)), clock(std::move(c)), split(s), next(s), stride(st) {}
      Status read(std::size_t max, weir::SourceOutput<Event>& out) override {
        const int64_t end = gen->config().events;
        int64_t last_ts = INT64_MIN;
        for (std::size_t i = 0; i < max && next < end; ++i, next += stride) {
          Event e = gen->event(next);
          last_ts = e.date_time();
          out.collect(std::move(e), last_ts);
        }
        if (clock && last_ts != INT64_MIN) clock->record(split, last_ts, GenerationClock::now_ns());
        return next < end ? Status::kMoreAvailable : Status::kEndOfSplit;
      }
      std::optional<std::string> snapshot_position() const override { return weir::serialize(next); }
      void restore_position(std::string_view p) override { next = weir::deserialize<int64_t>(p); }
    };
    return std::make_unique<Reader>(gen_, clock_, split, n);
  }

 private:
  std::shared_ptr<const Generator> gen_;
  int splits_;
  std::shared_ptr<GenerationClock> clock_;
};

/// The suite's watermark: event time minus 4 s.
inline weir::WatermarkStrategy<Event> watermarks() {
  return weir::WatermarkStrategy<Event>::for_bounded_out_of_orderness(std::chrono::seconds(4))
      .with_timestamp_assigner([](const Event& e, int64_t) { return e.date_time(); });
}

}  // namespace nexmark
