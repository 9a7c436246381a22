"""A broadcast "something changed" signal for long-polls on one event loop.

Waiters re-check their own condition after each pulse, so one signal serves
acks=all waiters, follower long-polls and consumer long-polls alike.

A wait is one future of the waiter's own, put in each signal's set of waiters (a
follower's long poll waits on every partition of its session, dozens when the
internal topics are there): cheaper than asyncio.wait over a future per signal,
which hangs a callback on each and takes it off again at every wake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class ChangeSignal:
    __slots__ = ("_waiters", "version")

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future] = set()
        self.version = 0  # pulses so far: lets a reader tell whether anything changed since it looked

    def pulse(self) -> None:
        self.version += 1
        if self._waiters:
            waiters, self._waiters = self._waiters, set()
            for waiter in waiters:
                _wake(waiter)

    async def wait(self, timeout_s: float) -> None:
        """Return at the next pulse or after timeout_s, whichever comes first."""
        await wait_any((self,), timeout_s)


async def wait_any(signals: Iterable[ChangeSignal], timeout_s: float) -> None:
    """Return at the next pulse of any of signals or after timeout_s; at once when
    there are none."""
    signals = tuple(signals)
    if not signals or timeout_s <= 0:
        return
    loop = asyncio.get_running_loop()
    woken = loop.create_future()
    for signal in signals:
        signal._waiters.add(woken)
    timer = loop.call_later(timeout_s, _wake, woken)
    try:
        await woken
    finally:
        timer.cancel()
        for signal in signals:
            signal._waiters.discard(woken)


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)
