package weir.nexmark;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Nexmark queries as Flink SQL over the views person, auction and bid (the suite's semantics).
 * Each has its SELECT as the final table is compared, and the column its latency is measured from:
 * a column of the SELECT, or one appended in benchmark runs only (README.md, "+ ...").
 */
final class Queries {
  static final class Query {
    final String select;       // check runs
    final String benchSelect;  // benchmark runs (the latency column appended where needed)
    final int latencyColumn;   // in benchSelect; -1: none
    /**
     * Columns (comma-separated) of the key by which the query's result reaches the sink as an
     * upsert stream (INSERT and UPDATE_AFTER, no UPDATE_BEFORE); empty: a changelog.
     */
    String upsertKey = "";

    Query(String select, String benchSelect, int latencyColumn) {
      this.select = select;
      this.benchSelect = benchSelect;
      this.latencyColumn = latencyColumn;
    }
  }

  static final Map<String, Query> ALL = new LinkedHashMap<>();

  private static void same(String name, String sql, int latency) {
    ALL.put(name, new Query(sql, sql, latency));
  }

  private static void plus(String name, String sql, String benchSql, int latency) {
    ALL.put(name, new Query(sql, benchSql, latency));
  }

  static {
    same("q0", "SELECT auction, bidder, price, `dateTime`, extra FROM bid", 3);

    same("q1", "SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra FROM bid", 3);

    plus("q2", "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0",
        "SELECT auction, price, `dateTime` FROM bid WHERE MOD(auction, 123) = 0", 2);

    String q3 = "SELECT P.name, P.city, P.state, A.id%s FROM auction AS A INNER JOIN person AS P ON A.seller = P.id "
        + "WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')";
    plus("q3", String.format(q3, ""), String.format(q3, ", A.`dateTime` AS auction_dateTime"), 4);

    same("q4", "SELECT Q.category, AVG(Q.final) AS final FROM ("
        + " SELECT MAX(B.price) AS final, A.category FROM auction A, bid B"
        + " WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires"
        + " GROUP BY A.id, A.category) Q GROUP BY Q.category", -1);

    String q5 = "SELECT AuctionBids.auction, AuctionBids.num%s FROM ("
        + " SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime"
        + " FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))"
        + " GROUP BY auction, window_start, window_end) AS AuctionBids"
        + " JOIN ("
        + " SELECT MAX(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM ("
        + "  SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime"
        + "  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))"
        + "  GROUP BY auction, window_start, window_end) AS CountBids"
        + " GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids"
        + " ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime"
        + " AND AuctionBids.num >= MaxBids.maxn";
    plus("q5", String.format(q5, ""), String.format(q5, ", AuctionBids.endtime"), 2);

    same("q7", "SELECT B.auction, B.price, B.bidder, B.`dateTime`, B.extra FROM bid B JOIN ("
        + " SELECT MAX(price) AS maxprice, window_end AS `dateTime`"
        + " FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))"
        + " GROUP BY window_start, window_end) B1 ON B.price = B1.maxprice"
        + " WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '10' SECOND AND B1.`dateTime`", 3);

    same("q8", "SELECT P.id, P.name, P.starttime AS stime FROM ("
        + " SELECT id, name, window_start AS starttime, window_end AS endtime"
        + " FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))"
        + " GROUP BY id, name, window_start, window_end) P JOIN ("
        + " SELECT seller, window_start AS starttime, window_end AS endtime"
        + " FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))"
        + " GROUP BY seller, window_start, window_end) A"
        + " ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime", 2);

    same("q9", "SELECT id, itemName, description, initialBid, reserve, `dateTime`, expires, seller, category, extra,"
        + " auction, bidder, price, bid_dateTime, bid_extra FROM ("
        + " SELECT A.*, B.auction, B.bidder, B.price, B.`dateTime` AS bid_dateTime, B.extra AS bid_extra,"
        + " ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.`dateTime` ASC) AS rownum"
        + " FROM auction A, bid B WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires)"
        + " WHERE rownum <= 1", 13);
    // Its Top-1 reaches the sink as an upsert stream by auction id, even when the sink accepts
    // every kind of change.
    ALL.get("q9").upsertKey = "0";

    // q10 writes to the filesystem (see Main); this is its SELECT.
    same("q10", "SELECT auction, bidder, price, `dateTime`, extra, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS dt,"
        + " DATE_FORMAT(`dateTime`, 'HH:mm') AS hm FROM bid", -1);

    same("q11", "SELECT B.bidder, COUNT(*) AS bid_count,"
        + " SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) AS starttime,"
        + " SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) AS endtime"
        + " FROM bid B GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND)", 3);

    same("q12", "SELECT bidder, COUNT(*) AS bid_count, window_start AS starttime, window_end AS endtime"
        + " FROM TABLE(TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))"
        + " GROUP BY bidder, window_start, window_end", -1);  // B: bid with PROCTIME() (see Main)

    same("q13", "SELECT B.auction, B.bidder, B.price, B.`dateTime`, S.`value`"
        + " FROM (SELECT *, PROCTIME() AS p_time FROM bid) B"
        + " JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S ON MOD(B.auction, 10000) = S.key", 3);

    same("q14", "SELECT auction, bidder, 0.908 * price AS price,"
        + " CASE WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime'"
        + " WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime'"
        + " ELSE 'otherTime' END AS bidTimeType,"
        + " `dateTime`, extra, count_char(extra, 'c') AS c_counts"
        + " FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000", 4);

    String counts = " COUNT(*) AS total_bids,"
        + " COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,"
        + " COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,"
        + " COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,"
        + " COUNT(DISTINCT bidder) AS total_bidders,"
        + " COUNT(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders,"
        + " COUNT(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders,"
        + " COUNT(DISTINCT bidder) FILTER (WHERE price >= 1000000) AS rank3_bidders,"
        + " COUNT(DISTINCT auction) AS total_auctions,"
        + " COUNT(DISTINCT auction) FILTER (WHERE price < 10000) AS rank1_auctions,"
        + " COUNT(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_auctions,"
        + " COUNT(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions";
    same("q15", "SELECT DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`," + counts
        + " FROM bid GROUP BY DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')", -1);

    same("q16", "SELECT channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`,"
        + " MAX(DATE_FORMAT(`dateTime`, 'HH:mm')) AS `minute`," + counts
        + " FROM bid GROUP BY channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')", -1);

    same("q17", "SELECT auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`,"
        + " COUNT(*) AS total_bids,"
        + " COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,"
        + " COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,"
        + " COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,"
        + " MIN(price) AS min_price, MAX(price) AS max_price, AVG(price) AS avg_price, SUM(price) AS sum_price"
        + " FROM bid GROUP BY auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')", -1);

    same("q18", "SELECT auction, bidder, price, channel, url, `dateTime`, extra FROM ("
        + " SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number"
        + " FROM bid) WHERE rank_number <= 1", 5);

    same("q19", "SELECT * FROM ("
        + " SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid)"
        + " WHERE rank_number <= 10", 5);

    same("q20", "SELECT auction, bidder, price, channel, url, B.`dateTime` AS bid_dateTime, B.extra AS bid_extra,"
        + " itemName, description, initialBid, reserve, A.`dateTime` AS auction_dateTime, expires, seller,"
        + " category, A.extra AS auction_extra"
        + " FROM bid AS B INNER JOIN auction AS A ON B.auction = A.id WHERE A.category = 10", 5);

    String q21 = "SELECT auction, bidder, price, channel,"
        + " CASE WHEN LOWER(channel) = 'apple' THEN '0'"
        + " WHEN LOWER(channel) = 'google' THEN '1'"
        + " WHEN LOWER(channel) = 'facebook' THEN '2'"
        + " WHEN LOWER(channel) = 'baidu' THEN '3'"
        + " ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id%s FROM bid"
        + " WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL"
        + " OR LOWER(channel) IN ('apple', 'google', 'facebook', 'baidu')";
    plus("q21", String.format(q21, ""), String.format(q21, ", `dateTime`"), 5);

    String q22 = "SELECT auction, bidder, price, channel, SPLIT_INDEX(url, '/', 3) AS dir1,"
        + " SPLIT_INDEX(url, '/', 4) AS dir2, SPLIT_INDEX(url, '/', 5) AS dir3%s FROM bid";
    plus("q22", String.format(q22, ""), String.format(q22, ", `dateTime`"), 7);
  }

  private Queries() {}
}
