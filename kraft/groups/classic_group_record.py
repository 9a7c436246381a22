"""A classic group of Kafka clients as one record of the offsets topic, as Kafka keeps its
GroupMetadata: the generation, its protocol and leader, and each member with its
subscription and the leader's assignment for it. Pure.

Written when a generation's assignment is in (the group Stable) and when a static
member's new process takes its predecessor's place; a tombstone (value None) when the
group is left without members. The topic is compacted, so the latest record per group
is what a new coordinator loads after a failover: the group is there, Stable, with its
members, whose heartbeats carry on at the new coordinator instead of rejoining (and REST
reads find it there at once). Keys are JSON like the offset keys beside them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import GroupState
from kraft.groups.group_member import GroupConfig, Member
from kraft.storage.json_keys import parse_versioned_key, versioned_key
from kraft.storage.record import Record

CLASSIC_KEY_VERSION = "classic-group/1"


def classic_key(group_id: str) -> bytes:
    return versioned_key(CLASSIC_KEY_VERSION, group_id)


def parse_classic_key(key: bytes | None) -> str | None:
    """The group id of a classic group record's key; None for any other key."""
    parts = parse_versioned_key(key, CLASSIC_KEY_VERSION, 1)
    return parts[0] if parts is not None and isinstance(parts[0], str) else None


def classic_record(group_id: str, value: dict[str, Any] | None, now_ms: int) -> Record:
    return Record(classic_key(group_id), None if value is None else orjson.dumps(value), (), now_ms)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def group_value(group: ClassicGroup) -> dict[str, Any] | None:
    """What the record holds for the group as it is now; None: nothing to keep (no
    members, or a rebalance not over: the last Stable record stands, as in Kafka)."""
    if not group.members or group.state is not GroupState.STABLE:
        return None
    members = []
    for member_id in group.members:
        m = group.member(member_id)
        members.append({"member_id": member_id, "client_id": m.client_id, "instance_id": m.group_instance_id,
                        "session_timeout_ms": m.session_timeout_ms, "rebalance_timeout_ms": m.rebalance_timeout_ms,
                        "protocol_type": m.protocol_type, "protocols": list(m.protocols),
                        "metadata": {name: _b64(data) for name, data in m.metadata.items()},
                        "topics": sorted(m.topics), "assignment": _b64(m.assignment),
                        "partitions": [list(tp) for tp in group.assignment_of(member_id)]})
    return {"generation": group.generation, "protocol": group.protocol, "leader": group.leader_id,
            "members": members}


def group_from_value(group_id: str, value: Mapping[str, Any], partitions: Mapping[str, int], member_id_prefix: str,
                     config: GroupConfig | None, now_ms: int) -> ClassicGroup | None:
    """The Stable group a record holds, its members' sessions starting now; None when the
    record cannot be read (a damaged or foreign value is skipped, never a failed load)."""
    try:
        members, assignment = [], {}
        for m in value["members"]:
            members.append(Member(
                str(m["member_id"]), str(m["client_id"]), int(m["session_timeout_ms"]),
                int(m["rebalance_timeout_ms"]), tuple(str(p) for p in m["protocols"]),
                frozenset(str(t) for t in m["topics"]), now_ms, str(m["protocol_type"]),
                {str(name): base64.b64decode(data) for name, data in m["metadata"].items()},
                awaiting_join=False, synced=True, assignment=base64.b64decode(m["assignment"]),
                group_instance_id=m["instance_id"] if isinstance(m["instance_id"], str) else None))
            assignment[members[-1].member_id] = tuple((str(t), int(p)) for t, p in m["partitions"])
        generation, protocol, leader = int(value["generation"]), str(value["protocol"]), str(value["leader"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not members:
        return None
    group = ClassicGroup(group_id, partitions, config, member_id_prefix=member_id_prefix, relay=True)
    group.restore_stable(members, assignment, generation, protocol, leader)
    return group
