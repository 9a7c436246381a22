"""KIP-932 share groups for admin clients: ShareGroupDescribe (77),
DescribeShareGroupOffsets (90; v1 with KIP-1226's lag), AlterShareGroupOffsets (91) and
DeleteShareGroupOffsets (92), answered by the group's coordinator. A share-partition's
start offset is what its share coordinator stores; its lag is the records from there up
to the high watermark that are not yet done. A share group without members is there
while it has stored state ("Empty"); altering or deleting offsets needs it empty.
"""

from __future__ import annotations

import uuid
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.errors import KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.authorized_ops import NOT_REQUESTED, authorized_operations
from kraft.kafka.handlers.group_api import _coordinator_error
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.handlers.share_api import topic_id_of
from kraft.errors.kafka_codes import TOPIC_AUTHORIZATION_FAILED
from kraft.share.share_state import lag as share_lag
from kraft.errors.kafka_codes import GROUP_ID_NOT_FOUND

ZERO_UUID = uuid.UUID(int=0)


def _topic_partitions(node: BrokerServices, partitions) -> dict:
    by_topic: dict[str, list[int]] = {}
    for topic, p in partitions:
        by_topic.setdefault(topic, []).append(p)
    return {"topic_partitions": [{"topic_id": tid, "topic_name": name, "partitions": sorted(ps)}
                                 for name, ps in sorted(by_topic.items())
                                 if (tid := topic_id_of(node, name)) is not None]}


async def describe(node: BrokerServices, ctx: RequestContext, request) -> dict:
    wanted = bool(request.include_authorized_operations)
    return {"throttle_time": 0, "groups": [await _describe_one(node, ctx, g, wanted) for g in request.group_ids]}


async def _describe_one(node: BrokerServices, ctx: RequestContext, group_id: str, wanted: bool) -> dict:
    answer: dict[str, Any] = {"error_code": error_codes.NONE, "error_message": None, "group_id": group_id,
                              "group_state": "", "group_epoch": -1, "assignment_epoch": -1, "assignor_name": "",
                              "members": [], "authorized_operations": NOT_REQUESTED}
    if (code := await _coordinator_error(node, ctx, group_id, "describe_group")) is not None:
        answer["error_code"] = code
        return answer
    group = node.shares.group(group_id)
    if group is None:
        try:
            empty = await node.share_admin.exists(group_id)
        except KraftError as exc:
            answer.update(error_code=error_codes.code_of(exc), error_message=str(exc))
            return answer
        if empty:
            answer.update(group_state="Empty", group_epoch=0, assignment_epoch=0, assignor_name="simple",
                          authorized_operations=authorized_operations(ctx, wanted, "GROUP", group_id))
        else:
            answer.update(error_code=GROUP_ID_NOT_FOUND, error_message=f"group {group_id!r} is not a share group")
        return answer
    named = {t for m in group.members.values() for t in m.topics}
    if len(ctx.visible("describe_topic", named)) < len(named):
        answer.update(error_code=TOPIC_AUTHORIZATION_FAILED,
                      error_message="the group uses topics the client is not authorized to describe")
        return answer
    answer.update(group_state="Stable", group_epoch=group.epoch, assignment_epoch=group.epoch,
                  assignor_name="simple", authorized_operations=authorized_operations(ctx, wanted, "GROUP", group_id),
                  members=[{"member_id": m.member_id, "rack_id": m.rack_id, "member_epoch": m.epoch,
                            "client_id": m.client_id, "client_host": "", "subscribed_topic_names": list(m.topics),
                            "assignment": _topic_partitions(node, m.assigned)}
                           for m in group.members.values()])
    return answer


async def describe_offsets(node: BrokerServices, ctx: RequestContext, request) -> dict:
    return {"throttle_time": 0, "groups": [await _offsets_of_group(node, ctx, g) for g in request.groups]}


async def _offsets_of_group(node: BrokerServices, ctx: RequestContext, asked) -> dict:
    group_id = asked.group_id
    answer: dict[str, Any] = {"group_id": group_id, "topics": [], "error_code": error_codes.NONE,
                              "error_message": None}
    if (code := await _coordinator_error(node, ctx, group_id, "describe_group")) is not None:
        answer["error_code"] = code
        return answer
    if asked.topics is None:  # every topic the group's members subscribe to now
        group = node.shares.group(group_id)
        topics = sorted({t for m in group.members.values() for t in m.topics}) if group is not None else []
        wanted = [(t, list(range(node.shares.partition_count(t) or 0))) for t in topics]
    else:
        wanted = [(t.topic_name, [int(p) for p in t.partitions]) for t in asked.topics]
    for topic, indexes in wanted:
        if not ctx.allowed("describe_topic", topic):
            continue  # as Kafka's OffsetFetch, a topic the caller may not see is left out
        answer["topics"].append({"topic_name": topic, "topic_id": topic_id_of(node, topic) or ZERO_UUID,
                                 "partitions": [await _offsets_of_partition(node, group_id, topic, p)
                                                for p in indexes]})
    return answer


async def _offsets_of_partition(node: BrokerServices, group_id: str, topic: str, index: int) -> dict:
    entry: dict[str, Any] = {"partition_index": index, "start_offset": -1, "leader_epoch": -1, "lag": -1,
                             "error_code": error_codes.NONE, "error_message": None}
    try:
        stored = await node.shares.stored(group_id, topic, index)
        if stored is not None:
            entry.update(start_offset=stored.start_offset, leader_epoch=stored.leader_epoch)
            high_watermark = await node.partition_reader.high_watermark(topic, index)
            entry["lag"] = share_lag(stored, high_watermark)
    except KraftError as exc:
        entry.update(error_code=error_codes.code_of(exc), error_message=str(exc))
    return entry


# -- AlterShareGroupOffsets and DeleteShareGroupOffsets -------------------------------------
TOPIC_READ_REFUSED = (TOPIC_AUTHORIZATION_FAILED, "READ on the topic is not authorized")


def _code_and_message(error: KraftError | None) -> tuple[int, str | None]:
    return (error_codes.NONE, None) if error is None else (error_codes.code_of(error), str(error))


def _offsets_refusal(answer: dict[str, Any], exc: KraftError) -> dict[str, Any]:
    answer["error_code"], answer["error_message"] = _code_and_message(exc)
    return answer


async def alter_offsets(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "error_message": None,
                              "responses": []}
    if (code := await _coordinator_error(node, ctx, request.group_id, "use_group")) is not None:
        answer["error_code"] = code
        return answer
    wanted: dict[tuple[str, int], int] = {}
    refused: dict[tuple[str, int], tuple[int, str]] = {}
    for topic in request.topics:
        for p in topic.partitions:
            key = (topic.topic_name, int(p.partition_index))
            if not ctx.allowed("consume", topic.topic_name):
                refused[key] = TOPIC_READ_REFUSED
            else:
                wanted[key] = int(p.start_offset)
    try:
        outcome = await node.share_admin.alter_offsets(request.group_id, wanted)
    except KraftError as exc:
        return _offsets_refusal(answer, exc)
    codes = {key: _code_and_message(e) for key, e in outcome.items()} | refused
    for t in request.topics:
        parts = []
        for p in t.partitions:
            code, message = codes[(t.topic_name, int(p.partition_index))]
            parts.append({"partition_index": p.partition_index, "error_code": code, "error_message": message})
        answer["responses"].append({"topic_name": t.topic_name,
                                    "topic_id": topic_id_of(node, t.topic_name) or ZERO_UUID, "partitions": parts})
    return answer


async def delete_offsets(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "error_message": None,
                              "responses": []}
    if (code := await _coordinator_error(node, ctx, request.group_id, "delete_group")) is not None:
        answer["error_code"] = code
        return answer
    names = [t.topic_name for t in request.topics]
    allowed = [n for n in names if ctx.allowed("consume", n)]
    try:
        outcome = await node.share_admin.delete_offsets(request.group_id, allowed)
    except KraftError as exc:
        return _offsets_refusal(answer, exc)
    for name in names:
        code, message = _code_and_message(outcome[name]) if name in outcome else TOPIC_READ_REFUSED
        answer["responses"].append({"topic_name": name, "topic_id": topic_id_of(node, name) or ZERO_UUID,
                                    "error_code": code, "error_message": message})
    return answer
