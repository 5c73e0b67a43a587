"""Testing helpers (Weir's own): a processing-time clock that a test moves by hand.

    clock = ManualClock(start_ms=0)
    env.set_clock(clock)            # before execute(); processing-time timers, windows and
    client = env.execute_async()    # state TTL follow it
    clock.advance(100)              # timers due by then fire on the task threads
"""
from weir import _weir

ManualClock = _weir.ManualClock

__all__ = ["ManualClock"]
