"""Committed records and offsets of any partition, read from its leader wherever it is.

The consumer instances of this node read through here: locally when this node leads
the partition, otherwise from the leader's internal read endpoint (raw batches, so no
JSON round trip). Errors arrive as the same error classes a local read raises.
"""

from __future__ import annotations

from kraft.broker.data_plane import DataPlane
from kraft.broker.isolation import ABORTED_HEADER, Aborted, aborted_from_header
from kraft.groups.consumer_instance import READ_COMMITTED
from kraft.internode.peers import PeerAnswer, Peers, PeerUnreachable
from kraft.errors import NotLeaderOrFollower


class PartitionReader:
    def __init__(self, node_id: int, data_plane: DataPlane, peers: Peers):
        self._node_id = node_id
        self._plane = data_plane
        self._peers = peers

    async def read(self, topic: str, partition: int, offset: int, max_bytes: int, timeout_ms: int,
                   stable: bool = False) -> tuple[bytes, list[Aborted] | None]:
        """Raw batches from `offset`; stable (read_committed): below the last stable
        offset, with the aborted transactions among them (else None)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            if stable:
                return await self._plane.read_stable(topic, partition, offset, max_bytes, timeout_ms)
            return await self._plane.read(topic, partition, offset, max_bytes, timeout_ms), None
        params = {"topic": topic, "partition": str(partition), "offset": str(offset),
                  "max_bytes": str(max_bytes), "timeout_ms": str(timeout_ms)}
        if stable:
            params["isolation"] = READ_COMMITTED
        answer = await self._call(leader, "/internal/v1/read", params, timeout_ms / 1000 + 5)
        if not stable:
            return answer.body, None
        return answer.body, aborted_from_header(answer.headers.get(ABORTED_HEADER, "[]"))

    async def offsets(self, topic: str, partition: int, stable: bool = False) -> tuple[int, int]:
        """(log start offset, high watermark) as the leader sees them; the last stable
        offset instead of the HW when `stable` (a read_committed consumer's end)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            return await self._plane.offsets(topic, partition, stable)
        if stable:
            body = (await self._call(leader, "/internal/v1/stable-offsets",
                                     {"topic": topic, "partition": str(partition)}, 5.0)).json()
            return body["log_start_offset"], body["last_stable_offset"]
        answer = await self._call(leader, f"/topics/{topic}/partitions/{partition}/offsets", {}, 5.0)
        body = answer.json()
        return body["beginning_offset"], body["end_offset"]

    async def offset_for_timestamp(self, topic: str, partition: int, timestamp: int) -> int:
        """The first committed offset stamped at or after `timestamp`, or the high watermark
        when there is none (where a Kafka consumer seeking by time ends up)."""
        leader = self._plane.leader_of(topic, partition)
        if leader == self._node_id:
            found = await self._plane.offset_for_timestamp(topic, partition, timestamp)
            return found[0] if found is not None else (await self._plane.offsets(topic, partition))[1]
        answer = await self._call(leader, f"/topics/{topic}/partitions/{partition}/offsets",
                                  {"timestamp": str(timestamp)}, 5.0)
        body = answer.json()
        return body["offset"] if body["offset"] is not None else body["end_offset"]

    async def _call(self, node_id: int, path: str, params: dict, timeout_s: float) -> PeerAnswer:
        try:
            return await self._peers.call(node_id, "GET", path, params=params, timeout_s=timeout_s)
        except PeerUnreachable as exc:
            raise NotLeaderOrFollower(f"NOT_LEADER: leader node {node_id} unreachable "
                                      f"({type(exc.cause).__name__}); retry") from None
