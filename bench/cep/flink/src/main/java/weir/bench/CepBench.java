package weir.bench;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.PatternSelectFunction;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.conditions.SimpleCondition;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.SinkFunction;
import org.apache.flink.streaming.api.windowing.time.Time;

/**
 * The job of bench/cep/cep_bench.cc on Flink CEP: events i = 0..n-1 (key, kind, ts) made by the
 * same function, a keyed followed_by within 10 s in event time, parallelism 1, matches
 * counted. Prints records/s and records per CPU-second of the JVM (all its threads).
 * Usage: CepBench [records] [keys] [runs]
 */
public class CepBench {
  /** Matches counted in this JVM (the local MiniCluster runs the job here). */
  static final AtomicLong MATCHES = new AtomicLong();

  public static class CountingSink implements SinkFunction<Long> {
    @Override
    public void invoke(Long value, Context context) {
      MATCHES.incrementAndGet();
    }
  }

  /** Event: a POJO (Flink's serializer, no Kryo). */
  public static class Ev {
    public long key;
    public int kind;
    public long ts;

    public Ev() {}

    public Ev(long key, int kind, long ts) {
      this.key = key;
      this.kind = kind;
      this.ts = ts;
    }
  }

  static Ev make(long i, long keys) {
    long h = i * 0x9E3779B97F4A7C15L;
    int r = (int) Long.remainderUnsigned(h >>> 33, 10);
    return new Ev(Long.remainderUnsigned(h >>> 13, keys), r < 3 ? 0 : (r < 6 ? 1 : 2), i / 100);
  }

  static double cpuSeconds() {
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    return os.getProcessCpuTime() / 1e9;
  }

  public static void main(String[] args) throws Exception {
    final long n = args.length > 0 ? Long.parseLong(args[0]) : 10_000_000L;
    final long keys = args.length > 1 ? Long.parseLong(args[1]) : 100_000L;
    final int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    List<Double> rate = new ArrayList<>(), perCpu = new ArrayList<>();
    for (int r = 0; r < runs; r++) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(1);
      DataStream<Ev> events = env.fromSequence(0, n - 1)
          .map((MapFunction<Long, Ev>) i -> make(i, keys))
          .returns(Ev.class)
          .assignTimestampsAndWatermarks(WatermarkStrategy.<Ev>forMonotonousTimestamps()
              .withTimestampAssigner((e, t) -> e.ts));
      Pattern<Ev, Ev> p = Pattern.<Ev>begin("a")
          .where(new SimpleCondition<Ev>() {
            @Override
            public boolean filter(Ev e) {
              return e.kind == 0;
            }
          })
          .followedBy("b")
          .where(new SimpleCondition<Ev>() {
            @Override
            public boolean filter(Ev e) {
              return e.kind == 1;
            }
          })
          .within(Time.seconds(10));
      CEP.pattern(events.keyBy(e -> e.key), p)
          .select(new PatternSelectFunction<Ev, Long>() {
            @Override
            public Long select(Map<String, List<Ev>> m) {
              return m.get("b").get(0).ts - m.get("a").get(0).ts;
            }
          })
          .addSink(new CountingSink());
      MATCHES.set(0);
      double c0 = cpuSeconds();
      long t0 = System.nanoTime();
      env.execute("flink cep bench");
      double secs = (System.nanoTime() - t0) / 1e9;
      double cpu = cpuSeconds() - c0;
      rate.add(n / secs);
      perCpu.add(n / cpu);
      System.out.printf("  run %d: %.0f records/s, %.0f records per CPU-second, %d matches%n", r + 1, n / secs, n / cpu,
          MATCHES.get());
    }
    Collections.sort(rate);
    Collections.sort(perCpu);
    System.out.printf("flink cep: %d records, %d keys, parallelism 1: median %.0f records/s, %.0f records per CPU-second%n",
        n, keys, rate.get(rate.size() / 2), perCpu.get(perCpu.size() / 2));
  }
}
