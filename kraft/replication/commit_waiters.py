"""acks=all writers waiting for a leader's high watermark to pass their last offset.

Kept in offset order, so one HW advance wakes exactly the writers it covers. Waking
every waiter on every change (each append, each follower fetch) cost a pipelined
connection's sixteen waiters sixteen wake-ups per event at saturation, each to find
its offset still uncommitted.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class CommitWaiters:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future]] = []  # (last offset, arrival, future)
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def past(self, last_offset: int) -> asyncio.Future:
        """A future resolved once the HW passes last_offset, or at any role change."""
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (last_offset, next(self._arrivals), future))
        return future

    def release_below(self, hw: int) -> None:
        """Wake the writers whose last offset is below hw (committed)."""
        heap = self._heap
        while heap and heap[0][0] < hw:
            _wake(heapq.heappop(heap)[2])

    def release_all(self) -> None:
        """Wake everyone (leadership moved or ended): each checks what happened."""
        heap, self._heap = self._heap, []
        for _, _, future in heap:
            _wake(future)


def _wake(future: asyncio.Future) -> None:
    if not future.done():  # a writer that timed out cancelled its own
        future.set_result(None)
