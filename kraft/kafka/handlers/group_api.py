"""Consumer groups for Kafka clients: FindCoordinator (10), JoinGroup (11), Heartbeat
(12), LeaveGroup (13), SyncGroup (14), OffsetCommit (8), OffsetFetch (9).

The coordinator is the same as for REST groups (the leader of the group's
__consumer_offsets partition), and so are committed offsets: what a Kafka consumer
commits, a REST consumer of the same group resumes from, and the other way round.
As in Kafka the group leader assigns and the broker relays its SyncGroup bytes, for
any protocol type (consumer, connect, ...) and assignor name. For the consumer
protocol this door also reads the subscriptions and assignments (Kafka's
ConsumerProtocolSubscription / ConsumerProtocolAssignment, version-prefixed) so that
the coordinator can follow partition counts and show owned partitions and lag.
"""

from __future__ import annotations

import io
import logging
import struct
import time
from typing import Any

from kio.schema.consumer_protocol_assignment.v0.data import ConsumerProtocolAssignment, TopicPartition
from kio.schema.consumer_protocol_subscription.v0.data import ConsumerProtocolSubscription
from kio.schema.consumer_protocol_subscription.v1.data import ConsumerProtocolSubscription as OwnedSubscription
from kio.serial import entity_reader, entity_writer
from kio.schema.types import TopicName
from kio.serial.errors import SerialError
from kio.static.primitive import i32

from kraft.broker.acl_needs import ClientOperation
from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, NonEmptyGroup, UnstableOffsetCommit
from kraft.groups.consumer_group import ClassicJoin, ClassicJoined, Refusal
from kraft.groups.kafka_client_group import Refused
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers import topic_ids
from kraft.kafka.wire.entities import millis
from kraft.kafka.handlers.leaders import kafka_endpoint
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import (
    CLUSTER_AUTHORIZATION_FAILED,
    GROUP_AUTHORIZATION_FAILED,
    TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
)

log = logging.getLogger(__name__)

CONSUMER_PROTOCOL = "consumer"
LOCATE_WAIT_S = 5.0
MEMBER_EPOCH_COMMIT_SINCE = 9  # OffsetCommit v9: the version KIP-848 members commit with


def now_ms() -> int:
    return int(time.monotonic() * 1000)


def subscribed_topics(metadata: bytes) -> frozenset[str] | None:
    """The topics in a consumer protocol subscription (any version: later fields are
    appended, so the v0 fields read the same); None when it cannot be read."""
    try:
        subscription, _ = entity_reader(ConsumerProtocolSubscription)(metadata, 2)
    except (SerialError, ValueError, TypeError, IndexError):
        return None
    return frozenset(subscription.topics)


def owned_partitions(metadata: bytes) -> frozenset[tuple[str, int]]:
    """The partitions a consumer protocol subscription (v1+) says its member owns; empty
    for v0 (an eager client, which revoked everything before joining) or when unreadable."""
    if len(metadata) < 2 or struct.unpack(">h", metadata[:2])[0] < 1:
        return frozenset()
    try:
        subscription, _ = entity_reader(OwnedSubscription)(metadata, 2)
    except (SerialError, ValueError, TypeError, IndexError):
        return frozenset()
    return frozenset((str(t.topic), int(p)) for t in subscription.owned_partitions for p in t.partitions)


def assigned_partitions(data: bytes) -> tuple[tuple[str, int], ...] | None:
    """The partitions in a consumer protocol assignment (any version, as above); empty
    bytes are an empty assignment; None when it cannot be read."""
    if not data:
        return ()
    try:
        assignment, _ = entity_reader(ConsumerProtocolAssignment)(data, 2)
    except (SerialError, ValueError, TypeError, IndexError):
        return None
    return tuple((str(t.topic), int(p)) for t in assignment.assigned_partitions for p in t.partitions)


def assignment_bytes(assignment) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in assignment:
        by_topic.setdefault(topic, []).append(partition)
    buf = io.BytesIO()
    buf.write(struct.pack(">h", 0))
    entity_writer(ConsumerProtocolAssignment)(buf, ConsumerProtocolAssignment(assigned_partitions=tuple(
        TopicPartition(topic=TopicName(t), partitions=tuple(i32(p) for p in sorted(ps)))
        for t, ps in sorted(by_topic.items()))))
    return buf.getvalue()


async def _coordinator_error(node: BrokerServices, ctx: RequestContext, group_id: str,
                             operation: ClientOperation = "use_group") -> int | None:
    """None when the principal may `operation` the group and this node coordinates it
    now; else the code to answer."""
    if not group_id:
        return error_codes.INVALID_GROUP_ID
    if not ctx.allowed(operation, group_id):
        return GROUP_AUTHORIZATION_FAILED
    try:
        target = await node.groups.locate(group_id, wait_s=LOCATE_WAIT_S)
    except KraftError as exc:
        return error_codes.code_of(exc)
    return None if target is None else error_codes.NOT_COORDINATOR


# -- FindCoordinator -----------------------------------------------------------------------
SHARE_KEY_TYPE = 2


async def _find_one(node: BrokerServices, ctx: RequestContext, key: str, key_type: int) -> dict:
    """Key type 0: a group's coordinator; 1: a transactional id's (KIP-98); 2 (v6+,
    KIP-932): the share coordinator of a share-partition's state key
    (`group:topic id:partition`), which only the cluster's brokers ask
    (RequestContext.is_cluster_member)."""
    answer = {"key": key, "error_code": error_codes.NONE, "error_message": None, "node_id": -1, "host": "", "port": -1}
    if key_type not in (0, 1, SHARE_KEY_TYPE):
        answer["error_code"] = error_codes.INVALID_REQUEST
        answer["error_message"] = f"unknown key type {key_type}"
        return answer
    if not key:
        answer["error_code"] = error_codes.INVALID_GROUP_ID if key_type == 0 else error_codes.INVALID_REQUEST
        return answer
    if key_type == SHARE_KEY_TYPE and not ctx.is_cluster_member():
        answer["error_code"] = CLUSTER_AUTHORIZATION_FAILED
        return answer
    asked: dict[int, tuple[ClientOperation, int]] = {
        0: ("describe_group", GROUP_AUTHORIZATION_FAILED),
        1: ("describe_transaction", TRANSACTIONAL_ID_AUTHORIZATION_FAILED)}
    if key_type in asked and not ctx.allowed(asked[key_type][0], key):
        answer["error_code"] = asked[key_type][1]
        return answer
    try:
        if key_type == SHARE_KEY_TYPE:
            target = await node.share_coordinator.locate(key, wait_s=LOCATE_WAIT_S)
        else:
            target = await (node.groups.locate if key_type == 0 else node.transactions.locate)(key, wait_s=LOCATE_WAIT_S)
    except KraftError as exc:
        answer["error_code"], answer["error_message"] = error_codes.code_of(exc), str(exc)
        return answer
    coordinator = node.node_id if target is None else target
    endpoint = kafka_endpoint(node, coordinator)
    if endpoint is None:
        answer["error_code"] = error_codes.COORDINATOR_NOT_AVAILABLE
        return answer
    answer.update(node_id=coordinator, host=endpoint[0], port=endpoint[1])
    return answer


async def find_coordinator(node: BrokerServices, ctx: RequestContext, request) -> dict:
    key_type = int(getattr(request, "key_type", 0))
    if hasattr(request, "coordinator_keys") and not hasattr(request, "key"):
        return {"throttle_time": 0,
                "coordinators": [await _find_one(node, ctx, k, key_type) for k in request.coordinator_keys]}
    return {"throttle_time": 0, **await _find_one(node, ctx, request.key, key_type)}


# -- membership ------------------------------------------------------------------------------
NULL_PROTOCOL_SINCE = 7  # JoinGroup v7+ (KIP-559): a refusal names no protocol type or name


def _refused_join(answer: dict[str, Any], code: int, version: int) -> dict[str, Any]:
    answer["error_code"] = code
    if version >= NULL_PROTOCOL_SINCE:
        answer["protocol_type"] = answer["protocol_name"] = None
    return answer


async def join_group(node: BrokerServices, ctx: RequestContext, request) -> dict:
    # skip_assignment (v9, KIP-814): a static leader replaced in place while the group is
    # Stable gets the members but keeps the group's assignment (classic_group.py)
    answer: dict[str, Any] = {
        "throttle_time": 0, "error_code": error_codes.NONE, "generation_id": -1, "protocol_type": CONSUMER_PROTOCOL,
        "protocol_name": "", "leader": "", "skip_assignment": False, "member_id": request.member_id or "",
        "members": []}
    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        return _refused_join(answer, code, ctx.api_version)
    if reason := getattr(request, "reason", None):  # v8 (KIP-800): the client's why, for the operator
        log.info("group %s: member %r (client %r) joins: %.256s", request.group_id, request.member_id or "(new)",
                 ctx.client_id, reason)
    protocols = [(p.name, bytes(p.metadata)) for p in request.protocols]
    topics = None
    if request.protocol_type == CONSUMER_PROTOCOL and protocols:
        topics = subscribed_topics(protocols[0][1])  # every protocol of a consumer names the same topics
    session_ms = millis(request.session_timeout)
    rebalance_ms = millis(getattr(request, "rebalance_timeout", request.session_timeout))
    instance_id = getattr(request, "group_instance_id", None)
    try:
        mixed = node.groups.classic_members_group(request.group_id)
    except KraftError as exc:
        return _refused_join(answer, error_codes.code_of(exc), ctx.api_version)
    if mixed is not None:  # a consumer group with members: this member joins it (KIP-848)
        if request.protocol_type != CONSUMER_PROTOCOL or topics is None:
            return _refused_join(answer, error_codes.INCONSISTENT_GROUP_PROTOCOL, ctx.api_version)
        joined = await _join_consumer_group(node, request.group_id, ClassicJoin(
            request.member_id or None, now_ms(), session_ms, rebalance_ms, tuple(protocols), topics,
            owned_partitions(protocols[0][1]), instance_id, ctx.client_id or ""))
        if isinstance(joined, int):
            return _refused_join(answer, joined, ctx.api_version)
        if joined is not None:
            answer.update(generation_id=joined.generation, protocol_name=joined.protocol_name,
                          member_id=joined.member_id)
            return answer
    try:
        await node.groups.release_empty_consumer_group(request.group_id)
        group = node.groups.kafka_client_group(request.group_id)
    except KraftError as exc:
        return _refused_join(answer, error_codes.code_of(exc), ctx.api_version)
    result = await group.join(request.member_id or None, ctx.client_id or "", session_ms, rebalance_ms,
                              request.protocol_type or "", protocols, topics or frozenset(), now_ms(), instance_id)
    if isinstance(result, Refused):
        return _refused_join(answer, result.error.code, ctx.api_version)
    answer.update(generation_id=result.generation, protocol_name=result.protocol, leader=result.leader_id,
                  member_id=result.member_id, protocol_type=result.protocol_type,
                  skip_assignment=result.skip_assignment,
                  members=[{"member_id": m, "group_instance_id": group.instance_id_of(m), "metadata": md}
                           for m, md in result.members])
    return answer


async def _join_consumer_group(node: BrokerServices, group_id: str, join: ClassicJoin) -> ClassicJoined | int | None:
    """The member joined, or the code to answer; None: the group is gone (join a classic one)."""
    try:
        joined = await node.groups.classic_join(group_id, join)
    except KraftError as exc:
        return error_codes.code_of(exc)
    return joined.error.code if isinstance(joined, Refusal) else joined


async def _in_consumer_group(node: BrokerServices, group_id: str, call) -> tuple[bool, Any]:
    """(True, result or error code) when the group is a consumer group with members and
    `call(node.groups)` answered for it; (False, None): it is a classic group."""
    try:
        if node.groups.classic_members_group(group_id) is None:
            return False, None
        result = await call(node.groups)
    except KraftError as exc:
        return True, error_codes.code_of(exc)
    if result is None:  # gone meanwhile
        return False, None
    return True, result.error.code if isinstance(result, Refusal) else result


def _group_or_code(node: BrokerServices, group_id: str):
    try:
        return node.groups.kafka_client_group(group_id), None
    except KraftError as exc:
        return None, error_codes.code_of(exc)


async def sync_group(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer = {"throttle_time": 0, "error_code": error_codes.NONE, "protocol_type": CONSUMER_PROTOCOL,
              "protocol_name": None, "assignment": b""}
    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        answer["error_code"] = code
        return answer
    protocol_type, protocol_name = getattr(request, "protocol_type", None), getattr(request, "protocol_name", None)
    mixed, result = await _in_consumer_group(node, request.group_id, lambda groups: groups.classic_sync(
        request.group_id, request.member_id, int(request.generation_id), protocol_type, protocol_name, now_ms(),
        getattr(request, "group_instance_id", None) or None))
    if mixed:
        if isinstance(result, int):
            answer["error_code"] = result
        else:
            answer.update(protocol_name=protocol_name or _protocol_of(node, request.group_id, request.member_id),
                          assignment=assignment_bytes(sorted(result)))
        return answer
    group, code = _group_or_code(node, request.group_id)
    if group is None:
        answer["error_code"] = code
        return answer
    assignments = {a.member_id: bytes(a.assignment) for a in request.assignments}
    partitions = {}
    if group.coordinator.protocol_type == CONSUMER_PROTOCOL:  # readable: kept for lag and describe
        partitions = {m: tps for m, data in assignments.items() if (tps := assigned_partitions(data)) is not None}
    synced = await group.sync(request.member_id, int(request.generation_id), now_ms(), assignments or None,
                              partitions, protocol_type, protocol_name, getattr(request, "group_instance_id", None))
    if isinstance(synced, Refused):
        answer["error_code"] = synced.error.code
        return answer
    answer.update(protocol_type=synced.protocol_type, protocol_name=synced.protocol, assignment=synced.assignment)
    return answer


def _protocol_of(node: BrokerServices, group_id: str, member_id: str) -> str | None:
    """A classic member's assignor name in a consumer group (SyncGroup before v5 names none)."""
    try:
        group = node.groups.classic_members_group(group_id)
    except KraftError:  # moved or being deleted since the sync: no name to give
        return None
    member = group.members.get(member_id) if group is not None else None
    return member.classic.protocol_name if member is not None and member.classic is not None else None


async def heartbeat(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer = {"throttle_time": 0, "error_code": error_codes.NONE}
    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        answer["error_code"] = code
        return answer
    mixed, result = await _in_consumer_group(node, request.group_id, lambda groups: groups.classic_heartbeat(
        request.group_id, request.member_id, int(request.generation_id), now_ms(),
        getattr(request, "group_instance_id", None) or None))
    if mixed:  # None: carry on; a code: rejoin, or the member is unknown / stale
        answer["error_code"] = error_codes.NONE if result is True else result
        return answer
    group, code = _group_or_code(node, request.group_id)
    refused = group.heartbeat(request.member_id, int(request.generation_id), now_ms(),
                              getattr(request, "group_instance_id", None)) if group else None
    answer["error_code"] = code if group is None else (refused.error.code if refused else error_codes.NONE)
    return answer


async def leave_group(node: BrokerServices, ctx: RequestContext, request) -> dict:
    # v3+: a batch, each by member id or (an admin removing static members) by group.instance.id
    leaving = ([(m.member_id, getattr(m, "group_instance_id", None)) for m in request.members]
               if hasattr(request, "members") else [(request.member_id, None)])
    for m in getattr(request, "members", ()):
        if reason := getattr(m, "reason", None):  # v5 (KIP-800): the client's why, for the operator
            log.info("group %s: member %r leaves: %.256s", request.group_id, m.member_id, reason)
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "members": []}
    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        answer["error_code"] = code
        return answer
    try:
        mixed_group = node.groups.classic_members_group(request.group_id)
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
        return answer
    if mixed_group is not None:
        for member_id, instance_id in leaving:
            _, result = await _in_consumer_group(node, request.group_id, lambda groups: groups.classic_leave(
                request.group_id, member_id, instance_id))
            answer["members"].append({"member_id": member_id, "group_instance_id": instance_id,
                                      "error_code": result if isinstance(result, int) else error_codes.NONE})
        if not hasattr(request, "members") and answer["members"]:
            answer["error_code"] = answer["members"][0]["error_code"]
        return answer
    group, code = _group_or_code(node, request.group_id)
    for member_id, instance_id in leaving:
        refused = group.leave(member_id, now_ms(), instance_id) if group else None
        member_code = code if group is None else (refused.error.code if refused else error_codes.NONE)
        answer["members"].append({"member_id": member_id, "group_instance_id": instance_id,
                                  "error_code": member_code})
    if not hasattr(request, "members") and answer["members"]:
        answer["error_code"] = answer["members"][0]["error_code"]
    return answer


# -- offsets ---------------------------------------------------------------------------------
async def offset_commit(node: BrokerServices, ctx: RequestContext, request) -> dict:
    """v10 names topics by id (KIP-848); an id this broker does not know is UNKNOWN_TOPIC_ID."""
    named = topic_ids.request_topics(node, ctx.api_version, request.topics)

    def every(code: int) -> dict:
        return {"throttle_time": 0, "topics": [
            {"name": name, "topic_id": topic_id,
             "partitions": [{"partition_index": p.partition_index,
                             "error_code": code if name is not None else error_codes.UNKNOWN_TOPIC_ID}
                            for p in t.partitions]} for (name, topic_id), t in zip(named, request.topics)]}

    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        return every(code)
    generation = int(request.generation_id_or_member_epoch)
    member_commit = generation >= 0 or bool(request.member_id)
    try:
        consumer_group = node.groups.consumer_group(request.group_id)
    except KraftError as exc:
        return every(error_codes.code_of(exc))
    if consumer_group is not None and (member_commit or not consumer_group.empty):
        # a KIP-848 group: the member's epoch must be current (Kafka's STALE_MEMBER_EPOCH),
        # and its commits come with OffsetCommit v9+ (Kafka refuses older versions)
        if (refused := consumer_group.commit_error(request.member_id, generation)) is not None:
            return every(refused.error.code)
        member = consumer_group.members.get(request.member_id)
        classic = member is not None and member.classic is not None  # a JoinGroup member commits as it may
        if ctx.api_version < MEMBER_EPOCH_COMMIT_SINCE and not classic:
            return every(error_codes.UNSUPPORTED_VERSION)
    elif member_commit:  # a group member's commit: its generation must be current
        group, code = _group_or_code(node, request.group_id)
        if group is None:
            return every(code)
        if (refused := group.commit_error(request.member_id, generation,
                                          group_instance_id=getattr(request, "group_instance_id", None))) is not None:
            return every(refused.error.code)
    offsets, unknown, denied, epochs = {}, set(), set(), {}
    for (name, _), t in zip(named, request.topics):
        if name is None:
            continue  # an unknown topic id: UNKNOWN_TOPIC_ID (every)
        topic = node.image.topic(name)
        for p in t.partitions:
            if not ctx.allowed("consume", name):
                denied.add((name, p.partition_index))
            elif topic is None or not 0 <= p.partition_index < len(topic.partitions):
                unknown.add((name, p.partition_index))
            else:
                offsets[(name, int(p.partition_index))] = (int(p.committed_offset), p.committed_metadata or "")
                epochs[(name, int(p.partition_index))] = int(getattr(p, "committed_leader_epoch", -1))
    try:
        if offsets and member_commit:
            await node.groups.commit(request.group_id, offsets, epochs)
        elif offsets:  # from outside the group (an admin client): only while it has no members
            await node.groups.alter_offsets(request.group_id, offsets, epochs)
        code = error_codes.NONE
    except NonEmptyGroup:
        code = error_codes.UNKNOWN_MEMBER_ID  # Kafka's answer to a commit from outside a group with members
    except KraftError as exc:
        code = error_codes.code_of(exc)
    answer = every(code)
    for t in answer["topics"]:
        for p in t["partitions"]:
            if (t["name"], p["partition_index"]) in unknown:
                p["error_code"] = error_codes.UNKNOWN_TOPIC_OR_PARTITION
            elif (t["name"], p["partition_index"]) in denied:
                p["error_code"] = TOPIC_AUTHORIZATION_FAILED
    return answer


async def offset_fetch(node: BrokerServices, ctx: RequestContext, request) -> dict:
    """v0-7: one group; v8+: many groups, each with its own error; v9+: a KIP-848 member
    names itself and its epoch, checked as for a commit (Kafka's validateOffsetFetch)."""
    stable = bool(getattr(request, "require_stable", False))
    if not hasattr(request, "groups"):
        code, topics = await _fetch_group(node, ctx, request.group_id, request.topics, stable)
        return {"throttle_time": 0, "error_code": code, "topics": topics}
    groups = []
    for g in request.groups:
        code, topics = await _fetch_group(node, ctx, g.group_id, g.topics, stable,
                                          getattr(g, "member_id", None), int(getattr(g, "member_epoch", -1)))
        groups.append({"group_id": g.group_id, "error_code": code, "topics": topics})
    return {"throttle_time": 0, "groups": groups}


async def _fetch_group(node: BrokerServices, ctx: RequestContext, group_id: str, requested, require_stable: bool,
                       member_id: str | None = None, member_epoch: int = -1) -> tuple[int, list[dict]]:
    """(the group's error code, its topics' answers) of one group of an OffsetFetch. From
    v10 topics go by id both ways: an unknown id asked for is UNKNOWN_TOPIC_ID, and a
    committed topic that no longer exists is left out of an answer for every topic."""
    if (code := await _coordinator_error(node, ctx, group_id, "describe_group")) is not None:
        return code, []
    try:
        if member_id is not None or member_epoch >= 0:  # a member asks: a consumer group checks its epoch
            consumer_group = node.groups.consumer_group(group_id)
            if consumer_group is not None and (refused := consumer_group.commit_error(member_id or "",
                                                                                   member_epoch)) is not None:
                return refused.error.code, []
        committed = node.groups.committed_of_group(group_id)
        # KIP-447 (v7): a partition whose offset a transaction (or an unacknowledged
        # commit) may still change is answered UNSTABLE_OFFSET_COMMIT, per partition as
        # Kafka does for v7; the consumer retries until it is stable
        unstable = node.groups.unstable_offsets(group_id) if require_stable else frozenset()
    except KraftError as exc:
        return error_codes.code_of(exc), []
    version = ctx.api_version
    by_id = version >= topic_ids.OFFSETS_BY_ID_SINCE
    wanted: dict[tuple[str | None, Any], list[int]] = {}
    topic: str | None  # a committed topic's name here; a requested one's below (None: unknown id)
    if requested is None:  # every partition the group has committed
        for topic, partition in sorted(committed):
            topic_id = topic_ids.id_of(node, topic) if by_id else None
            if ctx.allowed("describe_topic", topic) and (topic_id is not None or not by_id):
                wanted.setdefault((topic, topic_id), []).append(partition)  # others are left out, as in Kafka
    else:
        for (name, topic_id), t in zip(topic_ids.request_topics(node, version, requested), requested):
            wanted[(name, topic_id)] = list(t.partition_indexes)
    topics = []
    for (topic, topic_id), partitions in wanted.items():
        parts = []
        for p in partitions:
            c = committed.get((topic, p)) if topic is not None else None
            if topic is None:
                code = error_codes.UNKNOWN_TOPIC_ID
            elif not ctx.allowed("describe_topic", topic):
                c, code = None, TOPIC_AUTHORIZATION_FAILED
            elif (topic, p) in unstable:
                c, code = None, UnstableOffsetCommit.kafka_code
            else:
                code = error_codes.NONE
            parts.append({"partition_index": p, "committed_offset": c.offset if c else -1,
                          "committed_leader_epoch": c.leader_epoch if c else -1,
                          "metadata": c.metadata if c else "",
                          "error_code": code})
        topics.append({"name": topic, "topic_id": topic_id, "partitions": parts})
    return error_codes.NONE, topics
