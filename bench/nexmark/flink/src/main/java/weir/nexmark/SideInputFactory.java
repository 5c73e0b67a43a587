package weir.nexmark;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.LookupTableSource;
import org.apache.flink.table.connector.source.lookup.LookupFunctionProvider;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.LookupFunction;

/**
 * connector 'weir-side-input': q13's side table (key BIGINT, value VARCHAR) from a CSV file of
 * "key,value" lines, for lookup joins. The file is read into memory when the join opens, as the
 * suite's legacy CSV table source did for its lookups (Flink 2's filesystem connector does not
 * support lookups).
 */
public final class SideInputFactory implements DynamicTableSourceFactory {
  public static final ConfigOption<String> PATH = ConfigOptions.key("path").stringType().noDefaultValue();

  @Override
  public String factoryIdentifier() {
    return "weir-side-input";
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(PATH);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of();
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    return new Table(helper.getOptions().get(PATH));
  }

  static final class Table implements LookupTableSource {
    private final String path;

    Table(String path) {
      this.path = path;
    }

    @Override
    public LookupRuntimeProvider getLookupRuntimeProvider(LookupContext ctx) {
      int[][] keys = ctx.getKeys();
      if (keys.length != 1 || keys[0].length != 1 || keys[0][0] != 0) {
        throw new IllegalArgumentException("weir-side-input: lookups are by the first column (key) only");
      }
      return LookupFunctionProvider.of(new Lookup(path));
    }

    @Override
    public DynamicTableSource copy() {
      return new Table(path);
    }

    @Override
    public String asSummaryString() {
      return "weir-side-input";
    }
  }

  public static final class Lookup extends LookupFunction {
    private final String path;
    private transient Map<Long, List<RowData>> rows;

    Lookup(String path) {
      this.path = path;
    }

    @Override
    public void open(FunctionContext context) throws Exception {
      rows = new HashMap<>();
      try (BufferedReader r = Files.newBufferedReader(Paths.get(path), StandardCharsets.UTF_8)) {
        String line;
        int n = 0;
        while ((line = r.readLine()) != null) {
          n++;
          if (line.isEmpty()) {
            continue;
          }
          int comma = line.indexOf(',');
          if (comma < 0) {
            throw new IOException("weir-side-input: " + path + " line " + n + ": no ',' in '" + line + "'");
          }
          long key;
          try {
            key = Long.parseLong(line.substring(0, comma));
          } catch (NumberFormatException e) {
            throw new IOException("weir-side-input: " + path + " line " + n + ": bad key in '" + line + "'", e);
          }
          RowData row = GenericRowData.of(key, StringData.fromString(line.substring(comma + 1)));
          rows.computeIfAbsent(key, k -> new java.util.ArrayList<>(1)).add(row);
        }
      }
    }

    @Override
    public Collection<RowData> lookup(RowData keyRow) {
      if (keyRow.isNullAt(0)) {
        return List.of();
      }
      List<RowData> r = rows.get(keyRow.getLong(0));
      return r == null ? List.of() : r;
    }
  }
}
