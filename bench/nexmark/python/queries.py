"""Nexmark q0, q1, q2, q5 and q7 with Weir's Python DataStream API (PyFlink's).

Each query takes the stream of Nexmark events (``weir.nexmark.NexmarkSource`` with the suite's
watermarks, event time - 4 s) and returns the stream of its result rows as tuples, the columns in
the order of the suite's SELECT (bench/nexmark/README.md). ``format_row`` writes a row as the
result-table line both engines write: fields joined by ',', integers in decimal, timestamps as ms
since the epoch, DECIMAL with its scale.

The semantics are Flink's Nexmark SQL (nexmark/nexmark, queries/qN.sql):
- q0: every bid (auction, bidder, price, dateTime, extra).
- q1: every bid with its price in euros, 0.908 * price as DECIMAL(23, 3).
- q2: auction, price of the bids whose auction id is a multiple of 123.
- q5: the hottest auctions: per hopping window (10 s, every 2 s) the auctions with the most bids,
  as (auction, num); counted per slice of 2 s first, as Flink's window aggregation does.
- q7: the highest bids: per tumbling window of 10 s its highest price; every bid at that price
  whose dateTime lies in [window end - 10 s, window end] (both ends: a bid at the very end of a
  window also joins it) as (auction, price, bidder, dateTime, extra). Bids below a running
  maximum of their window are dropped before the exchange (see Q7Candidates).
"""
from decimal import Decimal

from weir.common.time import Time
from weir.common.typeinfo import Types
from weir.datastream.functions import FlatMapFunction, KeyedProcessFunction, ProcessWindowFunction
from weir.datastream.state import ValueStateDescriptor
from weir.datastream.window import SlidingEventTimeWindows, TumblingEventTimeWindows
from weir.nexmark import DEFAULT_RATE, NexmarkSource

__all__ = ["QUERIES", "events", "format_row", "q0", "q1", "q2", "q5", "q7"]


def events(env, n, rate=DEFAULT_RATE, seed=0):
    """The suite's event stream: ``n`` events at ``rate`` events per second of event time, with
    the suite's watermarks (each event's dateTime - 4 s)."""
    return env.from_source(NexmarkSource(events=n, rate=rate, seed=seed), NexmarkSource.watermark_strategy(),
                           "nexmark")


def is_bid(e):
    return e.event_type == 2


def format_row(row):
    """A result row as its line in the final table."""
    return ",".join(map(str, row))


# ---- q0: pass-through ------------------------------------------------------------------------------

def q0_row(e):
    b = e.bid
    return b.auction, b.bidder, b.price, b.dateTime, b.extra


def q0(events):
    return events.filter(is_bid).map(q0_row).name("q0")


# ---- q1: currency conversion ---------------------------------------------------------------------

EUROS_PER_DOLLAR = Decimal("0.908")


def q1_row(e):
    b = e.bid
    # DECIMAL(23, 3): the exact product, which has the three decimals of 0.908.
    return b.auction, b.bidder, Decimal(b.price) * EUROS_PER_DOLLAR, b.dateTime, b.extra


def q1(events):
    return events.filter(is_bid).map(q1_row).name("q1")


# ---- q2: selection --------------------------------------------------------------------------------

def q2(events):
    return (events.filter(lambda e: e.event_type == 2 and e.auction % 123 == 0)
            .map(lambda b: (b.auction, b.price))
            .name("q2"))


# ---- q5: hot items --------------------------------------------------------------------------------

def add_counts(a, b):
    return a[0], a[1] + b[1]


class WithWindowEnd(ProcessWindowFunction):
    """An auction's count in a hopping window as (auction, window end, count)."""

    def process(self, key, context, counts):
        for auction, n in counts:
            yield auction, context.window().end, n


class HottestAuctions(ProcessWindowFunction):
    """The counts of one window's auctions: those with the most bids, as (auction, num)."""

    def process(self, key, context, elements):
        top = max(r[2] for r in elements)
        return [(r[0], r[2]) for r in elements if r[2] == top]


def q5(events):
    # As Flink runs HOP aggregates: counts per slice of 2 s (the slide: every bid is counted
    # once), then each window of 10 s sums its five slices. A slice's (a window's) result carries
    # its max timestamp (end - 1), so it lands in the windows that hold its time range.
    slices = (events.filter(is_bid)
              .map(lambda b: (b.auction, 1))
              .key_by(lambda r: r[0])
              .window(TumblingEventTimeWindows.of(Time.seconds(2)))
              .reduce(add_counts)
              .name("q5 bids per auction and slice"))
    counts = (slices.key_by(lambda r: r[0])
              .window(SlidingEventTimeWindows.of(Time.seconds(10), Time.seconds(2)))
              .reduce(add_counts, window_function=WithWindowEnd())
              .name("q5 bids per auction and window"))
    # The tumbling window of 2 s that holds a hopping window's end - 1 holds exactly that
    # window's counts, and fires when they are all in.
    return (counts.key_by(lambda r: r[1])
            .window(TumblingEventTimeWindows.of(Time.seconds(2)))
            .process(HottestAuctions())
            .name("q5"))


# ---- q7: highest bid ------------------------------------------------------------------------------

Q7_WINDOW_MS = 10_000


class Q7Candidates(FlatMapFunction):
    """The bids that may be their window's highest, as (window, own, bid): for the tumbling
    window the bid is in (own) and, when it lies on a window's end, also for the window it ends
    (BETWEEN includes both ends).

    A bid below the highest price this subtask has already seen in the same window cannot be the
    window's highest (that is at least as high) and is dropped here, before the exchange: the
    running maximum rises a few times per window, so few bids go on. This subtask's bids come in
    time order (the generator's); a bid of an earlier window than the current goes on unfiltered,
    and after a restore the running maxima start again from nothing (dropping less, never more)."""

    def open(self, runtime_context):
        self.w = None  # the current window
        self.top = -1  # the highest price seen in it
        self.prev_top = -1  # ... and in the window before it (-1: unknown)

    def flat_map(self, e):
        if e.event_type != 2:
            return None
        t = e.dateTime
        w = t // Q7_WINDOW_MS
        p = e.price
        if w != self.w:
            if self.w is not None and w < self.w:
                return ((w, True, e), (w - 1, False, e)) if t % Q7_WINDOW_MS == 0 else ((w, True, e),)
            self.prev_top = self.top if self.w == w - 1 else -1
            self.w = w
            self.top = -1
        if p >= self.top:
            self.top = p
            if t % Q7_WINDOW_MS == 0 and p >= self.prev_top:
                return (w, True, e), (w - 1, False, e)
            return (w, True, e),
        if t % Q7_WINDOW_MS == 0 and p >= self.prev_top:
            return (w - 1, False, e),
        return None


class HighestBids(KeyedProcessFunction):
    """Per window: the highest price of its own bids, its bids at that price and the bids at its
    end; when the watermark passes the end, the bids at the highest price."""

    def open(self, runtime_context):
        self.window = runtime_context.get_state(ValueStateDescriptor("q7-window", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value, ctx):
        w, own, b = value
        s = self.window.value()
        if s is None:
            s = [-1, [], []]  # highest price, own bids at it, bids at the window's end
            ctx.timer_service().register_event_time_timer((w + 1) * Q7_WINDOW_MS)
        elif own and b.price < s[0]:
            return
        if own:
            if b.price > s[0]:
                s[0] = b.price
                s[1] = [b]
            else:
                s[1].append(b)
        else:
            s[2].append(b)
        self.window.update(s)

    def on_timer(self, timestamp, ctx):
        top, bids, at_end = self.window.value()
        self.window.clear()
        for b in bids:
            yield b.auction, b.price, b.bidder, b.dateTime, b.extra
        for b in at_end:
            if b.price == top:
                yield b.auction, b.price, b.bidder, b.dateTime, b.extra


def q7(events):
    return (events.flat_map(Q7Candidates())
            .key_by(lambda r: r[0])
            .process(HighestBids())
            .name("q7"))


QUERIES = {"q0": q0, "q1": q1, "q2": q2, "q5": q5, "q7": q7}
