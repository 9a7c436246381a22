"""KIP-932 share groups for Kafka clients: ShareGroupHeartbeat (76), ShareFetch (78) and
ShareAcknowledge (79), at Kafka 4.2's versions: v2 adds KIP-1222's RENEW acknowledgement
(a request that carries one fetches nothing new) and the acquire mode of KIP-1206
(batch_optimized hands out whole batches, record_limit never more than max records); the
admin APIs are in handlers/share_admin_api.py.

The heartbeat goes to the group's coordinator (FindCoordinator key type 0, as for any
group); fetches and acknowledgements go to each partition's leader, which keeps the
share-partition (kraft/share holds the rules). On the wire partitions are named by
topic id; kraft/share keeps names, so this door maps between them.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.errors import CoordinatorLoadInProgress, CoordinatorNotAvailable, KraftError, NotCoordinator
from kraft.kafka.wire import error_codes
from kraft.kafka.wire.codec import RequestHead
from kraft.kafka.wire.entities import millis
from kraft.kafka.handlers.group_api import _coordinator_error
from kraft.kafka.handlers.leaders import current_leader, node_endpoint
from kraft.kafka.connection.request_context import RequestContext
from kraft.replication.change_signal import wait_any
from kraft.share.share_group import Refusal
from kraft.share.share_partition import Ack, AckRefused, ack_shape_problem
from kraft.share.share_sessions import CLOSE, MAX_PARTITIONS, OPEN, SessionRefusal
from kraft.errors.kafka_codes import GROUP_AUTHORIZATION_FAILED, INVALID_SHARE_SESSION_EPOCH, TOPIC_AUTHORIZATION_FAILED

RENEW_SINCE = 2
RECORD_LIMIT = 1  # ShareFetch v2's share_acquire_mode: 0 batch_optimized, 1 record_limit
MAX_WAIT_MS = 30_000  # a long poll never outlasts a client's request timeout
# acknowledgement batches in one request: one per record of the widest share-partition
# window (share.partition.max.record.locks at most 10,000); counted before any is read
MAX_ACK_BATCHES = 10_000
# the broker itself giving back a closed connection's records: no principal to check
_BROKER = RequestContext(RequestHead(78, 1, 0, None))

Key = tuple[str, int]
# the share coordinator holding a share-partition's state is being made, moved or loaded
STATE_NOT_YET = (CoordinatorLoadInProgress, CoordinatorNotAvailable, NotCoordinator)


def _name_of(node: BrokerServices, topic_id: uuid.UUID | None) -> str | None:
    """The topic's name (the image keys topics by their id, in hex)."""
    topic = node.image.topics.get(topic_id.hex) if topic_id is not None else None
    return None if topic is None else topic.name


def topic_id_of(node: BrokerServices, name: str) -> uuid.UUID | None:
    topic = node.image.topic(name)
    return None if topic is None else uuid.UUID(topic.topic_id)


# -- ShareGroupHeartbeat ------------------------------------------------------------------
async def heartbeat(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "error_message": None,
                              "member_id": request.member_id or None, "member_epoch": -1,
                              "heartbeat_interval": 0, "assignment": None}

    def refused(code: int, message: str | None = None) -> dict:
        answer["error_code"], answer["error_message"] = code, message
        return answer

    if not request.group_id:
        return refused(error_codes.INVALID_REQUEST, "the group id is empty")
    if (code := await _coordinator_error(node, ctx, request.group_id)) is not None:
        return refused(code)
    names = request.subscribed_topic_names
    hidden = set(names or ()) - set(ctx.visible("describe_topic", names or ()))
    if hidden:
        return refused(TOPIC_AUTHORIZATION_FAILED, f"not authorized to describe {len(hidden)} subscribed topic(s)")
    if node.groups.describe(request.group_id).get("members"):  # Kafka: one id, one kind of group
        return refused(error_codes.INCONSISTENT_GROUP_PROTOCOL,
                       f"group {request.group_id!r} is a consumer group, not a share group")
    result = node.shares.heartbeat(request.group_id, request.member_id, int(request.member_epoch),
                                   tuple(names) if names is not None else None, ctx.client_id or "",
                                   request.rack_id)
    if isinstance(result, Refusal):
        return refused(result.code, result.message)
    assignment = None
    if result.assignment is not None:
        by_topic: dict[str, list[int]] = {}
        for topic, p in result.assignment:
            by_topic.setdefault(topic, []).append(p)
        assignment = {"topic_partitions": [
            {"topic_id": topic_id, "partitions": sorted(ps)} for name, ps in sorted(by_topic.items())
            if (topic_id := topic_id_of(node, name)) is not None]}
    answer.update(member_id=result.member_id, member_epoch=result.member_epoch, assignment=assignment,
                  heartbeat_interval=node.shares.heartbeat_interval_ms(request.group_id))
    return answer


# -- ShareFetch and ShareAcknowledge -----------------------------------------------------
def size_problem(topics, forgotten=()) -> str | None:
    """Why a request names too much to be looked at, or None; counted from the lengths
    kio decoded, so a hostile frame costs one step per topic, not per batch."""
    if len(topics) + len(forgotten) > MAX_PARTITIONS:
        return f"a share request names at most {MAX_PARTITIONS} partitions"
    partitions = sum(len(t.partitions) for t in topics) + sum(len(t.partitions) for t in forgotten)
    if partitions > MAX_PARTITIONS:
        return f"a share request names at most {MAX_PARTITIONS} partitions"
    batches = sum(len(p.acknowledgement_batches) for t in topics for p in t.partitions)
    if batches > MAX_ACK_BATCHES:
        return f"{batches} acknowledgement batches; a share request carries at most {MAX_ACK_BATCHES}"
    return None


class _Acks:
    """A request's acknowledgements by partition, each partition's checked for its shape
    (share_partition.ack_shape_problem) before any is applied or authorized."""

    def __init__(self, node: BrokerServices, topics):
        self.by_key: dict[Key, list[Ack]] = {}
        self.refused: dict[Key, str] = {}  # answered INVALID_REQUEST, nothing applied
        self.named: set[Key] = set()  # every partition named
        self.unknown: dict[uuid.UUID, set[int]] = {}  # partitions of unknown topic ids
        raw: dict[Key, list] = {}
        for topic in topics:
            name = _name_of(node, topic.topic_id)
            if name is None:
                self.unknown.setdefault(topic.topic_id, set()).update(int(p.partition_index) for p in topic.partitions)
                continue
            for p in topic.partitions:
                key = (name, int(p.partition_index))
                self.named.add(key)
                if p.acknowledgement_batches:
                    raw.setdefault(key, []).extend(p.acknowledgement_batches)
        max_records = node.shares.settings.share_partition_max_record_locks
        for key, batches in raw.items():
            self._take(key, batches, max_records)

    def _take(self, key: Key, batches: list, max_records: int) -> None:
        if len(batches) > max_records:  # refused before a batch is read
            self.refused[key] = (f"{len(batches)} acknowledgement batches; a share-partition has at most "
                                 f"{max_records} records in flight")
            return
        acks = [Ack(int(b.first_offset), int(b.last_offset), tuple(b.acknowledge_types)) for b in batches]
        if (problem := ack_shape_problem(acks, max_records)) is not None:
            self.refused[key] = problem
        else:
            self.by_key[key] = acks

    def __bool__(self) -> bool:
        return bool(self.by_key or self.refused)


class _Answers:
    """Partition answers by key, grouped by topic id at the end."""

    def __init__(self, node: BrokerServices, with_records: bool):
        self.node = node
        self.with_records = with_records
        self.parts: dict[Key, dict[str, Any]] = {}
        self.leaders: set[int] = set()
        self.unknown: dict[uuid.UUID, set[int]] = {}  # topic ids this broker does not know

    def part(self, key: Key) -> dict[str, Any]:
        if key not in self.parts:
            self.parts[key] = self._blank(key[1], *current_leader(self.node, *key))
        return self.parts[key]

    def _blank(self, index: int, leader: int, epoch: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"partition_index": index, "error_code": error_codes.NONE, "error_message": None,
                                 "current_leader": {"leader_id": leader, "leader_epoch": epoch}}
        if self.with_records:
            entry.update(acknowledge_error_code=error_codes.NONE, acknowledge_error_message=None,
                         records=b"", acquired_records=[])
        return entry

    def failed(self, key: Key, code: int, message: str | None, field: str = "error_code") -> None:
        entry = self.part(key)
        entry[field] = code
        entry[field.replace("code", "message")] = message
        if code == error_codes.NOT_LEADER_OR_FOLLOWER and entry["current_leader"]["leader_id"] >= 0:
            self.leaders.add(entry["current_leader"]["leader_id"])

    def responses(self) -> tuple[list[dict], list[dict]]:
        by_topic: dict[str, list[dict]] = {}
        for (topic, _), entry in sorted(self.parts.items()):
            by_topic.setdefault(topic, []).append(entry)
        topics = [{"topic_id": tid, "partitions": parts} for name, parts in by_topic.items()
                  if (tid := topic_id_of(self.node, name)) is not None]
        for topic_id, indexes in self.unknown.items():
            entries = []
            for index in sorted(indexes):
                entry = self._blank(index, -1, -1)
                entry["error_code"], entry["error_message"] = error_codes.UNKNOWN_TOPIC_ID, "unknown topic id"
                entries.append(entry)
            topics.append({"topic_id": topic_id, "partitions": entries})
        endpoints = [e for b in sorted(self.leaders) if (e := node_endpoint(self.node, b)) is not None]
        return topics, endpoints


async def _leader_replica(node: BrokerServices, ctx: RequestContext, key: Key):
    ctx.check("consume", key[0])
    return await node.data_plane.leader_replica(*key)


async def _apply_acks(node: BrokerServices, ctx: RequestContext, group_id: str, member_id: str,
                      acks: _Acks, answers: _Answers, field: str) -> None:
    renew = ctx.api_version >= RENEW_SINCE
    for key, problem in acks.refused.items():
        answers.failed(key, error_codes.INVALID_REQUEST, problem, field)
    for key, batches in acks.by_key.items():
        try:
            replica = await _leader_replica(node, ctx, key)
            await node.shares.acknowledge((group_id, *key), replica, member_id, batches, renew)
            answers.part(key)
        except AckRefused as refusal:
            answers.failed(key, refusal.code, str(refusal), field)
        except KraftError as exc:
            answers.failed(key, error_codes.code_of(exc), str(exc), field)


def _top_level(code: int, message: str | None, lock_ms: int) -> dict:
    # how long the consumer's records are held (ShareFetch v1+, ShareAcknowledge v2+)
    return {"throttle_time": 0, "error_code": code, "error_message": message, "responses": [], "node_endpoints": [],
            "acquisition_lock_timeout": lock_ms}


def _request_check(ctx: RequestContext, request, forgotten=()) -> tuple[int, str] | None:
    """Whole-request refusals, the cheapest first: what a request names is counted before
    anything in it is read or authorized."""
    if (too_much := size_problem(request.topics, forgotten)) is not None:
        return error_codes.INVALID_REQUEST, too_much
    if not request.group_id:
        return error_codes.INVALID_GROUP_ID, "the group id is empty"
    if not request.member_id:
        return error_codes.INVALID_REQUEST, "a share fetch names its member"
    if not ctx.allowed("use_group", request.group_id):
        return GROUP_AUTHORIZATION_FAILED, "READ on the group is not authorized"
    return None


async def share_fetch(node: BrokerServices, ctx: RequestContext, request) -> dict:
    lock_ms = int(node.shares.config(request.group_id or "")["share.record.lock.duration.ms"])
    if (problem := _request_check(ctx, request, request.forgotten_topics_data)) is not None:
        return _top_level(*problem, lock_ms)
    epoch = int(request.share_session_epoch)
    acks = _Acks(node, request.topics)
    if epoch == OPEN and acks:
        return _top_level(error_codes.INVALID_REQUEST, "a new share session carries no acknowledgements", lock_ms)
    forgotten = {(name, int(p)) for t in request.forgotten_topics_data
                 if (name := _name_of(node, t.topic_id)) is not None for p in t.partitions}
    session = _session(node, ctx, request, acks.named, forgotten)
    if isinstance(session, SessionRefusal):
        return _top_level(session.code, session.message, lock_ms)
    answers = await _in_session(node, ctx, request, session.partitions, acks, with_records=True)
    renewing = bool(getattr(request, "is_renew_ack", False))  # KIP-1222: renewing locks fetches nothing
    if epoch != CLOSE and int(request.max_records) > 0 and not renewing:
        await _fetch(node, ctx, request, sorted(session.partitions), answers)
    if epoch == OPEN:
        for key in session.partitions:
            answers.part(key)
    answer = _top_level(error_codes.NONE, None, lock_ms)
    answer["responses"], answer["node_endpoints"] = answers.responses()
    return answer


async def _fetch(node: BrokerServices, ctx: RequestContext, request, keys: list[Key], answers: _Answers) -> None:
    """Acquire records on each partition, waiting up to max_wait for any (Kafka's delayed share fetch)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(0, millis(request.max_wait)), MAX_WAIT_MS) / 1000
    max_records, budget = int(request.max_records), int(request.max_bytes)
    group_id, member_id = request.group_id, request.member_id
    record_limit = int(getattr(request, "share_acquire_mode", 0)) == RECORD_LIMIT
    while True:
        signals, got = [], False
        for key in keys:
            if budget <= 0 or max_records <= 0:
                break
            try:
                replica = await _leader_replica(node, ctx, key)
                fetched = await node.shares.acquire((group_id, *key), replica, member_id, max_records, budget,
                                                    record_limit=record_limit)
            except STATE_NOT_YET:  # its stored state cannot be read yet: nothing from it this time
                continue
            except KraftError as exc:
                answers.failed(key, error_codes.code_of(exc), str(exc))
                got = True
                continue
            signals.append(replica.changed)
            if fetched.acquired:
                entry = answers.part(key)
                entry["records"] = fetched.records
                entry["acquired_records"] = [{"first_offset": a.first_offset, "last_offset": a.last_offset,
                                              "delivery_count": a.delivery_count} for a in fetched.acquired]
                max_records -= sum(a.last_offset - a.first_offset + 1 for a in fetched.acquired)
                budget -= len(fetched.records)
                got = True
        left = deadline - loop.time()
        if got or left <= 0 or not signals:
            return
        lock = node.shares.next_lock_deadline([(group_id, *key) for key in keys])
        if lock is not None:  # a lock running out makes records available again
            left = min(left, max(0.01, (lock - node.shares.now_ms()) / 1000))
        await wait_any(signals, left)


def _session(node: BrokerServices, ctx: RequestContext, request, added: set[Key], forgotten: set[Key]):
    """The request's share session, bound to its connection: one it opens closes with the
    connection, and one another connection opened is not found from this one."""
    connection = ctx.connection
    owner = None if connection is None else connection.connection_id
    session = node.shares.sessions.use(request.group_id, request.member_id, int(request.share_session_epoch),
                                       added, forgotten, node.shares.now_ms(), owner)
    if connection is not None and not isinstance(session, SessionRefusal):
        connection.on_close["share sessions"] = lambda: _connection_closed(node, connection.connection_id)
    return session


async def _connection_closed(node: BrokerServices, owner: int) -> None:
    """Its sessions end and their members' records go back, as Kafka's share session cache
    does when a client's connection closes (rather than waiting for their locks)."""
    for session in node.shares.sessions.close_owner(owner):
        await _release(node, _BROKER, session.group_id, session.member_id, session.partitions)


async def _in_session(node: BrokerServices, ctx: RequestContext, request, partitions, acks: _Acks,
                      with_records: bool) -> _Answers:
    """A request's acknowledgements (ShareFetch's per partition in acknowledge_error_code,
    ShareAcknowledge's in error_code); a closing request then gives back what is held."""
    answers = _Answers(node, with_records)
    answers.unknown = acks.unknown
    group_id, member_id = request.group_id, request.member_id
    await _apply_acks(node, ctx, group_id, member_id, acks, answers,
                      "acknowledge_error_code" if with_records else "error_code")
    if int(request.share_session_epoch) == CLOSE:
        await _release(node, ctx, group_id, member_id, partitions)
    return answers


async def _release(node: BrokerServices, ctx: RequestContext, group_id: str, member_id: str, partitions) -> None:
    """A closed session gives back what its member holds (stored; where that fails, the
    records are left to their locks)."""
    for key in sorted(partitions):
        try:
            await node.shares.release_member((group_id, *key), await _leader_replica(node, ctx, key), member_id)
        except KraftError:
            pass


async def share_acknowledge(node: BrokerServices, ctx: RequestContext, request) -> dict:
    lock_ms = int(node.shares.config(request.group_id or "")["share.record.lock.duration.ms"])
    if (problem := _request_check(ctx, request)) is not None:
        return _top_level(*problem, lock_ms)
    if int(request.share_session_epoch) == OPEN:
        return _top_level(INVALID_SHARE_SESSION_EPOCH, "ShareAcknowledge needs an open share session", lock_ms)
    acks = _Acks(node, request.topics)
    session = _session(node, ctx, request, set(), set())
    if isinstance(session, SessionRefusal):
        return _top_level(session.code, session.message, lock_ms)
    answers = await _in_session(node, ctx, request, session.partitions, acks, with_records=False)
    answer = _top_level(error_codes.NONE, None, lock_ms)
    answer["responses"], answer["node_endpoints"] = answers.responses()
    return answer
