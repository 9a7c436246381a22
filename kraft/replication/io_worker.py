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
from pathlib import Path

from kraft.replication.disk_trouble import DiskTrouble
from kraft.storage.fs_sync import barrier_holds, sync_filesystem
from kraft.storage.leader_epoch_cache import LeaderEpochCache
from kraft.storage.log_directory import LogDirectory, fsync_directory
from kraft.storage.log_file import LogFile
from kraft.storage.partition_log import PartitionLog
from kraft.storage.segment import Segment

Job = Callable[[], Awaitable[None]]


class IoWorker:
    def __init__(self, trouble: DiskTrouble, root: Path | None = None):
        """`root`: the partitions root, whose file system a burst of epoch entries syncs."""
        self._trouble = trouble
        self._root = root
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._identities: list[LogDirectory] = []  # new logs' ids waiting for their fsyncs
        self._epochs: list[LeaderEpochCache] = []  # caches with an entry waiting to be written

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
        """A log's new leader-epoch entry, written with every other one waiting. A burst
        (thousands of new leaders after a restart or a creation, two fsyncs each, one
        after the other) is written without fsyncs and the file system synced once,
        where that is a barrier (fs_sync); a few are fsynced each as before."""
        self._epochs.append(cache)
        if len(self._epochs) == 1:
            self.submit(self._sync_epochs)

    async def _sync_epochs(self) -> None:
        batch, self._epochs = self._epochs, []
        await asyncio.to_thread(_write_epochs, batch, self._root)

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


BURST = 64  # epoch entries from which one file system sync beats a fsync pair each


def _write_epochs(batch: list[LeaderEpochCache], root: Path | None) -> None:
    """Every cache is tried; one that failed, or whose file the sync did not make
    durable, stays unsynced (the next entry or the log's clean close writes it again),
    and the first error goes to the worker, which contains it."""
    barrier = root is not None and len(batch) >= BURST and barrier_holds(root)
    failed: OSError | None = None
    for cache in batch:
        try:
            cache.sync(fsync=not barrier)
        except OSError as exc:
            failed = failed or exc
    if barrier and root is not None:
        try:
            sync_filesystem(root)
        except OSError as exc:
            for cache in batch:
                cache.unsynced_again()
            failed = failed or exc
    if failed is not None:
        raise failed
