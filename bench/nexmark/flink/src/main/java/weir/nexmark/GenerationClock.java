package weir.nexmark;

/**
 * When event time was generated, for latency (GenerationClock of nexmark.h): each source split
 * records (event time, wall clock) as it goes, once per 1,024 events; a row stamped with event time
 * T was caused, at the earliest, by the first event of time >= T any split generated. One per JVM
 * (the sources and sinks of the local cluster run in this JVM).
 */
public final class GenerationClock {
  private static final class Lane {
    long[] times = new long[1024];
    long[] walls = new long[1024];
    int size;
  }

  private static volatile Lane[] lanes = {new Lane()};

  private GenerationClock() {}

  public static long nowNs() {
    return System.nanoTime();
  }

  /** Forgets every sample; {@code splits} lanes. */
  public static void reset(int splits) {
    Lane[] l = new Lane[Math.max(splits, 1)];
    for (int i = 0; i < l.length; i++) {
      l[i] = new Lane();
    }
    lanes = l;
  }

  /** Split {@code s} has generated events up to {@code eventTime} by {@code wallNs}. */
  public static void record(int s, long eventTime, long wallNs) {
    Lane[] ls = lanes;
    Lane l = ls[s % ls.length];
    synchronized (l) {
      if (l.size > 0 && l.times[l.size - 1] >= eventTime) {
        return;
      }
      if (l.size == l.times.length) {
        l.times = java.util.Arrays.copyOf(l.times, l.size * 2);
        l.walls = java.util.Arrays.copyOf(l.walls, l.size * 2);
      }
      l.times[l.size] = eventTime;
      l.walls[l.size] = wallNs;
      l.size++;
    }
  }

  /**
   * The earliest wall time at which some split had generated event time >= t; when none has (a
   * window the end of the input closes), the last sample of any split: when the input was done.
   * MIN_VALUE: no sample yet.
   */
  public static long generatedAt(long t) {
    long best = Long.MIN_VALUE;
    long last = Long.MIN_VALUE;
    for (Lane l : lanes) {
      synchronized (l) {
        int lo = 0, hi = l.size;
        while (lo < hi) {
          int mid = (lo + hi) >>> 1;
          if (l.times[mid] < t) {
            lo = mid + 1;
          } else {
            hi = mid;
          }
        }
        if (lo < l.size && (best == Long.MIN_VALUE || l.walls[lo] < best)) {
          best = l.walls[lo];
        }
        if (l.size > 0 && l.walls[l.size - 1] > last) {
          last = l.walls[l.size - 1];
        }
      }
    }
    return best != Long.MIN_VALUE ? best : last;
  }
}
