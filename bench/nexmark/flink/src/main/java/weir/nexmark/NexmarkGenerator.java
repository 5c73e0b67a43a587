package weir.nexmark;

import java.util.HashMap;
import java.util.Map;

/**
 * The Nexmark generator of bench/nexmark/nexmark.h in Java: the same events (the same draws in the
 * same order, the same tables), and the same JSON line per event. Event {@code id} is made from its
 * own random generator, so any event can be made in any order.
 */
public final class NexmarkGenerator {
  public static final long FIRST_AUCTION_ID = 1000;
  public static final long FIRST_PERSON_ID = 1000;
  public static final long FIRST_CATEGORY_ID = 10;

  /** The generator's settings (the suite's defaults, as Config in nexmark.h). */
  public static final class Config implements java.io.Serializable {
    public long seed = 0;
    public long events = 0;
    public double rate = 10_000_000;
    public long baseTime = 1_767_225_600_000L;
    public int personProportion = 1;
    public int auctionProportion = 3;
    public int bidProportion = 46;
    public int avgPersonBytes = 200;
    public int avgAuctionBytes = 500;
    public int avgBidBytes = 100;
    public int hotAuctionRatio = 2;
    public int hotSellersRatio = 4;
    public int hotBiddersRatio = 4;
    public int numInFlightAuctions = 100;
    public int numActivePeople = 1000;

    public int totalProportion() {
      return personProportion + auctionProportion + bidProportion;
    }

    /** Event time of event {@code id}, ms. */
    public long timestamp(long id) {
      return baseTime + ((long) ((double) id * (1_000_000.0 / rate))) / 1000;
    }
  }

  public static final class Person {
    public long id;
    public String name, emailAddress, creditCard, city, state;
    public long dateTime;
    public String extra;
  }

  public static final class Auction {
    public long id;
    public String itemName, description;
    public long initialBid, reserve, dateTime, expires, seller, category;
    public String extra;
  }

  public static final class Bid {
    public long auction, bidder, price;
    public String channel, url;
    public long dateTime;
    public String extra;
  }

  /** One event: exactly one of person, auction, bid is set (type 0, 1, 2). */
  public static final class Event {
    public int type;
    public Person person;
    public Auction auction;
    public Bid bid;

    public long dateTime() {
      return type == 0 ? person.dateTime : type == 1 ? auction.dateTime : bid.dateTime;
    }
  }

  /** The tables every event draws from, made once per seed. */
  public static final class Tables {
    public static final int EXTRA_POOL = 1 << 20;
    public static final int CHANNELS = 10_000;
    final String extraPool;
    final String[] hotUrls = new String[4];
    final String[] channelNames = new String[CHANNELS];
    final String[] channelUrls = new String[CHANNELS];

    private static final Map<Long, Tables> CACHE = new HashMap<>();

    public static synchronized Tables forSeed(long seed) {
      return CACHE.computeIfAbsent(seed, Tables::new);
    }

    Tables(long seed) {
      NexmarkRandom r = new NexmarkRandom(NexmarkRandom.mix(seed ^ 0x6E65786D61726BL));
      char[] pool = new char[EXTRA_POOL];
      for (int i = 0; i < EXTRA_POOL; i++) {
        pool[i] = (char) ('a' + r.nextInt(26));
      }
      extraPool = new String(pool);
      for (int i = 0; i < 4; i++) {
        hotUrls[i] = baseUrl(r);
      }
      for (int i = 0; i < CHANNELS; i++) {
        String url = baseUrl(r);
        if (r.nextInt(10) > 0) {
          // The absolute value of the bit-reversed index as a 32-bit int (MIN_VALUE stays).
          url += "&channel_id=" + Math.abs(Integer.reverse(i));
        }
        channelNames[i] = "channel-" + i;
        channelUrls[i] = url;
      }
    }

    /** 3 + [0, maxLength - 3) letters, {@code special} one time in 13, trimmed (String.trim). */
    static String nextString(NexmarkRandom r, int maxLength, char special) {
      int len = 3 + r.nextInt(maxLength - 3);
      StringBuilder sb = new StringBuilder(len);
      while (len-- > 0) {
        sb.append(r.nextInt(13) == 0 ? special : (char) ('a' + r.nextInt(26)));
      }
      return sb.toString().trim();
    }

    String nextExtra(NexmarkRandom r, int currentSize, int desiredAverage) {
      if (currentSize > desiredAverage) {
        return "";
      }
      desiredAverage -= currentSize;
      int delta = (int) Math.round(desiredAverage * 0.2);
      int minSize = desiredAverage - delta;
      int size = minSize + (delta == 0 ? 0 : r.nextInt(2 * delta));
      int offset = r.nextInt(EXTRA_POOL - size);
      return extraPool.substring(offset, offset + size);
    }

    private static String baseUrl(NexmarkRandom r) {
      String a = nextString(r, 5, '_');
      String b = nextString(r, 5, '_');
      String c = nextString(r, 5, '_');
      return "https://www.nexmark.com/" + a + '/' + b + '/' + c + "/item.htm?query=1";
    }
  }

  private static final String[] STATES = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  private static final String[] CITIES = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"
  };
  private static final String[] FIRST_NAMES = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"
  };
  private static final String[] LAST_NAMES = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"
  };
  private static final String[] HOT_CHANNELS = {"Google", "Facebook", "Baidu", "Apple"};

  private final Config c;
  private final Tables t;

  public NexmarkGenerator(Config c) {
    this.c = c;
    this.t = Tables.forSeed(c.seed);
  }

  public Config config() {
    return c;
  }

  public Event event(long id) {
    NexmarkRandom r = NexmarkRandom.forEvent(c.seed, id);
    long ts = c.timestamp(id);
    long rem = id % c.totalProportion();
    Event e = new Event();
    if (rem < c.personProportion) {
      e.type = 0;
      e.person = person(id, r, ts);
    } else if (rem < c.personProportion + c.auctionProportion) {
      e.type = 1;
      e.auction = auction(id, r, ts);
    } else {
      e.type = 2;
      e.bid = bid(id, r, ts);
    }
    return e;
  }

  long lastBase0PersonId(long id) {
    long epoch = id / c.totalProportion();
    long offset = id % c.totalProportion();
    if (offset >= c.personProportion) {
      offset = c.personProportion - 1;
    }
    return epoch * c.personProportion + offset;
  }

  long lastBase0AuctionId(long id) {
    long epoch = id / c.totalProportion();
    long offset = id % c.totalProportion();
    if (offset < c.personProportion) {
      --epoch;
      offset = c.auctionProportion - 1;
    } else if (offset >= c.personProportion + c.auctionProportion) {
      offset = c.auctionProportion - 1;
    } else {
      offset -= c.personProportion;
    }
    return epoch * c.auctionProportion + offset;
  }

  private long nextBase0PersonId(long id, NexmarkRandom r) {
    long numPeople = lastBase0PersonId(id) + 1;
    long active = Math.min(numPeople, c.numActivePeople);
    long n = r.nextLong(active + 10);
    return numPeople - active + n;
  }

  private long nextBase0AuctionId(long id, NexmarkRandom r) {
    long maxAuction = lastBase0AuctionId(id);
    long minAuction = Math.max(maxAuction - c.numInFlightAuctions, 0);
    return minAuction + r.nextLong(maxAuction - minAuction + 1 + 10);
  }

  private static long nextPrice(NexmarkRandom r) {
    return Math.round(StrictMath.pow(10.0, r.nextDouble() * 6.0) * 100.0);
  }

  private Person person(long id, NexmarkRandom r, long ts) {
    Person p = new Person();
    p.id = lastBase0PersonId(id) + FIRST_PERSON_ID;
    // Left to right, as nexmark.h draws them: first name, last name, the e-mail's user, its host.
    String first = FIRST_NAMES[r.nextInt(11)];
    String last = LAST_NAMES[r.nextInt(9)];
    p.name = first + " " + last;
    String user = Tables.nextString(r, 7, ' ');
    String host = Tables.nextString(r, 5, ' ');
    p.emailAddress = user + "@" + host + ".com";
    StringBuilder cc = new StringBuilder(19);
    for (int i = 0; i < 4; i++) {
      if (i > 0) {
        cc.append(' ');
      }
      String d = Integer.toString(r.nextInt(10000));
      for (int k = d.length(); k < 4; k++) {
        cc.append('0');
      }
      cc.append(d);
    }
    p.creditCard = cc.toString();
    p.city = CITIES[r.nextInt(10)];
    p.state = STATES[r.nextInt(6)];
    p.dateTime = ts;
    int size = 8 + p.name.length() + p.emailAddress.length() + p.creditCard.length() + p.city.length()
        + p.state.length();
    p.extra = t.nextExtra(r, size, c.avgPersonBytes);
    return p;
  }

  private Auction auction(long id, NexmarkRandom r, long ts) {
    Auction a = new Auction();
    a.id = lastBase0AuctionId(id) + FIRST_AUCTION_ID;
    long seller;
    if (r.nextInt(c.hotSellersRatio) > 0) {
      seller = (lastBase0PersonId(id) / 100) * 100;
    } else {
      seller = nextBase0PersonId(id, r);
    }
    a.seller = seller + FIRST_PERSON_ID;
    a.category = FIRST_CATEGORY_ID + r.nextInt(5);
    a.initialBid = nextPrice(r);
    long eventsForAuctions = (long) c.numInFlightAuctions * c.totalProportion() / c.auctionProportion;
    long horizon = c.timestamp(id + eventsForAuctions) - ts;
    a.expires = ts + 1 + r.nextLong(Math.max(horizon * 2, 1));
    a.itemName = Tables.nextString(r, 20, ' ');
    a.description = Tables.nextString(r, 100, ' ');
    a.reserve = a.initialBid + nextPrice(r);
    a.dateTime = ts;
    int size = 8 + a.itemName.length() + a.description.length() + 8 + 8 + 8 + 8 + 8;
    a.extra = t.nextExtra(r, size, c.avgAuctionBytes);
    return a;
  }

  private Bid bid(long id, NexmarkRandom r, long ts) {
    Bid b = new Bid();
    long auction;
    if (r.nextInt(c.hotAuctionRatio) > 0) {
      auction = (lastBase0AuctionId(id) / 100) * 100;
    } else {
      auction = nextBase0AuctionId(id, r);
    }
    b.auction = auction + FIRST_AUCTION_ID;
    long bidder;
    if (r.nextInt(c.hotBiddersRatio) > 0) {
      bidder = (lastBase0PersonId(id) / 100) * 100 + 1;
    } else {
      bidder = nextBase0PersonId(id, r);
    }
    b.bidder = bidder + FIRST_PERSON_ID;
    b.price = nextPrice(r);
    if (r.nextInt(2) > 0) {
      int i = r.nextInt(4);
      b.channel = HOT_CHANNELS[i];
      b.url = t.hotUrls[i];
    } else {
      int i = r.nextInt(Tables.CHANNELS);
      b.channel = t.channelNames[i];
      b.url = t.channelUrls[i];
    }
    b.dateTime = ts;
    b.extra = t.nextExtra(r, 8 + 8 + 8 + 8, c.avgBidBytes);
    return b;
  }

  // ---- JSON lines (the bytes of to_json in nexmark.h) ----

  private static void jsonString(StringBuilder o, String s) {
    o.append('"');
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch == '"' || ch == '\\') {
        o.append('\\').append(ch);
      } else if (ch < 0x20) {
        o.append(String.format("\\u%04x", (int) ch));
      } else {
        o.append(ch);
      }
    }
    o.append('"');
  }

  private static void num(StringBuilder o, String k, long v) {
    o.append('"').append(k).append("\":").append(v);
  }

  private static void str(StringBuilder o, String k, String v) {
    o.append('"').append(k).append("\":");
    jsonString(o, v);
  }

  /** One JSON line (no newline), fields in the suite's column order, times as ms since the epoch. */
  public static String toJson(Event e) {
    StringBuilder o = new StringBuilder(320);
    o.append("{\"event_type\":").append(e.type);
    if (e.type == 0) {
      Person p = e.person;
      o.append(",\"person\":{");
      num(o, "id", p.id); o.append(',');
      str(o, "name", p.name); o.append(',');
      str(o, "emailAddress", p.emailAddress); o.append(',');
      str(o, "creditCard", p.creditCard); o.append(',');
      str(o, "city", p.city); o.append(',');
      str(o, "state", p.state); o.append(',');
      num(o, "dateTime", p.dateTime); o.append(',');
      str(o, "extra", p.extra);
    } else if (e.type == 1) {
      Auction a = e.auction;
      o.append(",\"auction\":{");
      num(o, "id", a.id); o.append(',');
      str(o, "itemName", a.itemName); o.append(',');
      str(o, "description", a.description); o.append(',');
      num(o, "initialBid", a.initialBid); o.append(',');
      num(o, "reserve", a.reserve); o.append(',');
      num(o, "dateTime", a.dateTime); o.append(',');
      num(o, "expires", a.expires); o.append(',');
      num(o, "seller", a.seller); o.append(',');
      num(o, "category", a.category); o.append(',');
      str(o, "extra", a.extra);
    } else {
      Bid b = e.bid;
      o.append(",\"bid\":{");
      num(o, "auction", b.auction); o.append(',');
      num(o, "bidder", b.bidder); o.append(',');
      num(o, "price", b.price); o.append(',');
      str(o, "channel", b.channel); o.append(',');
      str(o, "url", b.url); o.append(',');
      num(o, "dateTime", b.dateTime); o.append(',');
      str(o, "extra", b.extra);
    }
    o.append("}}");
    return o.toString();
  }
}
