package weir.nexmark;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.lib.util.IteratorSourceEnumerator;
import org.apache.flink.api.connector.source.lib.util.IteratorSourceReader;
import org.apache.flink.api.connector.source.lib.util.IteratorSourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;

/**
 * The generator as a FLIP-27 source of RowData in the schema of the suite's {@code datagen} table
 * (event_type, person, auction, bid). Split s of P makes event ids s, s+P, s+2P, ... (as Weir's
 * NexmarkSource); its position (the next id) is in checkpoints.
 */
public final class NexmarkSource
    implements Source<RowData, NexmarkSource.Split, Collection<NexmarkSource.Split>> {
  private final NexmarkGenerator.Config config;
  private final boolean recordProgress;

  public NexmarkSource(NexmarkGenerator.Config config, boolean recordProgress) {
    this.config = config;
    this.recordProgress = recordProgress;
  }

  /** Split {@code index}: ids index, index + stride, ... below events, from {@code next} on. */
  public static final class Split implements IteratorSourceSplit<RowData, Events> {
    final NexmarkGenerator.Config config;
    final boolean recordProgress;
    final int index;
    final int stride;
    final long next;

    Split(NexmarkGenerator.Config config, boolean recordProgress, int index, int stride, long next) {
      this.config = config;
      this.recordProgress = recordProgress;
      this.index = index;
      this.stride = stride;
      this.next = next;
    }

    @Override
    public String splitId() {
      return Integer.toString(index);
    }

    @Override
    public Events getIterator() {
      return new Events(new NexmarkGenerator(config), recordProgress, index, stride, next);
    }

    @Override
    public IteratorSourceSplit<RowData, Events> getUpdatedSplitForIterator(Events it) {
      return new Split(config, recordProgress, index, stride, it.next);
    }
  }

  /** The events of one split as rows; records generation progress once per 1,024 events. */
  public static final class Events implements Iterator<RowData> {
    private final NexmarkGenerator gen;
    private final boolean recordProgress;
    private final int lane;
    private final int stride;
    private final long end;
    long next;
    private int count;

    Events(NexmarkGenerator gen, boolean recordProgress, int lane, int stride, long next) {
      this.gen = gen;
      this.recordProgress = recordProgress;
      this.lane = lane;
      this.stride = stride;
      this.end = gen.config().events;
      this.next = next;
    }

    @Override
    public boolean hasNext() {
      return next < end;
    }

    @Override
    public RowData next() {
      if (next >= end) {
        throw new NoSuchElementException();
      }
      NexmarkGenerator.Event e = gen.event(next);
      next += stride;
      if (recordProgress && ((count++ & 1023) == 0 || next >= end)) {
        GenerationClock.record(lane, e.dateTime(), GenerationClock.nowNs());
      }
      return toRow(e);
    }
  }

  private static StringData s(String v) {
    return StringData.fromString(v);
  }

  private static TimestampData ts(long ms) {
    return TimestampData.fromEpochMillis(ms);
  }

  static RowData toRow(NexmarkGenerator.Event e) {
    GenericRowData row = new GenericRowData(4);
    row.setField(0, e.type);
    if (e.type == 0) {
      NexmarkGenerator.Person p = e.person;
      row.setField(1, GenericRowData.of(p.id, s(p.name), s(p.emailAddress), s(p.creditCard), s(p.city), s(p.state),
          ts(p.dateTime), s(p.extra)));
    } else if (e.type == 1) {
      NexmarkGenerator.Auction a = e.auction;
      row.setField(2, GenericRowData.of(a.id, s(a.itemName), s(a.description), a.initialBid, a.reserve, ts(a.dateTime),
          ts(a.expires), a.seller, a.category, s(a.extra)));
    } else {
      NexmarkGenerator.Bid b = e.bid;
      row.setField(3, GenericRowData.of(b.auction, b.bidder, b.price, s(b.channel), s(b.url), ts(b.dateTime),
          s(b.extra)));
    }
    return row;
  }

  @Override
  public Boundedness getBoundedness() {
    return Boundedness.BOUNDED;
  }

  @Override
  public SplitEnumerator<Split, Collection<Split>> createEnumerator(SplitEnumeratorContext<Split> ctx) {
    int p = ctx.currentParallelism();
    List<Split> splits = new ArrayList<>();
    for (int s = 0; s < p; s++) {
      splits.add(new Split(config, recordProgress, s, p, s));
    }
    return new IteratorSourceEnumerator<>(ctx, splits);
  }

  @Override
  public SplitEnumerator<Split, Collection<Split>> restoreEnumerator(
      SplitEnumeratorContext<Split> ctx, Collection<Split> checkpoint) {
    return new IteratorSourceEnumerator<>(ctx, checkpoint);
  }

  @Override
  public SourceReader<RowData, Split> createReader(SourceReaderContext ctx) {
    return new IteratorSourceReader<>(ctx);
  }

  private final class SplitSerializer implements SimpleVersionedSerializer<Split> {
    @Override
    public int getVersion() {
      return 1;
    }

    @Override
    public byte[] serialize(Split s) throws IOException {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeInt(s.index);
      out.writeInt(s.stride);
      out.writeLong(s.next);
      out.flush();
      return bytes.toByteArray();
    }

    @Override
    public Split deserialize(int version, byte[] b) throws IOException {
      if (version != 1) {
        throw new IOException("NexmarkSource: unknown split version " + version);
      }
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
      int index = in.readInt();
      int stride = in.readInt();
      long next = in.readLong();
      return new Split(config, recordProgress, index, stride, next);
    }
  }

  @Override
  public SimpleVersionedSerializer<Split> getSplitSerializer() {
    return new SplitSerializer();
  }

  @Override
  public SimpleVersionedSerializer<Collection<Split>> getEnumeratorCheckpointSerializer() {
    SplitSerializer splits = new SplitSerializer();
    return new SimpleVersionedSerializer<>() {
      @Override
      public int getVersion() {
        return 1;
      }

      @Override
      public byte[] serialize(Collection<Split> c) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(c.size());
        for (Split s : c) {
          byte[] b = splits.serialize(s);
          out.writeInt(b.length);
          out.write(b);
        }
        out.flush();
        return bytes.toByteArray();
      }

      @Override
      public Collection<Split> deserialize(int version, byte[] b) throws IOException {
        if (version != 1) {
          throw new IOException("NexmarkSource: unknown enumerator state version " + version);
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
        int n = in.readInt();
        List<Split> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          byte[] s = new byte[in.readInt()];
          in.readFully(s);
          out.add(splits.deserialize(1, s));
        }
        return out;
      }
    };
  }
}
