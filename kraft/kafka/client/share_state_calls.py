"""A partition leader's share-partition state at the share coordinator on another broker,
in Kafka's own requests (KIP-932), as Kafka's brokers send them to each other:
ReadShareGroupState (84) with the leader's epoch when it takes a share-partition over,
WriteShareGroupState (85) after each change, DeleteShareGroupState (86). They go over
the brokers' pooled connections (client/broker_pool.py), logged in as the brokers' own user; the
coordinator's side is kafka/handlers/share_state_api.py. An error code comes back as its class
(NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, FENCED_LEADER_EPOCH, ...).
"""

from __future__ import annotations

import uuid
from typing import Any

from kio.schema.delete_share_group_state.v0 import request as delete_v0
from kio.schema.read_share_group_state.v0 import request as read_v0
from kio.schema.write_share_group_state.v0 import request as write_v0

from kraft.errors import BadRequest
from kraft.kafka.client.broker_client import BrokerUnreachable, refusal
from kraft.kafka.client.broker_pool import BrokerPool
from kraft.kafka.wire.entities import build
from kraft.share.share_state import ShareSnapshot, decode, key_parts

LEASE_WAIT_S = 5.0  # the pool's connections to one broker all busy: waited for this long


def _where(key: str) -> tuple[str, dict[str, Any], int]:
    """(group, the topic's fields, partition) of a state key."""
    parts = key_parts(key)
    if parts is None:
        raise BadRequest(f"{key!r} is not a share-partition state key")
    group, topic_id, partition = parts
    return group, {"topic_id": uuid.UUID(hex=topic_id)}, partition


class ShareStateCalls:
    def __init__(self, pool: BrokerPool) -> None:
        self._pool = pool

    async def _one(self, coordinator: int, request, key: str, timeout_s: float):
        """The answer's entry for the one share-partition asked about, its error raised."""
        async with self._pool.lease(coordinator, LEASE_WAIT_S) as connection:
            answer = await connection.request(request, timeout_s)
        entries = [p for topic in answer.results for p in topic.partitions]
        if len(entries) != 1:
            raise BrokerUnreachable(f"no answer for share state {key!r} at broker {coordinator}")
        entry = entries[0]
        error = refusal(entry.error_code, f"share state {key!r} at broker {coordinator}", entry.error_message)
        if error is not None:
            raise error
        return entry

    async def read(self, coordinator: int, key: str, leader_epoch: int, timeout_s: float) -> ShareSnapshot | None:
        """The stored state, now under `leader_epoch` (a leader taking the share-partition
        over fences the ones before it); None when none was ever stored."""
        group, topic, partition = _where(key)
        request = build(read_v0.ReadShareGroupStateRequest, {"group_id": group, "topics": [
            {**topic, "partitions": [{"partition": partition, "leader_epoch": leader_epoch}]}]})
        entry = await self._one(coordinator, request, key, timeout_s)
        if int(entry.start_offset) < 0:  # Kafka's "never initialized"
            return None
        snapshot = decode({"leader_epoch": leader_epoch, "start_offset": int(entry.start_offset),
                           "state_epoch": int(entry.state_epoch),
                           "runs": [[int(b.first_offset), int(b.last_offset), int(b.delivery_state),
                                     int(b.delivery_count)] for b in entry.state_batches]})
        if snapshot is None:
            raise BrokerUnreachable(f"share state {key!r} at broker {coordinator}: not a stored state")
        return snapshot

    async def write(self, coordinator: int, key: str, snapshot: ShareSnapshot, timeout_s: float) -> None:
        group, topic, partition = _where(key)
        request = build(write_v0.WriteShareGroupStateRequest, {"group_id": group, "topics": [{**topic, "partitions": [{
            "partition": partition, "state_epoch": snapshot.state_epoch, "leader_epoch": snapshot.leader_epoch,
            "start_offset": snapshot.start_offset,
            "state_batches": [{"first_offset": r.first_offset, "last_offset": r.last_offset,
                               "delivery_state": r.state, "delivery_count": r.delivery_count}
                              for r in snapshot.runs]}]}]})
        await self._one(coordinator, request, key, timeout_s)

    async def delete(self, coordinator: int, key: str, timeout_s: float) -> None:
        group, topic, partition = _where(key)
        request = build(delete_v0.DeleteShareGroupStateRequest, {"group_id": group, "topics": [
            {**topic, "partitions": [{"partition": partition}]}]})
        await self._one(coordinator, request, key, timeout_s)
