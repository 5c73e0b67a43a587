package weir.nexmark;

import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;

/** connector 'weir-nexmark': the generator as a table (the suite's datagen schema). */
public final class NexmarkTableFactory implements DynamicTableSourceFactory {
  public static final ConfigOption<Long> EVENTS = ConfigOptions.key("events").longType().noDefaultValue();
  public static final ConfigOption<Double> RATE = ConfigOptions.key("rate").doubleType().defaultValue(10_000_000.0);
  public static final ConfigOption<Long> SEED = ConfigOptions.key("seed").longType().defaultValue(0L);
  public static final ConfigOption<Boolean> RECORD_PROGRESS =
      ConfigOptions.key("record-progress").booleanType().defaultValue(true);

  @Override
  public String factoryIdentifier() {
    return "weir-nexmark";
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(EVENTS);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(RATE, SEED, RECORD_PROGRESS);
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    ReadableConfig o = helper.getOptions();
    NexmarkGenerator.Config c = new NexmarkGenerator.Config();
    c.events = o.get(EVENTS);
    c.rate = o.get(RATE);
    c.seed = o.get(SEED);
    if (c.events < 0) {
      throw new IllegalArgumentException("weir-nexmark: 'events' must not be negative");
    }
    if (!(c.rate > 0)) {
      throw new IllegalArgumentException("weir-nexmark: 'rate' must be above 0");
    }
    return new Table(c, o.get(RECORD_PROGRESS));
  }

  static final class Table implements ScanTableSource {
    private final NexmarkGenerator.Config config;
    private final boolean recordProgress;

    Table(NexmarkGenerator.Config config, boolean recordProgress) {
      this.config = config;
      this.recordProgress = recordProgress;
    }

    @Override
    public ChangelogMode getChangelogMode() {
      return ChangelogMode.insertOnly();
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext ctx) {
      return SourceProvider.of(new NexmarkSource(config, recordProgress));
    }

    @Override
    public DynamicTableSource copy() {
      return new Table(config, recordProgress);
    }

    @Override
    public String asSummaryString() {
      return "weir-nexmark";
    }
  }
}
