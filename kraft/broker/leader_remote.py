"""What the REST door asks of a partition's leader on another broker (kraft/kafka/
leader_calls.py sends it as Kafka's Produce, Fetch, ListOffsets and DeleteRecords).
ConnectionError when the leader cannot be reached; an error the leader answered is
raised as its own class."""

from __future__ import annotations

from typing import Protocol

from kraft.broker.isolation import Aborted

EARLIEST, LATEST = -2, -1  # list_offset's timestamps, as ListOffsets names them


class LeaderRemote(Protocol):
    async def produce(self, leader: int, topic: str, partition: int, batch: bytes, acks: int,
                      timeout_ms: int) -> int: ...

    async def delete_records(self, leader: int, topic: str, partition: int, offset: int,
                             timeout_ms: int) -> int: ...

    async def read(self, leader: int, topic: str, partition: int, offset: int, max_bytes: int,
                   timeout_ms: int, stable: bool) -> tuple[bytes, list[Aborted] | None]: ...

    async def list_offset(self, leader: int, topic: str, partition: int, timestamp: int,
                          stable: bool = False) -> int: ...
