"""Committed records and offsets of any partition, read from its leader wherever it is.

The consumer instances of this node read through here: locally when this node leads
the partition, otherwise from the leader with Kafka's Fetch and ListOffsets
(kraft/kafka/client/leader_calls.py; raw batches, as a Kafka consumer reads them). Errors
arrive as the same error classes a local read raises.
"""

from __future__ import annotations

from kraft.broker.data_plane import DataPlane
from kraft.broker.isolation import Aborted
from kraft.broker.leader_remote import EARLIEST, LATEST, LeaderRemote
from kraft.errors import NotLeaderOrFollower


class PartitionReader:
    def __init__(self, node_id: int, data_plane: DataPlane, leaders: LeaderRemote):
        self._node_id = node_id
        self._plane = data_plane
        self._leaders = leaders

    async def read(self, topic: str, partition: int, offset: int, max_bytes: int, timeout_ms: int,
                   stable: bool = False) -> tuple[bytes, list[Aborted] | None]:
        """Raw batches from `offset`; stable (read_committed): below the last stable
        offset, with the aborted transactions among them (else None)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            if stable:
                return await self._plane.read_stable(topic, partition, offset, max_bytes, timeout_ms)
            return await self._plane.read(topic, partition, offset, max_bytes, timeout_ms), None
        try:
            return await self._leaders.read(leader, topic, partition, offset, max_bytes, timeout_ms, stable)
        except ConnectionError as exc:
            raise _unreachable(leader, exc) from None

    async def offsets(self, topic: str, partition: int, stable: bool = False) -> tuple[int, int]:
        """(log start offset, high watermark) as the leader sees them; the last stable
        offset instead of the HW when `stable` (a read_committed consumer's end)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            return await self._plane.offsets(topic, partition, stable)
        try:
            start = await self._leaders.list_offset(leader, topic, partition, EARLIEST)
            return start, await self._leaders.list_offset(leader, topic, partition, LATEST, stable)
        except ConnectionError as exc:
            raise _unreachable(leader, exc) from None

    async def high_watermark(self, topic: str, partition: int) -> int:
        """The partition's high watermark as its leader sees it (one question, not two)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            return (await self._plane.offsets(topic, partition))[1]
        try:
            return await self._leaders.list_offset(leader, topic, partition, LATEST)
        except ConnectionError as exc:
            raise _unreachable(leader, exc) from None

    async def offset_for_timestamp(self, topic: str, partition: int, timestamp: int) -> int:
        """The first committed offset stamped at or after `timestamp`, or the high watermark
        when there is none (where a Kafka consumer seeking by time ends up)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            found = await self._plane.offset_for_timestamp(topic, partition, timestamp)
            return found[0] if found is not None else (await self._plane.offsets(topic, partition))[1]
        try:
            found_at = await self._leaders.list_offset(leader, topic, partition, timestamp)
            return found_at if found_at >= 0 else await self._leaders.list_offset(leader, topic, partition, LATEST)
        except ConnectionError as exc:
            raise _unreachable(leader, exc) from None


def _unreachable(leader: int, exc: ConnectionError) -> NotLeaderOrFollower:
    return NotLeaderOrFollower(f"NOT_LEADER: leader node {leader} unreachable ({exc}); retry")
