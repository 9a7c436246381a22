"""A coordinator's internal-topic partitions as real logs on this node, for tests of the
coordinator runtime and the coordinators on it: the replicas a load reads, and the
acks=all append a write goes through, with its failures on call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from kraft.storage.partition_log import PartitionLog


@dataclass
class Replica:
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
        base, _ = self.replicas[p].log.append(batch, leader_epoch=1)
        if on_appended is not None:
            on_appended(base)
        if self.hold is not None:
            await self.hold.wait()
        if self.acks_fail is not None:
            raise self.acks_fail
        self.committed.append((p, base))
        return base

    async def controller_call(self, op: str, body: dict) -> dict:
        raise AssertionError("the topic exists")

    async def wait_metadata(self, offset: int, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        for replica in self.replicas.values():
            replica.log.close()
