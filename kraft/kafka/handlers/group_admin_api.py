"""Consumer groups for Kafka admin tools: ListGroups (16), DescribeGroups (15),
DeleteGroups (42), OffsetDelete (47).

A broker lists the groups it coordinates (admin clients ask every broker), both the
Kafka clients' groups and the REST API's; the others are answered by a group's
coordinator, like the other group requests. Deleting needs DELETE on the group (and
OffsetDelete READ on each topic), as in Kafka; what may go is the coordinator's call
(kraft/groups/group_deletion.py).
"""

from __future__ import annotations

from typing import Any

from kraft.broker.acl_needs import ClientOperation
from kraft.broker.services import BrokerServices
from kraft.errors import GroupIdNotFound, KraftError, NotFound
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.authorized_ops import NOT_REQUESTED, authorized_operations
from kraft.kafka.handlers.group_api import CONSUMER_PROTOCOL, LOCATE_WAIT_S, assignment_bytes
from kraft.kafka.connection.request_context import RequestContext


CLASSIC, CONSUMER_GROUP = "classic", "consumer"  # a group's type (KIP-848's names), as ListGroups v5 shows it


def listed(summaries: list[dict], states: list[str], types: list[str]) -> list[dict]:
    """ListGroups' rows for the groups' summaries: a filter (v4 states, v5 types) keeps
    the groups whose state / type it names, compared without case as Kafka compares
    them; an empty filter keeps all. Pure."""
    wanted_states = {s.lower() for s in states}
    wanted_types = {t.lower() for t in types}
    rows = []
    for summary in summaries:
        if not summary:  # a group gone since it was listed
            continue
        group_type = summary.get("group_type", CLASSIC)
        if (wanted_states and summary["state"].lower() not in wanted_states) \
                or (wanted_types and group_type not in wanted_types):
            continue
        rows.append({"group_id": summary["group_id"], "protocol_type": summary.get("protocol_type", CONSUMER_PROTOCOL),
                     "group_state": summary["state"], "group_type": group_type})
    return rows


async def list_groups(node: BrokerServices, ctx: RequestContext, request) -> dict:
    summaries = node.groups.summaries() + await _share_groups_here(node)  # share groups: KIP-932's type "share"
    groups = [row for row in listed(summaries, list(getattr(request, "states_filter", ()) or ()),
                                    list(getattr(request, "types_filter", ()) or ()))
              if ctx.allowed("describe_group", row["group_id"])]  # what the principal may describe
    return {"throttle_time": 0, "error_code": error_codes.NONE, "groups": groups}


async def _share_groups_here(node: BrokerServices) -> list[dict]:
    """The share groups this node coordinates: with members, and without (those with
    stored state anywhere whose coordinator this node is), as Kafka lists Empty ones."""
    coordinated = node.shares.summaries()
    listed = {s["group_id"] for s in coordinated}
    for group_id, summary in (await node.share_admin.cluster_summaries()).items():
        if group_id in listed or summary.get("members"):
            continue
        try:
            if await node.groups.locate(group_id, create=False, wait_s=0) is None:
                coordinated.append(summary)
        except KraftError:
            continue  # its coordinator is being elected: listed by it next time
    return coordinated


NOT_FOUND_SINCE = 6  # DescribeGroups v6 (KIP-1043): an unknown group is an error, not a Dead one


async def describe_groups(node: BrokerServices, ctx: RequestContext, request) -> dict:
    wanted = bool(getattr(request, "include_authorized_operations", False))
    groups = []
    for group_id in request.groups:
        answer = await _describe_one(node, ctx, group_id)
        if (unknown := answer.pop("unknown", None)) and ctx.api_version >= NOT_FOUND_SINCE:
            answer.update(error_code=GroupIdNotFound.kafka_code, error_message=unknown)
        if answer["error_code"] == error_codes.NONE:  # KIP-430: the principal's operations on it
            answer["authorized_operations"] = authorized_operations(ctx, wanted, "GROUP", group_id)
        groups.append(answer)
    return {"throttle_time": 0, "groups": groups}


def _answer(group_id: str, code: int, state: str = "", message: str | None = None) -> dict:
    return {"error_code": code, "error_message": message, "group_id": group_id, "group_state": state,
            "protocol_type": "", "protocol_data": "", "members": [], "authorized_operations": NOT_REQUESTED}


async def _describe_one(node: BrokerServices, ctx: RequestContext, group_id: str) -> dict:
    if not group_id:
        return _answer(group_id, error_codes.INVALID_GROUP_ID, message="the group id is empty")
    if not ctx.allowed("describe_group", group_id):
        return _answer(group_id, 30, message="DESCRIBE on the group is not authorized")  # GROUP_AUTHORIZATION_FAILED
    try:
        target = await node.groups.locate(group_id, create=False, wait_s=LOCATE_WAIT_S)
        if target is not None:
            return _answer(group_id, error_codes.NOT_COORDINATOR, message=f"node {target} coordinates the group")
        summary = node.groups.describe(group_id)
    except NotFound:  # no group has been used yet
        summary = {}
    except KraftError as exc:
        return _answer(group_id, error_codes.code_of(exc), message=str(exc))
    if not summary:  # before v6, Kafka's answer for a group it does not know is a Dead one
        return {**_answer(group_id, error_codes.NONE, "Dead"), "unknown": f"group {group_id!r} does not exist"}
    if summary.get("group_type") == CONSUMER_GROUP:  # Kafka's answer: not a classic group (Dead before v6)
        return {**_answer(group_id, error_codes.NONE, "Dead"),
                "unknown": f"group {group_id!r} is not a classic group"}
    answer = _answer(group_id, error_codes.NONE, summary["state"])
    answer.update(protocol_type=summary.get("protocol_type", CONSUMER_PROTOCOL), protocol_data=summary["partition_assignor"])
    kafka_client_group = node.groups.loaded_client_group(group_id)
    if kafka_client_group is not None:  # the leader's bytes, as relayed to each member
        members = [{"member_id": m["member_id"], "group_instance_id": m["group_instance_id"], "client_id": m["client_id"],
                    "client_host": "", "member_metadata": m["metadata"],
                    "member_assignment": m["member_assignment"]} for m in kafka_client_group.members()]
    else:  # REST consumer instances: no Kafka protocol metadata of their own
        members = [{"member_id": m["consumer_id"], "group_instance_id": None, "client_id": m["client_id"],
                    "client_host": "", "member_metadata": b"",
                    "member_assignment": assignment_bytes([tuple(a) for a in m["assignments"]])}
                   for m in summary["members"]]
    answer["members"] = members
    return answer


async def _coordinated_here(node: BrokerServices, ctx: RequestContext, group_id: str,
                            operation: ClientOperation) -> int | None:
    """None when the principal may `operation` the group and this node coordinates it;
    else the code to answer. No offsets topic yet: no group has ever existed."""
    if not group_id:
        return error_codes.INVALID_GROUP_ID
    if not ctx.allowed(operation, group_id):
        return 30  # GROUP_AUTHORIZATION_FAILED
    try:
        target = await node.groups.locate(group_id, create=False, wait_s=LOCATE_WAIT_S)
    except NotFound:
        return GroupIdNotFound.kafka_code
    except KraftError as exc:
        return error_codes.code_of(exc)
    return None if target is None else error_codes.NOT_COORDINATOR


# -- DeleteGroups ----------------------------------------------------------------------------
async def delete_groups(node: BrokerServices, ctx: RequestContext, request) -> dict:
    results = []
    for group_id in request.groups_names:
        code = await _coordinated_here(node, ctx, group_id, "delete_group")
        if code is None:
            try:
                await _delete_one(node, group_id)
                code = error_codes.NONE
            except KraftError as exc:
                code = error_codes.code_of(exc)
        results.append({"group_id": group_id, "error_code": code})
    return {"throttle_time": 0, "results": results}


async def _delete_one(node: BrokerServices, group_id: str) -> None:
    """A consumer group, else a share group of that id (Kafka: one id, one kind of group)."""
    try:
        await node.groups.delete_group(group_id)
    except GroupIdNotFound:
        await node.share_admin.delete_group(group_id)


# -- OffsetDelete ----------------------------------------------------------------------------
async def offset_delete(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "topics": []}
    if (code := await _coordinated_here(node, ctx, request.group_id, "delete_group")) is not None:
        answer["error_code"] = code  # a whole-request error names no topic, as Kafka answers it
        return answer
    codes: dict[tuple[str, int], int] = {}
    wanted: list[tuple[str, int]] = []
    for t in request.topics:
        topic = node.image.topic(t.name)
        for p in t.partitions:
            key = (t.name, int(p.partition_index))
            if not ctx.allowed("consume", t.name):
                codes[key] = 29  # TOPIC_AUTHORIZATION_FAILED
            elif topic is None or not 0 <= key[1] < len(topic.partitions):
                codes[key] = error_codes.UNKNOWN_TOPIC_OR_PARTITION
            else:
                wanted.append(key)
    try:
        outcome = await node.groups.delete_offsets(request.group_id, wanted)
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
        return answer
    codes.update({key: error_codes.NONE if e is None else e.kafka_code for key, e in outcome.items()})
    answer["topics"] = [{"name": t.name, "partitions": [
        {"partition_index": p.partition_index, "error_code": codes[(t.name, int(p.partition_index))]}
        for p in t.partitions]} for t in request.topics]
    return answer
