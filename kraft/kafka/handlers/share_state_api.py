"""The share coordinator's requests (KIP-932) as Kafka's brokers send them to each other:
InitializeShareGroupState (83), ReadShareGroupState (84), WriteShareGroupState (85),
DeleteShareGroupState (86) and ReadShareGroupStateSummary (87). A share-partition's
state is found with FindCoordinator key type 2 (`group:topic id:partition`).

Only the cluster's brokers are served (RequestContext.is_cluster_member: on an open
cluster too): a client can neither read nor write a share group's state
(CLUSTER_AUTHORIZATION_FAILED for every partition). Each partition is answered by this node's share coordinator when it holds
the key, NOT_COORDINATOR otherwise. A write is fenced (FENCED_LEADER_EPOCH) when it comes
from an older leader epoch or an older state epoch than the stored state's.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.errors import FencedLeaderEpoch, KraftError, NotCoordinator
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.share.share_partition import DONE
from kraft.share.share_state import ShareSnapshot, decode, state_key
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED

ZERO = uuid.UUID(int=0)
# (the stored state or None, the request's partition) -> the partition's answer fields
PartitionOp = Callable[[str, ShareSnapshot | None, Any], Awaitable[dict[str, Any]]]


async def _each_partition(node: BrokerServices, ctx: RequestContext, request, op: PartitionOp,
                          blank: dict[str, Any] | None = None) -> dict:
    """blank: the answer's own fields, as a refused partition carries them."""
    allowed = ctx.is_cluster_member()
    results = []
    for topic in request.topics:
        partitions = []
        for p in topic.partitions:
            entry: dict[str, Any] = {"partition": p.partition, "error_code": error_codes.NONE, "error_message": None,
                                     **(blank or {})}
            if not allowed:
                entry.update(error_code=CLUSTER_AUTHORIZATION_FAILED, error_message="only the cluster's brokers may send this")
            else:
                key = state_key(request.group_id, (topic.topic_id or ZERO).hex, int(p.partition))  # image ids: hex
                try:
                    if await node.share_coordinator.locate(key, wait_s=0) is not None:
                        raise NotCoordinator(f"NOT_COORDINATOR: node {node.node_id} does not hold {key!r}")
                    entry.update(await op(key, node.share_coordinator.read(key), p))
                except KraftError as exc:
                    entry.update(error_code=error_codes.code_of(exc), error_message=str(exc))
            partitions.append(entry)
        results.append({"topic_id": topic.topic_id, "partitions": partitions})
    return {"results": results}


def _batches(snapshot: ShareSnapshot | None) -> list[dict[str, int]]:
    runs = snapshot.runs if snapshot is not None else ()
    return [{"first_offset": r.first_offset, "last_offset": r.last_offset, "delivery_state": r.state,
             "delivery_count": r.delivery_count} for r in runs]


def _epochs(snapshot: ShareSnapshot | None) -> dict[str, int]:
    if snapshot is None:  # never initialized: no start offset yet
        return {"state_epoch": 0, "start_offset": -1}
    return {"state_epoch": snapshot.state_epoch, "start_offset": snapshot.start_offset}


def _fenced_read(stored: ShareSnapshot | None, leader_epoch: int) -> None:
    if stored is not None and 0 <= leader_epoch < stored.leader_epoch:
        raise FencedLeaderEpoch(f"FENCED_LEADER_EPOCH: leader epoch {leader_epoch} is older than the stored "
                                f"state's ({stored.leader_epoch})")


async def initialize(node: BrokerServices, ctx: RequestContext, request) -> dict:
    async def op(key: str, stored: ShareSnapshot | None, p) -> dict[str, Any]:
        epoch = stored.leader_epoch if stored is not None else 0
        await node.share_coordinator.write(key, ShareSnapshot(epoch, int(p.start_offset), (), int(p.state_epoch)))
        return {}
    return await _each_partition(node, ctx, request, op)


async def read(node: BrokerServices, ctx: RequestContext, request) -> dict:
    async def op(key: str, stored: ShareSnapshot | None, p) -> dict[str, Any]:
        if int(p.leader_epoch) >= 0:  # a leader taking the share-partition over: older ones fenced from now
            stored = await node.share_coordinator.read_for_leader(key, int(p.leader_epoch))
        return {**_epochs(stored), "state_batches": _batches(stored)}
    return await _each_partition(node, ctx, request, op, {**_epochs(None), "state_batches": []})


async def write(node: BrokerServices, ctx: RequestContext, request) -> dict:
    async def op(key: str, stored: ShareSnapshot | None, p) -> dict[str, Any]:
        snapshot = decode({"leader_epoch": int(p.leader_epoch), "start_offset": int(p.start_offset),
                           "state_epoch": int(p.state_epoch),
                           "runs": [[int(b.first_offset), int(b.last_offset), int(b.delivery_state),
                                     int(b.delivery_count)] for b in p.state_batches]})
        if snapshot is None:
            return {"error_code": error_codes.INVALID_REQUEST,
                    "error_message": "the state's batches are not a stored state"}
        await node.share_coordinator.write(key, snapshot)
        return {}
    return await _each_partition(node, ctx, request, op)


async def delete(node: BrokerServices, ctx: RequestContext, request) -> dict:
    async def op(key: str, stored: ShareSnapshot | None, p) -> dict[str, Any]:
        if stored is not None:
            await node.share_coordinator.write(key, None)
        return {}
    return await _each_partition(node, ctx, request, op)


def _delivery_complete(snapshot: ShareSnapshot) -> int:
    return sum(r.last_offset - max(r.first_offset, snapshot.start_offset) + 1
               for r in snapshot.runs if r.state in DONE and r.last_offset >= snapshot.start_offset)


async def read_summary(node: BrokerServices, ctx: RequestContext, request) -> dict:
    async def op(key: str, stored: ShareSnapshot | None, p) -> dict[str, Any]:
        _fenced_read(stored, int(p.leader_epoch))
        return {**_epochs(stored), "leader_epoch": stored.leader_epoch if stored is not None else -1,
                "delivery_complete_count": _delivery_complete(stored) if stored is not None else -1}
    return await _each_partition(node, ctx, request, op, {**_epochs(None), "leader_epoch": -1,
                                                          "delivery_complete_count": -1})
