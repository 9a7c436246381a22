"""The REST door's share consumers at the partition leaders: acquiring records,
acknowledging them and giving them back, at this node's share-partition when it leads the
partition, else at the leader's over the node-to-node channel (Kafka's ShareFetch and
ShareAcknowledge, as JSON: the records as base64 batches with their acquired ranges), and
the share-partition's live state for the admin views (records acquired now). A
REST poll gets at most the records it asks for (Kafka 4.2's share.acquire.mode
record_limit), not whole batches beyond them.
"""

from __future__ import annotations

import base64
from typing import Any

from kraft.broker.data_plane import DataPlane
from kraft.errors import BadRequest, InvalidValue, LeaderNotAvailable, RecordNotHeld
from kraft.internode.peers import Peers, PeerUnreachable
from kraft.share.share_broker import Fetched, ShareBroker
from kraft.share.share_partition import Ack, AckRefused, Acquired
from kraft.errors.kafka_codes import INVALID_RECORD_STATE

PATH = "/internal/v1/share/partition"
CALL_TIMEOUT_S = 40.0  # a state write's own bound (35 s) and the trip


class ShareLeaders:
    def __init__(self, node_id: int, plane: DataPlane, shares: ShareBroker, peers: Peers):
        self._node_id = node_id
        self._plane = plane
        self._shares = shares
        self._peers = peers

    async def fetch(self, group_id: str, member_id: str, topic: str, partition: int, max_records: int,
                    max_bytes: int, reset: str | None = None) -> Fetched:
        answer = await self._at_leader({"op": "fetch", "group": group_id, "member": member_id, "topic": topic,
                                        "partition": partition, "max_records": max_records, "max_bytes": max_bytes,
                                        "reset": reset})
        return Fetched(base64.b64decode(answer["records"]), [Acquired(*a) for a in answer["acquired"]])

    async def acknowledge(self, group_id: str, member_id: str, topic: str, partition: int,
                          acks: list[Ack]) -> None:
        await self._at_leader({"op": "ack", "group": group_id, "member": member_id, "topic": topic,
                               "partition": partition,
                               "acks": [[a.first_offset, a.last_offset, list(a.types)] for a in acks]})

    async def release(self, group_id: str, member_id: str, topic: str, partition: int) -> None:
        await self._at_leader({"op": "release", "group": group_id, "member": member_id, "topic": topic,
                               "partition": partition})

    async def forget(self, group_id: str, topic: str, partition: int) -> None:
        """The share-partition's stored state was altered: the leader reads it again."""
        await self._at_leader({"op": "forget", "group": group_id, "member": "", "topic": topic,
                               "partition": partition})

    async def live_view(self, group_id: str, topic: str, partition: int) -> dict[str, Any] | None:
        """The share-partition as its leader holds it now (ShareBroker.live_view), or None."""
        answer = await self._at_leader({"op": "describe", "group": group_id, "member": "", "topic": topic,
                                        "partition": partition})
        view = answer.get("view")
        return view if isinstance(view, dict) else None

    async def _at_leader(self, payload: dict[str, Any]) -> dict[str, Any]:
        leader = self._plane.leader_of(payload["topic"], payload["partition"])
        if leader == self._node_id:
            return await serve(self._plane, self._shares, payload)
        try:
            answer = await self._peers.call_json(leader, "POST", PATH, payload=payload, timeout_s=CALL_TIMEOUT_S)
        except PeerUnreachable as exc:
            raise LeaderNotAvailable(f"LEADER_NOT_AVAILABLE: leader {leader} of {payload['topic']}-"
                                     f"{payload['partition']} unreachable ({type(exc.cause).__name__}); retry") from None
        if not isinstance(answer, dict):
            raise BadRequest("the leader's answer is not an object")
        return answer


async def serve(plane: DataPlane, shares: ShareBroker, payload: Any) -> dict[str, Any]:
    """At the partition's leader (this node; server/internode_routes.py for another's asking)."""
    try:
        op, group_id, member_id = payload["op"], str(payload["group"]), str(payload["member"])
        topic, partition = str(payload["topic"]), int(payload["partition"])
    except (KeyError, TypeError, ValueError):
        raise BadRequest("a share partition request names op, group, member, topic and partition") from None
    key = (group_id, topic, partition)
    if op == "forget":
        shares.forget(key)
        return {}
    replica = await plane.leader_replica(topic, partition)
    if op == "describe":
        return {"view": shares.live_view(key, replica)}
    if op == "fetch":
        reset = payload.get("reset")
        fetched = await shares.acquire(key, replica, member_id, int(payload.get("max_records", 500)),
                                       int(payload.get("max_bytes", 1 << 20)),
                                       reset if reset in ("earliest", "latest") else None, record_limit=True)
        return {"records": base64.b64encode(fetched.records).decode(),
                "acquired": [[a.first_offset, a.last_offset, a.delivery_count] for a in fetched.acquired]}
    if op == "ack":
        try:
            acks = [Ack(int(first), int(last), tuple(int(t) for t in types)) for first, last, types in payload["acks"]]
        except (KeyError, TypeError, ValueError):
            raise BadRequest("acks are [first offset, last offset, [types]]") from None
        try:
            await shares.acknowledge(key, replica, member_id, acks, renew_allowed=True)
        except AckRefused as refused:
            raise (RecordNotHeld if refused.code == INVALID_RECORD_STATE else InvalidValue)(str(refused)) from None
        return {}
    if op == "release":
        await shares.release_member(key, replica, member_id)
        return {}
    raise BadRequest(f"unknown share partition op {op!r}")
