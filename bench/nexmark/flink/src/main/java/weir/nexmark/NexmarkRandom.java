package weir.nexmark;

/**
 * splitmix64, one generator per event: the twin of {@code NexmarkRandom} in bench/nexmark/nexmark.h.
 * Java's long arithmetic wraps like C++'s uint64_t; right shifts are unsigned ({@code >>>}) and the
 * remainder is {@link Long#remainderUnsigned}, so both sides draw the same numbers.
 */
public final class NexmarkRandom {
  private long state;

  public NexmarkRandom(long state) {
    this.state = state;
  }

  public static long mix(long z) {
    z += 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The generator of event {@code id} under {@code seed}. */
  public static NexmarkRandom forEvent(long seed, long id) {
    return new NexmarkRandom(mix(seed ^ mix(id)));
  }

  public long nextLong() {
    state += 0x9E3779B97F4A7C15L;
    long z = state;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Uniform in [0, bound), bound in [1, 2^31). */
  public int nextInt(int bound) {
    return (int) (((nextLong() >>> 32) * (long) bound) >>> 32);
  }

  /** Uniform in [0, n) for n >= 1. */
  public long nextLong(long n) {
    if (n < 0x7FFFFFFFL) {
      return nextInt((int) n);
    }
    return Long.remainderUnsigned(nextLong(), n);
  }

  /** Uniform in [0, 1) with 53 bits. */
  public double nextDouble() {
    return (double) (nextLong() >>> 11) * 0x1.0p-53;
  }
}
