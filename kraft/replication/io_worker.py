"""The replica manager's IO worker: disk work that may wait for the device.

Jobs run one at a time, in order, in a worker thread, so the event loop keeps serving:
fsyncs of rolled segments (in roll order), new leader-epoch entries, new logs' ids,
page-cache drops behind the logs' newest bytes and the HW checkpoint. At shutdown the
logs' clean close fsyncs what is still queued and the last checkpoint is written by the
log manager; a skipped drop is only advice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

from kraft.replication.disk_trouble import DiskTrouble
from kraft.storage.leader_epoch_cache import LeaderEpochCache
from kraft.storage.log_directory import LogDirectory, fsync_directory
from kraft.storage.log_file import LogFile
from kraft.storage.partition_log import PartitionLog
from kraft.storage.segment import Segment

Job = Callable[[], Awaitable[None]]


class IoWorker:
    def __init__(self, trouble: DiskTrouble):
        self._trouble = trouble
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._identities: list[LogDirectory] = []  # new logs' ids waiting for their fsyncs

    def submit(self, job: Job) -> None:
        self._jobs.put_nowait(job)

    async def run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except OSError as exc:  # each job is redone later or only advice (see above)
                self._trouble.contain(exc, "background disk work")

    # -- what the partition logs hand over (flush_rolls_with, drop_cold_pages_with) ----------
    def fsync_rolled(self, plog: PartitionLog, segment: Segment) -> None:
        async def fsync_rolled():
            ok = await asyncio.to_thread(plog.fsync_sealed, segment)
            if plog.sealed_fsynced(segment, ok):
                await asyncio.to_thread(plog.write_recovery_point)
        self.submit(fsync_rolled)

    def sync_epochs(self, cache: LeaderEpochCache) -> None:
        self.submit(partial(asyncio.to_thread, cache.sync))

    def drop_cached(self, log_file: LogFile, start: int, end: int) -> None:
        self.submit(partial(asyncio.to_thread, log_file.drop_cached, start, end))

    def sync_identity(self, directory: LogDirectory) -> None:
        """A new log's id, made durable off the loop with every other one waiting: one
        fsync of the partitions root for them all (LogDirectory.sync_identity). A log
        whose data is fsynced first syncs its own id then."""
        self._identities.append(directory)
        if len(self._identities) == 1:
            self.submit(self._sync_identities)

    async def _sync_identities(self) -> None:
        batch, self._identities = self._identities, []
        await asyncio.to_thread(_sync_all, batch)


def _sync_all(batch: list[LogDirectory]) -> None:
    for root in {d.path.parent for d in batch}:
        fsync_directory(root)  # every directory of the batch was made before this
    for directory in batch:
        directory.sync_identity(parent=False)
