"""A broadcast "something changed" signal for long-polls on one event loop.

Waiters re-check their own condition after each pulse, so one signal serves
acks=all waiters, follower long-polls and consumer long-polls alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class ChangeSignal:
    def __init__(self) -> None:
        self._fut: asyncio.Future | None = None
        self.version = 0  # pulses so far: lets a reader tell whether anything changed since it looked

    def pulse(self) -> None:
        self.version += 1
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def future(self) -> asyncio.Future:
        if self._fut is None:
            self._fut = asyncio.get_running_loop().create_future()
        return self._fut

    async def wait(self, timeout_s: float) -> None:
        """Return at the next pulse or after timeout_s, whichever comes first."""
        if timeout_s <= 0:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self.future())
        except TimeoutError:
            pass


async def wait_any(signals: Iterable[ChangeSignal], timeout_s: float) -> None:
    futures = {s.future() for s in signals}
    if futures and timeout_s > 0:
        await asyncio.wait(futures, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
