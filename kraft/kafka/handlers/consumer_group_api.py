"""KIP-848 consumer groups for Kafka clients: ConsumerGroupHeartbeat (68) and
ConsumerGroupDescribe (69).

The group lives with its coordinator, like a classic group (kraft/groups/
consumer_group.py has the rules, consumer_group_host.py the writes). On the wire
partitions are named by topic id; the groups keep topic names, so this door maps
between them with the metadata image (an owned partition of a topic that no longer
exists is dropped, as the member can own it no longer).
"""

from __future__ import annotations

import uuid
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, NotFound
from kraft.groups.consumer_group import Heartbeat, Refusal
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.authorized_ops import NOT_REQUESTED, authorized_operations
from kraft.kafka.wire.entities import millis
from kraft.kafka.handlers.group_api import LOCATE_WAIT_S, _coordinator_error, now_ms
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import GROUP_AUTHORIZATION_FAILED, GROUP_ID_NOT_FOUND, TOPIC_AUTHORIZATION_FAILED



def _names_by_id(node: BrokerServices) -> dict[uuid.UUID, str]:
    return {uuid.UUID(t.topic_id): t.name for t in node.image.topics.values()}  # image ids: hex


def _assignment(node: BrokerServices, partitions) -> dict:
    by_topic: dict[str, list[int]] = {}
    for topic, p in partitions:
        by_topic.setdefault(topic, []).append(p)
    out = []
    for name, ps in sorted(by_topic.items()):
        topic = node.image.topic(name)
        if topic is not None:
            out.append({"topic_id": uuid.UUID(topic.topic_id), "topic_name": name, "partitions": sorted(ps)})
    return {"topic_partitions": out}


async def heartbeat(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "error_message": None,
                              "member_id": request.member_id or None, "member_epoch": -1,
                              "heartbeat_interval": 0, "assignment": None}
    if not request.group_id:  # Kafka: the group id can't be empty
        answer["error_code"], answer["error_message"] = error_codes.INVALID_REQUEST, "the group id is empty"
        return answer
    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        answer["error_code"] = code
        return answer
    names = request.subscribed_topic_names
    hidden = set(names or ()) - set(ctx.visible("describe_topic", names or ()))
    if hidden:  # Kafka: a member subscribes by name only to topics its principal may DESCRIBE
        answer["error_code"] = TOPIC_AUTHORIZATION_FAILED
        answer["error_message"] = f"not authorized to describe {len(hidden)} subscribed topic(s)"
        return answer
    owned = None
    if request.topic_partitions is not None:
        by_id = _names_by_id(node)
        owned = frozenset((by_id[t.topic_id], int(p)) for t in request.topic_partitions
                          if t.topic_id in by_id for p in t.partitions)
    hb = Heartbeat(member_id=request.member_id, member_epoch=int(request.member_epoch), now_ms=now_ms(),
                   instance_id=request.instance_id, rack_id=request.rack_id,
                   rebalance_timeout_ms=millis(request.rebalance_timeout),
                   topic_names=tuple(names) if names is not None else None,
                   topic_regex=getattr(request, "subscribed_topic_regex", None),
                   assignor=request.server_assignor, owned=owned, client_id=ctx.client_id or "",
                   topic_visible=ctx.topic_visibility())
    try:
        result = await node.groups.consumer_heartbeat(request.group_id, hb)
    except KraftError as exc:
        answer["error_code"], answer["error_message"] = error_codes.code_of(exc), str(exc)
        return answer
    if isinstance(result, Refusal):
        answer["error_code"], answer["error_message"] = result.error.code, result.message
        return answer
    answer.update(member_id=result.member_id, member_epoch=result.member_epoch,
                  heartbeat_interval=result.heartbeat_interval_ms,
                  assignment=None if result.assignment is None else _assignment(node, result.assignment))
    return answer


async def describe(node: BrokerServices, ctx: RequestContext, request) -> dict:
    wanted = bool(request.include_authorized_operations)
    return {"throttle_time": 0, "groups": [await _describe_one(node, ctx, g, wanted) for g in request.group_ids]}


def _refused(group_id: str, code: int, message: str | None) -> dict:
    return {"error_code": code, "error_message": message, "group_id": group_id, "group_state": "",
            "group_epoch": -1, "assignment_epoch": -1, "assignor_name": "", "members": [],
            "authorized_operations": NOT_REQUESTED}


def _names_hidden_from_caller(node: BrokerServices, ctx: RequestContext, group) -> bool:
    """Kafka refuses a whole description that would name a topic the caller may not
    DESCRIBE (in a member's subscription, assignment or target assignment)."""
    named = {t for m in group.members.values() for t in m.topic_names}
    named |= {t for m in group.members.values() for t, _ in m.assigned}
    named |= {t for tps in group.target.values() for t, _ in tps}
    return len(ctx.visible("describe_topic", named)) < len(named)


async def _describe_one(node: BrokerServices, ctx: RequestContext, group_id: str, wanted: bool) -> dict:
    if not group_id:
        return _refused(group_id, error_codes.INVALID_GROUP_ID, "the group id is empty")
    if not ctx.allowed("describe_group", group_id):
        return _refused(group_id, GROUP_AUTHORIZATION_FAILED, "DESCRIBE on the group is not authorized")
    try:
        target = await node.groups.locate(group_id, create=False, wait_s=LOCATE_WAIT_S)
        if target is not None:
            return _refused(group_id, error_codes.NOT_COORDINATOR, f"node {target} coordinates the group")
        summary = node.groups.describe(group_id)
    except NotFound:  # no group has been used yet
        summary = {}
    except KraftError as exc:
        return _refused(group_id, error_codes.code_of(exc), str(exc))
    if summary.get("group_type") != "consumer":
        return _refused(group_id, GROUP_ID_NOT_FOUND, f"group {group_id!r} is not a consumer group")
    group = node.groups.consumer_group(group_id)
    if group is not None and _names_hidden_from_caller(node, ctx, group):
        return _refused(group_id, TOPIC_AUTHORIZATION_FAILED,
                        "the group uses topics the client is not authorized to describe")
    members = []
    if group is not None:
        for m in group.members.values():
            if m.left_static:
                continue
            members.append({
                "member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
                "member_epoch": m.epoch, "client_id": m.client_id, "client_host": m.client_host,
                "subscribed_topic_names": list(m.topic_names), "subscribed_topic_regex": m.topic_regex,
                "assignment": _assignment(node, m.assigned),
                "target_assignment": _assignment(node, group.target.get(m.member_id, ())),
                "member_type": 0 if m.classic is not None else 1})  # 0: a JoinGroup member, 1: a KIP-848 one
    return {"error_code": error_codes.NONE, "error_message": None, "group_id": group_id,
            "group_state": summary["state"], "group_epoch": summary["generation"],
            "assignment_epoch": summary["assignment_epoch"], "assignor_name": summary["partition_assignor"],
            "members": members,
            "authorized_operations": authorized_operations(ctx, wanted, "GROUP", group_id)}
