"""A coordinator's internal-topic partitions as real logs on this node, for tests of the
coordinator runtime and the coordinators on it: the replicas a load reads, and the
acks=all append a write goes through, with its failures on call."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from kraft.errors import OutcomeUnknown
from kraft.storage.partition_log import PartitionLog


class HeldCommits:
    """A leader's high watermark in a test: the log's end, but while `held_at` (the
    followers lack what is past it); the acks=all wait on it, as PartitionReplica's.
    Needs `log`, `is_leader` and `leader_epoch` beside it."""

    log: PartitionLog
    is_leader: bool
    leader_epoch: int
    held_at: int | None = None
    _commits: asyncio.Event | None = None

    @property
    def high_watermark(self) -> int:
        return self.log.log_end_offset if self.held_at is None else self.held_at

    @property
    def commits(self) -> asyncio.Event:
        if self._commits is None:
            self._commits = asyncio.Event()
        return self._commits

    def hold_commits(self) -> int:
        """Before an append: the HW stays where it is until commit_through; the log's end."""
        if self.held_at is None:
            self.held_at = self.log.log_end_offset
        return self.held_at

    def commit_all(self) -> None:
        self.commit_through(self.log.log_end_offset)

    def commit_through(self, end: int) -> None:
        """The followers have the log up to `end`: the HW moves there (never back)."""
        if self.held_at is not None:
            self.held_at = None if end >= self.log.log_end_offset else max(self.held_at, end)
        self.commits.set()

    async def wait_committed(self, last_offset: int, epoch: int, deadline: float) -> None:
        """As PartitionReplica's: until the HW passes last_offset in that leader epoch."""
        while self.high_watermark <= last_offset:
            left = deadline - time.monotonic()
            if not self.is_leader or self.leader_epoch != epoch or left <= 0:
                raise OutcomeUnknown("not committed in that epoch, in time")
            self.commits.clear()
            try:
                await asyncio.wait_for(self.commits.wait(), left)
            except TimeoutError:
                pass


@dataclass
class Replica(HeldCommits):
    log: PartitionLog
    leader_epoch: int = 1
    is_leader: bool = True

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    def read(self, offset: int, max_bytes: int) -> bytes:
        return self.log.read(offset, max_bytes)


class LocalLogs:
    """This node leading every partition of `topic`: `before_append` refuses a batch
    before it reaches the log; `hold` keeps the followers' acknowledgement back;
    `acks_fail` ends that wait in an error (the batch stays in the log)."""

    def __init__(self, directory: Path, topic: str, partitions: int):
        self.topic = topic
        self.replicas = {p: Replica(PartitionLog.open(directory / f"{topic}-{p}")) for p in range(partitions)}
        self.before_append: Exception | None = None
        self.hold: asyncio.Event | None = None
        self.acks_fail: Exception | None = None
        self.committed: list[tuple[int, int]] = []  # (partition, base offset), as acks=all answered

    def replica(self, topic: str, p: int) -> Replica | None:
        return self.replicas.get(p) if topic == self.topic else None

    async def append_local(self, topic: str, p: int, batch: bytes, timeout_ms: int, timestamp: int,
                           on_appended=None) -> int:
        await asyncio.sleep(0)  # the leader's append is not immediate
        if self.before_append is not None:
            raise self.before_append
        replica = self.replicas[p]
        replica.hold_commits()  # the followers lack the batch until they acknowledge it
        base, _ = replica.log.append(batch, leader_epoch=1)
        end = replica.log.log_end_offset
        if on_appended is not None:
            on_appended(base)
        if self.hold is not None:
            await self.hold.wait()
        if self.acks_fail is not None:
            raise self.acks_fail  # the batch stays above the high watermark
        replica.commit_through(end)
        self.committed.append((p, base))
        return base

    async def controller_call(self, op: str, body: dict) -> dict:
        raise AssertionError("the topic exists")

    async def wait_metadata(self, offset: int, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        for replica in self.replicas.values():
            replica.log.close()
