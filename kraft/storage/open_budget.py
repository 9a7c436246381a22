"""A node-wide bound on the bytes its reads hold opened from compressed batches.

A REST read deep inside a compressed batch opens the batch up to its offset, up to
64 MiB (compression.MAX_DECOMPRESSED_BYTES); each read alone is bounded, but reads at
once are not, and a handful of them once took a broker's memory past 600 MB. Every
open takes its bytes here first and gives them back when the read is done; an open
that does not fit is refused at once (Overloaded, retriable: 429 over HTTP), and the
read's caller may wait and try again. Thread-safe: reads open batches on worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kraft.errors import Overloaded

# One open of the largest batch (64 MiB) at a time, or many small ones; other reads deep
# inside huge batches wait their turn. Kafka has no such bound (its brokers never open
# batches to serve a read).
READ_OPEN_BUDGET = 64 << 20


class OpenBudget:
    def __init__(self, limit: int = READ_OPEN_BUDGET) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        """A lease that grows as a read opens more, and gives everything back at its end."""
        lease = Lease(self)
        try:
            yield lease
        finally:
            self._give(lease.held)

    def _take(self, n: int) -> None:
        with self._lock:
            if self.held + n > self.limit:
                raise Overloaded(f"reads on this node hold {self.held} bytes opened from compressed batches "
                                 f"(limit {self.limit}); retry later")
            self.held += n

    def _give(self, n: int) -> None:
        with self._lock:
            self.held -= n


class Lease:
    def __init__(self, budget: OpenBudget) -> None:
        self._budget = budget
        self.held = 0

    def grow_to(self, n: int) -> None:
        """Hold ``n`` bytes in all (more than before, or nothing changes)."""
        if n > self.held:
            self._budget._take(n - self.held)
            self.held = n


READ_OPENS = OpenBudget()  # this node's (one node per process)
