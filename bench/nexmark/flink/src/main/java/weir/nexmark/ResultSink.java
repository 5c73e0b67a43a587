package weir.nexmark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.types.RowKind;

/**
 * connector 'weir-result': counts rows and samples latency as Weir's ResultSink does (every row of
 * the first 65,536, then one in 256: now minus the moment the generators first reached the row's
 * latency time), or in check mode applies the changelog (+I/+U add, -U/-D remove) to the final
 * table, each row formatted as the README says.
 */
public final class ResultSink implements DynamicTableSinkFactory {
  public static final ConfigOption<Integer> LATENCY_COLUMN =
      ConfigOptions.key("latency-column").intType().defaultValue(-1);
  public static final ConfigOption<Boolean> CHECK = ConfigOptions.key("check").booleanType().defaultValue(false);
  /** Columns (comma-separated indexes) of the key an upsert stream updates; empty: a changelog. */
  public static final ConfigOption<String> UPSERT_KEY = ConfigOptions.key("upsert-key").stringType().defaultValue("");

  /** What the sink writers of this JVM collected. */
  public static final class Results {
    private static long rows;
    private static final List<Long> latencyNs = new ArrayList<>();
    private static final Map<String, Long> table = new HashMap<>();

    public static synchronized void reset() {
      rows = 0;
      latencyNs.clear();
      table.clear();
    }

    static synchronized void merge(long r, long[] lat, int n, Map<String, Long> t) {
      rows += r;
      for (int i = 0; i < n; i++) {
        latencyNs.add(lat[i]);
      }
      for (Map.Entry<String, Long> e : t.entrySet()) {
        table.merge(e.getKey(), e.getValue(), Long::sum);
      }
    }

    public static synchronized long rows() {
      return rows;
    }

    /** p-th percentile of the sampled latencies in ms (-1: none), as Weir's Results::latency_ms. */
    public static synchronized double latencyMs(double p) {
      if (latencyNs.isEmpty()) {
        return -1;
      }
      List<Long> s = new ArrayList<>(latencyNs);
      s.sort(null);
      int i = (int) Math.min(s.size() - 1, (long) (p / 100.0 * s.size()));
      return s.get(i) / 1e6;
    }

    /** The final table, sorted (byte order of the UTF-8 lines, like std::sort on std::string). */
    public static synchronized List<String> table() {
      List<String> out = new ArrayList<>();
      for (Map.Entry<String, Long> e : table.entrySet()) {
        if (e.getValue() < 0) {
          throw new IllegalStateException("row removed more often than added: " + e.getKey());
        }
        for (long i = 0; i < e.getValue(); i++) {
          out.add(e.getKey());
        }
      }
      out.sort(Main::compareBytes);
      return out;
    }
  }

  @Override
  public String factoryIdentifier() {
    return "weir-result";
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of();
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(LATENCY_COLUMN, CHECK, UPSERT_KEY);
  }

  @Override
  public DynamicTableSink createDynamicTableSink(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    List<LogicalType> types = new ArrayList<>();
    context.getCatalogTable().getResolvedSchema().getColumns().forEach(c -> {
      if (c.isPhysical()) {
        types.add(c.getDataType().getLogicalType());
      }
    });
    return new Table(types.toArray(new LogicalType[0]), helper.getOptions().get(LATENCY_COLUMN),
        helper.getOptions().get(CHECK), keyColumns(helper.getOptions().get(UPSERT_KEY)));
  }

  static int[] keyColumns(String spec) {
    return spec.isEmpty() ? new int[0] : java.util.Arrays.stream(spec.split(",")).mapToInt(Integer::parseInt).toArray();
  }

  static final class Table implements DynamicTableSink {
    private final LogicalType[] types;
    private final int latencyColumn;
    private final boolean check;
    private final int[] upsertKey;

    Table(LogicalType[] types, int latencyColumn, boolean check, int[] upsertKey) {
      this.types = types;
      this.latencyColumn = latencyColumn;
      this.check = check;
      this.upsertKey = upsertKey;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requested) {
      if (check) {
        return ChangelogMode.all();
      }
      // As the suite's blackhole sink: every change but UPDATE_BEFORE.
      ChangelogMode.Builder b = ChangelogMode.newBuilder();
      for (RowKind k : requested.getContainedKinds()) {
        if (k != RowKind.UPDATE_BEFORE) {
          b.addContainedKind(k);
        }
      }
      return b.build();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context ctx) {
      return SinkV2Provider.of(new Writers(types, latencyColumn, check, upsertKey));
    }

    @Override
    public DynamicTableSink copy() {
      return new Table(types, latencyColumn, check, upsertKey);
    }

    @Override
    public String asSummaryString() {
      return "weir-result";
    }
  }

  static final class Writers implements Sink<RowData> {
    private final LogicalType[] types;
    private final int latencyColumn;
    private final boolean check;

    private final int[] upsertKey;

    Writers(LogicalType[] types, int latencyColumn, boolean check, int[] upsertKey) {
      this.types = types;
      this.latencyColumn = latencyColumn;
      this.check = check;
      this.upsertKey = upsertKey;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) {
      return new Writer(types, latencyColumn, check, upsertKey);
    }
  }

  static final class Writer implements SinkWriter<RowData> {
    private final RowData.FieldGetter[] getters;
    private final int latencyColumn;
    private final boolean check;
    private long rows;
    private long[] latency = new long[1024];
    private int nLatency;
    private final Map<String, Long> table = new HashMap<>();
    private boolean merged;
    private final int[] upsertKey;
    private final Map<String, String> upserts = new HashMap<>();  // key -> row (upsert streams)

    Writer(LogicalType[] types, int latencyColumn, boolean check, int[] upsertKey) {
      this.upsertKey = upsertKey;
      this.getters = new RowData.FieldGetter[types.length];
      for (int i = 0; i < types.length; i++) {
        getters[i] = RowData.createFieldGetter(types[i], i);
      }
      this.latencyColumn = latencyColumn;
      this.check = check;
    }

    @Override
    public void write(RowData row, Context context) {
      long n = rows++;
      if (check) {
        RowKind k = row.getRowKind();
        if (upsertKey.length > 0) {
          StringBuilder key = new StringBuilder();
          for (int c : upsertKey) {
            key.append(getters[c].getFieldOrNull(row)).append('\u0001');
          }
          String line = format(row);
          if (k == RowKind.INSERT || k == RowKind.UPDATE_AFTER) {
            upserts.put(key.toString(), line);
          } else if (k == RowKind.DELETE || line.equals(upserts.get(key.toString()))) {
            upserts.remove(key.toString());
          }
          return;
        }
        long d = (k == RowKind.INSERT || k == RowKind.UPDATE_AFTER) ? 1 : -1;
        table.merge(format(row), d, Long::sum);
        return;
      }
      if (latencyColumn >= 0 && (n < 65_536 || (n & 255) == 0) && !row.isNullAt(latencyColumn)) {
        long t = row.getTimestamp(latencyColumn, 3).getMillisecond();
        long at = GenerationClock.generatedAt(t);
        if (at != Long.MIN_VALUE) {
          if (nLatency == latency.length) {
            latency = java.util.Arrays.copyOf(latency, nLatency * 2);
          }
          latency[nLatency++] = GenerationClock.nowNs() - at;
        }
      }
    }

    private String format(RowData row) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < getters.length; i++) {
        if (i > 0) {
          sb.append(',');
        }
        Object v = getters[i].getFieldOrNull(row);
        if (v == null) {
          sb.append("null");
        } else if (v instanceof TimestampData) {
          sb.append(((TimestampData) v).getMillisecond());
        } else if (v instanceof DecimalData) {
          sb.append(((DecimalData) v).toBigDecimal().toPlainString());
        } else {
          sb.append(v);
        }
      }
      return sb.toString();
    }

    @Override
    public void flush(boolean endOfInput) {
      if (endOfInput) {
        publish();
      }
    }

    private void publish() {
      if (!merged) {
        merged = true;
        for (String line : upserts.values()) {
          table.merge(line, 1L, Long::sum);
        }
        Results.merge(rows, latency, nLatency, table);
      }
    }

    @Override
    public void close() throws IOException {
      publish();
    }
  }
}
