"""Every node keeps the registry's state by reading `_schemas` from its start, through the
same read surface the REST door's consumers use (the partition's leader, wherever it is;
this node need not hold a replica), and applies each record in log order. Readers wait
here until the state holds an offset (a read after a write sees the write)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kraft.errors import KraftError, OffsetOutOfRange
from kraft.registry.schemas_topic import PARTITION, TOPIC
from kraft.schemas.registry_state import RegistryState
from kraft.storage.record_batch import decode_records, iter_batches

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_BYTES = 1024 * 1024
LONG_POLL_MS = 1000
RETRY_S = 0.2

# read(topic, partition, offset, max_bytes, timeout_ms): raw batches from the leader
ReadBatches = Callable[[str, int, int, int, int], Awaitable[bytes]]
# the partition's high watermark, as its leader tells it
HighWatermark = Callable[[str, int], Awaitable[int]]


class SchemaLogFollower:
    def __init__(self, read: ReadBatches, high_watermark: HighWatermark, topic_exists: Callable[[], bool],
                 metadata_current: Callable[[], bool]) -> None:
        self.state = RegistryState()
        self._read = read
        self._high_watermark = high_watermark
        self._topic_exists = topic_exists
        self._metadata_current = metadata_current  # the node is ready: its image has caught up
        self._progress = asyncio.Event()  # set (and replaced) each time records are applied
        # set once the state has read the topic as far as it went when this node started
        # (as Confluent's registry reads its topic to the end before it answers)
        self.loaded = asyncio.Event()
        self._holders = 0  # work reading the state in a worker thread: records wait meanwhile
        self._released = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await self._step()
            except Exception:  # a bug or a damaged record must not stop the node: logged, retried
                log.exception("following %s failed at offset %d; retrying", TOPIC, self.state.applied)
                await asyncio.sleep(RETRY_S)

    async def _step(self) -> None:
        if not self._topic_exists():
            if self._metadata_current():
                self.loaded.set()  # nothing written yet
            await asyncio.sleep(RETRY_S)
            return
        try:
            if not self.loaded.is_set() and self.state.applied >= await self._high_watermark(TOPIC, PARTITION):
                self.loaded.set()
            data = await self._read(TOPIC, PARTITION, self.state.applied, READ_BYTES,
                                    LONG_POLL_MS if self.loaded.is_set() else 0)
        except OffsetOutOfRange as exc:
            self._out_of_range(exc)
            await asyncio.sleep(RETRY_S)
            return
        except KraftError as exc:  # no leader yet, leader moving or unreachable: retry
            log.debug("reading %s: %s; retrying", TOPIC, exc)
            await asyncio.sleep(RETRY_S)
            return
        if data:
            while self._holders:
                await self._released.wait()
            self.apply_batches(data)

    async def beside_loop(self, work: Callable[[RegistryState], T]) -> T:
        """work(state) in a worker thread (parsing and compatibility checks take seconds at
        worst; the event loop keeps serving meanwhile), the state unchanged while it runs."""
        self._holders += 1
        try:
            return await asyncio.to_thread(work, self.state)
        finally:
            self._holders -= 1
            if not self._holders:
                self._released.set()
                self._released = asyncio.Event()

    def _out_of_range(self, exc: OffsetOutOfRange) -> None:
        start = exc.log_start_offset
        if start is not None and self.state.applied < start:
            # records were removed under us (the topic recreated, or its start moved): the
            # state is rebuilt from what the topic holds now
            log.warning("%s starts at %d, past the %d applied: rebuilding the registry's state",
                        TOPIC, start, self.state.applied)
            self.state = RegistryState(applied=start)

    def apply_batches(self, data: bytes) -> None:
        for pos, header in iter_batches(data):
            if header.next_offset <= self.state.applied:
                continue
            if not header.is_control:
                for record in decode_records(data, pos, verify=False):
                    assert record.offset is not None  # decoding sets it
                    self.state.apply(record.key, record.value, record.offset)
            self.state.applied = max(self.state.applied, header.next_offset)
        self._progress.set()
        self._progress = asyncio.Event()

    async def wait_applied(self, offset: int, timeout_s: float) -> bool:
        """True once the state holds the record at `offset`; False after timeout_s."""
        if self.state.applied > offset:
            return True
        try:
            async with asyncio.timeout(timeout_s):
                while self.state.applied <= offset:
                    await self._progress.wait()
            return True
        except TimeoutError:
            return False

    async def catch_up(self, timeout_s: float) -> None:
        """Wait, at most timeout_s, until the state holds everything the partition's leader
        has committed at the time of asking: then a read sees every write acknowledged
        before it, through any node. No `_schemas` yet, its leader moving, or too slow: the
        state as it is (a read stays available, possibly behind)."""
        deadline = time.monotonic() + timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                high_watermark = await self._high_watermark(TOPIC, PARTITION)
        except (KraftError, TimeoutError) as exc:
            log.debug("could not read %s's end: %s", TOPIC, exc)
            return
        if high_watermark > 0:
            await self.wait_applied(high_watermark - 1, max(0.0, deadline - time.monotonic()))
