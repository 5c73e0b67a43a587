package weir.nexmark;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.bridge.java.StreamStatementSet;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.TimestampKind;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.utils.TypeConversions;

/**
 * Runs one Nexmark query as Flink SQL on a local Flink (a MiniCluster in this JVM) and prints one
 * line in weir-nexmark's format:
 *
 * <pre>
 *   --query qN --events N --parallelism P [--rate R] [--seed S] [--check FILE] [--work-dir DIR]
 *   [--suite-tuning]            the suite's flink-conf table options: mini-batch 2 s / 50,000 rows
 *                               and split distinct aggregates (default: Flink's defaults, off)
 *   --events N --json-lines FILE  the events as JSON lines ('-': standard output)
 * </pre>
 *
 * CPU seconds (the whole JVM: every thread, GC and JIT included) and wall seconds are measured
 * from just before the job is submitted to the cluster until its end; the cluster's start and the
 * SQL planning come before.
 */
public final class Main {
  static int compareBytes(String a, String b) {
    return a.compareTo(b);  // the rows are ASCII: UTF-16 order is byte order
  }

  private static void usage(String msg) {
    System.err.println("flink-nexmark: " + msg);
    System.err.println("usage: --query qN --events N --parallelism P [--rate R] [--seed S] [--check FILE]"
        + " [--work-dir DIR] [--suite-tuning] | --events N --json-lines FILE");
    System.exit(2);
  }

  public static void main(String[] args) throws Exception {
    String query = null, check = null, workDir = null, json = null;
    long events = 10_000_000;
    int parallelism = 1;
    double rate = 10_000_000;
    long seed = 0;
    boolean suiteTuning = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--suite-tuning")) {
        suiteTuning = true;
        continue;
      }
      if (i + 1 >= args.length) {
        usage("missing value for " + a);
      }
      String v = args[++i];
      switch (a) {
        case "--query": query = v; break;
        case "--events": events = Long.parseLong(v); break;
        case "--parallelism": case "-p": parallelism = Integer.parseInt(v); break;
        case "--rate": rate = Double.parseDouble(v); break;
        case "--seed": seed = Long.parseUnsignedLong(v); break;
        case "--check": check = v; break;
        case "--work-dir": workDir = v; break;
        case "--json-lines": json = v; break;
        default: usage("unknown option " + a);
      }
    }
    NexmarkGenerator.Config config = new NexmarkGenerator.Config();
    config.events = events;
    config.rate = rate;
    config.seed = seed;
    if (json != null) {
      writeJson(config, json);
      return;
    }
    if (query == null) {
      usage("name a query with --query");
    }
    Queries.Query q = Queries.ALL.get(query);
    if (q == null) {
      usage("unknown query '" + query + "' (" + String.join(", ", Queries.ALL.keySet()) + ")");
    }
    if (parallelism < 1) {
      usage("the parallelism must be at least 1");
    }
    Path dir = workDir != null ? Paths.get(workDir) : Files.createTempDirectory("flink-nexmark-");
    Files.createDirectories(dir);
    int rc;
    try {
      rc = run(query, q, config, parallelism, check, dir, suiteTuning);
    } finally {
      if (workDir == null) {
        deleteTree(dir);
      }
    }
    System.exit(rc);
  }

  private static void writeJson(NexmarkGenerator.Config config, String path) throws IOException {
    NexmarkGenerator g = new NexmarkGenerator(config);
    OutputStream raw = path.equals("-") ? System.out : Files.newOutputStream(Paths.get(path));
    try (OutputStream out = new BufferedOutputStream(raw, 1 << 20)) {
      for (long i = 0; i < config.events; i++) {
        out.write(NexmarkGenerator.toJson(g.event(i)).getBytes(StandardCharsets.UTF_8));
        out.write('\n');
      }
    }
  }

  /** q13's side input: 10,000 lines "i,i" (as the suite's side_input_gen.sh), made when missing. */
  static Path sideInput(Path dir) throws IOException {
    Path f = dir.resolve("side_input.txt");
    if (!Files.exists(f)) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < 10_000; i++) {
        sb.append(i).append(',').append(i).append('\n');
      }
      Path tmp = Files.createTempFile(dir, "side_input", ".tmp");
      Files.writeString(tmp, sb.toString());
      Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
    return f;
  }

  private static LogicalType regular(LogicalType t) {
    if (t instanceof TimestampType) {
      return new TimestampType(t.isNullable(), TimestampKind.REGULAR, ((TimestampType) t).getPrecision());
    }
    if (t instanceof LocalZonedTimestampType) {
      return new LocalZonedTimestampType(t.isNullable(), TimestampKind.REGULAR,
          ((LocalZonedTimestampType) t).getPrecision());
    }
    return t;
  }

  private static long cpuNs() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static double peakRssMb() {
    try {
      for (String l : Files.readAllLines(Paths.get("/proc/self/status"))) {
        if (l.startsWith("VmHWM:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (IOException e) {
      // no /proc: reported as -1
    }
    return -1;
  }

  private static int run(String name, Queries.Query q, NexmarkGenerator.Config config, int p, String check, Path dir,
      boolean suiteTuning) throws Exception {
    boolean checking = check != null;
    Configuration conf = new Configuration();
    conf.setString("parallelism.default", Integer.toString(p));
    conf.setString("state.backend.type", "hashmap");
    conf.setString("table.local-time-zone", "UTC");
    conf.setString("rest.bind-port", "0");
    conf.setString("taskmanager.numberOfTaskSlots", Integer.toString(p));
    if (suiteTuning) {
      conf.setString("table.exec.mini-batch.enabled", "true");
      conf.setString("table.exec.mini-batch.allow-latency", "2s");
      conf.setString("table.exec.mini-batch.size", "50000");
      conf.setString("table.optimizer.distinct-agg.split.enabled", "true");
    }
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(p, conf);
    StreamTableEnvironment tEnv = StreamTableEnvironment.create(env, EnvironmentSettings.inStreamingMode());
    tEnv.getConfig().set(org.apache.flink.table.api.config.TableConfigOptions.LOCAL_TIME_ZONE, "UTC");
    if (suiteTuning) {
      tEnv.getConfig().getConfiguration().setString("table.exec.mini-batch.enabled", "true");
      tEnv.getConfig().getConfiguration().setString("table.exec.mini-batch.allow-latency", "2s");
      tEnv.getConfig().getConfiguration().setString("table.exec.mini-batch.size", "50000");
      tEnv.getConfig().getConfiguration().setString("table.optimizer.distinct-agg.split.enabled", "true");
    }

    tEnv.executeSql("CREATE TABLE datagen ("
        + " event_type INT,"
        + " person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR,"
        + "  state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,"
        + " auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,"
        + "  `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,"
        + " bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,"
        + "  `dateTime` TIMESTAMP(3), extra VARCHAR>,"
        + " `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime`"
        + "  WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,"
        + " WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND"
        + ") WITH ('connector' = 'weir-nexmark', 'events' = '" + config.events + "', 'rate' = '" + config.rate
        + "', 'seed' = '" + Long.toUnsignedString(config.seed) + "', 'record-progress' = '" + !checking + "')");
    tEnv.executeSql("CREATE VIEW person AS SELECT person.id, person.name, person.emailAddress, person.creditCard,"
        + " person.city, person.state, `dateTime`, person.extra FROM datagen WHERE event_type = 0");
    tEnv.executeSql("CREATE VIEW auction AS SELECT auction.id, auction.itemName, auction.description,"
        + " auction.initialBid, auction.reserve, `dateTime`, auction.expires, auction.seller, auction.category,"
        + " auction.extra FROM datagen WHERE event_type = 1");
    tEnv.executeSql("CREATE VIEW bid AS SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url,"
        + " `dateTime`, bid.extra FROM datagen WHERE event_type = 2");
    if (name.equals("q13")) {
      tEnv.executeSql("CREATE TABLE side_input (key BIGINT, `value` VARCHAR) WITH ('connector' = 'weir-side-input',"
          + " 'path' = '" + sideInput(dir).toAbsolutePath() + "')");
    }
    if (name.equals("q12")) {
      tEnv.executeSql("CREATE VIEW B AS SELECT *, PROCTIME() AS p_time FROM bid");
    }
    if (name.equals("q14")) {
      tEnv.createTemporarySystemFunction("count_char", CountChar.class);
    }

    String select = checking ? q.select : q.benchSelect;
    StreamStatementSet set = tEnv.createStatementSet();
    Path q10Out = null;
    if (name.equals("q10")) {
      q10Out = dir.resolve("q10-" + System.currentTimeMillis() + "-" + ProcessHandle.current().pid());
      tEnv.executeSql("CREATE TABLE nexmark_q10 (auction BIGINT, bidder BIGINT, price BIGINT,"
          + " `dateTime` TIMESTAMP(3), extra VARCHAR, dt STRING, hm STRING) PARTITIONED BY (dt, hm) WITH ("
          + " 'connector' = 'filesystem', 'path' = '" + q10Out.toUri() + "', 'format' = 'csv',"
          + " 'sink.partition-commit.trigger' = 'partition-time', 'sink.partition-commit.delay' = '1 min',"
          + " 'sink.partition-commit.policy.kind' = 'success-file',"
          + " 'partition.time-extractor.timestamp-pattern' = '$dt $hm:00',"
          + " 'sink.rolling-policy.rollover-interval' = '1min', 'sink.rolling-policy.check-interval' = '1min')");
      set.addInsertSql("INSERT INTO nexmark_q10 " + select);
    } else {
      Table t = tEnv.sqlQuery(select);
      Schema.Builder schema = Schema.newBuilder();
      for (Column c : t.getResolvedSchema().getColumns()) {
        schema.column(c.getName(),
            TypeConversions.fromLogicalToDataType(regular(c.getDataType().getLogicalType())));
      }
      TableDescriptor sink = TableDescriptor.forConnector("weir-result").schema(schema.build())
          .option(ResultSink.LATENCY_COLUMN, checking ? -1 : q.latencyColumn)
          .option(ResultSink.CHECK, checking)
          .option(ResultSink.UPSERT_KEY, q.upsertKey).build();
      tEnv.createTemporaryTable("nexmark_sink", sink);
      set.addInsertSql("INSERT INTO nexmark_sink " + select);
    }
    set.attachAsDataStream();
    StreamGraph graph = env.getStreamGraph();
    graph.setJobName("nexmark " + name);
    org.apache.flink.runtime.jobgraph.JobGraph job = graph.getJobGraph(Main.class.getClassLoader(), new JobID());

    GenerationClock.reset(p);
    ResultSink.Results.reset();
    MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder().setConfiguration(conf)
        .setNumTaskManagers(1).setNumSlotsPerTaskManager(p).withRandomPorts().build());
    cluster.start();
    double seconds, cpuSeconds;
    try {
      long cpu0 = cpuNs();
      long t0 = System.nanoTime();
      JobID id = cluster.submitJob(job).get().getJobID();
      JobResult result = cluster.requestJobResult(id).get();
      seconds = (System.nanoTime() - t0) / 1e9;
      cpuSeconds = (cpuNs() - cpu0) / 1e9;
      if (!result.isSuccess()) {
        Throwable cause = result.getSerializedThrowable()
            .map(s -> s.deserializeError(Main.class.getClassLoader())).orElse(null);
        System.err.println("flink-nexmark: " + name + " failed");
        if (cause != null) {
          cause.printStackTrace();
        }
        return 1;
      }
    } finally {
      cluster.closeAsync().get();
    }

    long rows;
    List<String> table;
    if (q10Out != null) {
      table = readQ10(q10Out);
      rows = table.size();
      table.sort(Main::compareBytes);
    } else {
      rows = ResultSink.Results.rows();
      table = checking ? ResultSink.Results.table() : null;
    }
    if (checking) {
      StringBuilder sb = new StringBuilder();
      for (String l : table) {
        sb.append(l).append('\n');
      }
      Files.writeString(Paths.get(check), sb.toString());
    } else {
      System.out.printf(Locale.ROOT,
          "flink %s events=%d parallelism=%d seconds=%.3f cpu_seconds=%.3f events_per_second=%.0f"
              + " events_per_cpu_second=%.0f p50_latency_ms=%.3f p99_latency_ms=%.3f peak_rss_mb=%.1f rows=%d%n",
          name, config.events, p, seconds, cpuSeconds, config.events / seconds, config.events / cpuSeconds,
          ResultSink.Results.latencyMs(50), ResultSink.Results.latencyMs(99), peakRssMb(), rows);
    }
    if (q10Out != null) {
      deleteTree(q10Out);
    }
    return 0;
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      List<Path> all = new ArrayList<>();
      s.forEach(all::add);
      for (int i = all.size() - 1; i >= 0; i--) {
        Files.deleteIfExists(all.get(i));
      }
    }
  }

  /**
   * q10's output read back as result rows: every data file under dt=.../hm=... (CSV lines
   * auction,bidder,price,dateTime,extra) with the partition values appended, times as epoch ms.
   */
  static List<String> readQ10(Path out) throws IOException {
    List<String> rows = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.walk(out)) {
      s.filter(Files::isRegularFile).forEach(files::add);
    }
    for (Path f : files) {
      String fn = f.getFileName().toString();
      if (fn.startsWith("_") || fn.endsWith(".crc")) {
        continue;
      }
      Path rel = out.relativize(f);
      if (rel.getNameCount() != 3) {
        throw new IOException("q10: unexpected file " + f);
      }
      String dt = partition(rel.getName(0).toString(), "dt");
      String hm = partition(rel.getName(1).toString(), "hm");
      for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
        if (line.isEmpty()) {
          continue;
        }
        List<String> c = csvFields(line);
        if (c.size() != 5) {
          throw new IOException("q10: " + f + ": not 5 fields: " + line);
        }
        String ts = c.get(3);
        long ms = LocalDateTime.parse(ts.replace(' ', 'T')).toInstant(ZoneOffset.UTC).toEpochMilli();
        rows.add(c.get(0) + "," + c.get(1) + "," + c.get(2) + "," + ms + "," + c.get(4) + "," + dt + "," + hm);
      }
    }
    return rows;
  }

  /** The fields of one CSV line (RFC 4180 quoting: "..." with "" for a quote). */
  static List<String> csvFields(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder f = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char ch = line.charAt(i);
      if (quoted) {
        if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          f.append('"');
          i++;
        } else if (ch == '"') {
          quoted = false;
        } else {
          f.append(ch);
        }
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == ',') {
        out.add(f.toString());
        f.setLength(0);
      } else {
        f.append(ch);
      }
    }
    out.add(f.toString());
    return out;
  }

  private static String partition(String dirName, String key) throws IOException {
    if (!dirName.startsWith(key + "=")) {
      throw new IOException("q10: expected partition " + key + ", found " + dirName);
    }
    return URLDecoder.decode(dirName.substring(key.length() + 1), StandardCharsets.UTF_8);
  }

  private Main() {}
}
