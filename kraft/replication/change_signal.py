"""A broadcast "something changed" signal for long-polls on one event loop.

Waiters re-check their own condition after each pulse, so one signal serves
acks=all waiters, follower long-polls and consumer long-polls alike.

A wait is one future of the waiter's own, put in each signal's set of waiters (a
follower's long poll waits on every partition of its session, dozens when the
internal topics are there): cheaper than asyncio.wait over a future per signal,
which hangs a callback on each and takes it off again at every wake.

A Watch is the other way round, for a waiter that follows thousands of signals (a
follower's fetch session names every partition it follows from a leader): it is put in
each signal's Watchers once, and a pulse notes the signal's key in it. The waiter then
looks only at the keys noted since it last looked, and waits on the watch alone, so
neither its wait nor its look grows with the partitions that did not change.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable, Iterable


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


class Watch:
    """The keys of the watched signals that pulsed since the last take(), and one waiter
    woken by a pulse that asks for it (one that came while nobody waited is kept)."""
    __slots__ = ("changed", "recheck", "_waiter", "_woken", "__weakref__")

    def __init__(self) -> None:
        self.changed: set[Hashable] = set()
        self.recheck: set[Hashable] = set()  # to look at once more, at the waiter's next start
        self._waiter: asyncio.Future | None = None
        self._woken = False

    def notice(self, key: Hashable, wake: bool) -> None:
        self.changed.add(key)
        if wake:
            if self._waiter is not None:
                _wake(self._waiter)
            else:
                self._woken = True

    def take(self) -> set[Hashable]:
        taken, self.changed, self._woken = self.changed, set(), False
        return taken

    def take_recheck(self) -> set[Hashable]:
        taken, self.recheck = self.recheck, set()
        return taken

    async def wait(self, timeout_s: float) -> None:
        """Until a pulse that wakes, or timeout_s; at once when one came since take()."""
        if timeout_s <= 0 or self._woken or self._waiter is not None:
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(timeout_s, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


class Watchers:
    """The watches following one signal, each with the key it knows the signal by. Held
    weakly: a watch whose owner is gone (a fetch session evicted) drops out by itself."""
    __slots__ = ("_watches",)

    def __init__(self) -> None:
        self._watches: weakref.WeakKeyDictionary[Watch, Hashable] | None = None

    def add(self, watch: Watch, key: Hashable) -> None:
        if self._watches is None:
            self._watches = weakref.WeakKeyDictionary()
        self._watches[watch] = key

    def discard(self, watch: Watch) -> None:
        if self._watches is not None:
            self._watches.pop(watch, None)

    def notify(self, wake: bool) -> None:
        # every append and HW move passes here: no copy (a notice changes no watchers, and
        # the weak dict defers what the collector drops meanwhile)
        if self._watches:
            for watch, key in self._watches.items():
                watch.notice(key, wake)

    def notify_recheck(self) -> None:
        """Each watch looks at this key once more when it next starts, not in a wait
        already under way (which may rest on what it was told before)."""
        if self._watches:
            for watch, key in self._watches.items():
                watch.recheck.add(key)
