"""acks=0 produce: answered once the batch is handed over; the write runs here.

docs/API.md: "acks=0 answers at once with offset -1". The request is checked (topic,
partition, sizes) and encoded before it is answered; the append on the leader, or the
forward to it, happens afterwards in tasks this object owns. Writes to one partition
run one after another, in the order the requests were answered (as Kafka keeps a
producer connection's order), and at most LIMIT batches wait in all: past that a
request waits for room instead of the queue growing without end. A failed write is
counted and logged; nobody is waiting for its answer (that is what acks=0 means).
Stopping the node drops what has not been written yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

LIMIT = 32  # ~3 MB of 100-record batches: enough to keep the writes busy, short enough a wait
Write = Callable[[], Awaitable[object]]


class UnackedWrites:
    def __init__(self, limit: int = LIMIT):
        self._room = asyncio.Semaphore(limit)
        self._lanes: dict[tuple[str, int], deque[Write]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self.failed = 0

    async def run(self) -> None:
        """Owned by the node's task group; cancelling it drops unwritten batches."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                await asyncio.Event().wait()
        finally:
            self._tg = None
            self._lanes.clear()

    @property
    def running(self) -> bool:
        return self._tg is not None

    async def hand_over(self, topic: str, partition: int, write: Write) -> None:
        """Returns once `write` is queued behind the partition's earlier ones."""
        await self._room.acquire()
        tg = self._tg
        if tg is None:  # stopping
            self._room.release()
            raise asyncio.CancelledError()
        key = (topic, partition)
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(write)
            return
        self._lanes[key] = deque([write])
        tg.create_task(self._drain(key), name=f"acks0-{topic}-{partition}")

    async def _drain(self, key: tuple[str, int]) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                write = lane[0]
                try:
                    await write()
                except Exception as exc:  # noqa: BLE001 -- one failed write must not stop the others
                    self.failed += 1
                    log.debug("acks=0 write to %s-%d failed: %s", key[0], key[1], exc)
                finally:
                    lane.popleft()
                    self._room.release()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
