"""How late the node's event loop runs what is due: the first sign of saturation.

Every event (a request, a follower's fetch, a timer) waits for the loop; when it is
busy the wait grows before any request times out. The probe asks to be woken every
INTERVAL_S and records how much later it woke (a Prometheus histogram, so a scrape
shows the spread since start, and rate() over it the recent one).
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

INTERVAL_S = 0.25


class LoopLagProbe:
    """Owned by the node's task group (cancelled at shutdown)."""

    def __init__(self, histogram: Histogram, interval_s: float = INTERVAL_S):
        self._histogram = histogram
        self._interval_s = interval_s

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval_s
            await asyncio.sleep(self._interval_s)
            self._histogram.observe(max(0.0, loop.time() - due))
