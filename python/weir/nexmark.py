"""The Nexmark benchmark's events as a source of Python jobs.

``NexmarkSource`` is Weir's C++ Nexmark generator (the one ``weir-nexmark`` and the C++ queries
read, bench/nexmark/nexmark.h): a parallel, checkpointable source whose stream is the same at
any parallelism (subtask s of P makes event ids s, s+P, ...), deterministic for a seed::

    from weir.common import WatermarkStrategy, Duration
    from weir.datastream import StreamExecutionEnvironment
    from weir.nexmark import NexmarkSource

    env = StreamExecutionEnvironment.get_execution_environment()
    events = env.from_source(NexmarkSource(events=1_000_000, rate=1000, seed=7),
                             WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(4)),
                             "nexmark")
    bids = events.filter(lambda e: e.event_type == 2)
    bids.map(lambda e: (e.bid.auction, e.bid.price)).print()
    env.execute("q2-ish")

The events
----------
Each event is one object of its kind: a ``Person`` (``event_type`` 0), an ``Auction`` (1) or a
``Bid`` (2). Their attributes carry the suite's column names:

- ``Person``: id, name, emailAddress, creditCard, city, state, dateTime, extra
- ``Auction``: id, itemName, description, initialBid, reserve, dateTime, expires, seller,
  category, extra
- ``Bid``: auction, bidder, price, channel, url, dateTime, extra

As in a row of the suite's ``datagen`` table, every event also has ``event_type`` and
``person`` / ``auction`` / ``bid``: the event itself for its own kind and None for the others, so
``e.bid.price`` and ``e.event_type == 2`` read as the suite's SQL does, and ``e.dateTime`` is
the event's time. One exception: on a ``Bid``, ``auction`` is the bid's own field (the auction's
id, the suite's ``bid.auction``), so tell the kinds apart by ``event_type`` (or ``e.bid is not
None``), not by ``e.auction``. Times are ms since the epoch (the first event at 2026-01-01T00:00:00Z), prices
in cents. The objects are native (one allocation per event; a field becomes a Python value when
it is read), read-only, comparable with ``==``, and picklable.

Timestamps and watermarks
-------------------------
The source's records carry each event's ``dateTime`` as their timestamp: a watermark strategy
without a timestamp assigner uses it (``NexmarkSource.watermark_strategy()`` is the suite's:
bounded out-of-orderness of 4 s). A strategy with a Python ``TimestampAssigner`` also works and
costs a Python call per event.

``events(n, rate, seed)`` makes events in this process, without a job (for references).
"""
from weir import _weir
from weir.datastream.connectors.base import Source

__all__ = ["NexmarkSource", "Person", "Auction", "Bid", "events"]

Person = _weir.Person
Auction = _weir.Auction
Bid = _weir.Bid

#: The suite's default event rate: events per second of event time.
DEFAULT_RATE = 10_000_000


def _config(events, rate, seed):
    for name, v in (("events", events), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("NexmarkSource: %s must be an int, not %r" % (name, v))
    if events < 0:
        raise ValueError("NexmarkSource: events must not be negative, not %d" % events)
    if seed < 0:
        raise ValueError("NexmarkSource: seed must not be negative, not %d" % seed)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise ValueError("NexmarkSource: rate must be a number of events per second above 0, not %r" % (rate,))
    return {"events": int(events), "rate": float(rate), "seed": int(seed)}


class NexmarkSource(Source):
    """``events`` Nexmark events (ids 0 .. events-1) of generator seed ``seed``, at ``rate``
    events per second of event time (event i at base + i / rate; the suite's default is 10 M).
    Use with ``env.from_source(source, watermark_strategy, name)``; bounded (the job ends when
    every event has been read); its position is in checkpoints."""

    def __init__(self, events, rate=DEFAULT_RATE, seed=0):
        self._config = _config(events, rate, seed)

    @staticmethod
    def watermark_strategy():
        """The suite's watermarks: event time (each event's dateTime) minus 4 seconds."""
        from weir.common.time import Duration
        from weir.common.watermark_strategy import WatermarkStrategy
        return WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(4))

    def __repr__(self):
        c = self._config
        return "NexmarkSource(events=%d, rate=%r, seed=%d)" % (c["events"], c["rate"], c["seed"])

    def _weir_source(self, env, watermark_strategy, source_name):
        from weir.datastream.data_stream import DataStream
        kind, bound_ms, idle_ms, assigner = watermark_strategy._args()
        config = dict(self._config, name=str(source_name))
        if assigner is None:
            config.update(wm_kind=kind, wm_bound_ms=int(bound_ms), wm_idle_ms=int(idle_ms))
        else:
            config.update(wm_kind="none", wm_bound_ms=0, wm_idle_ms=0)
        stream = DataStream(_weir.nexmark_source(env._j, config), env, None)
        if assigner is not None:
            stream = stream.assign_timestamps_and_watermarks(watermark_strategy)
        return stream


def events(n, rate=DEFAULT_RATE, seed=0, start=0):
    """Events ``start`` .. ``n - 1`` of the generator, as a list (made in this process)."""
    return _weir.nexmark_events(_config(n, rate, seed), int(start), int(n))
