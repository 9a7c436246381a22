"""REST Proxy v2 consumer instances: /consumers/{group}/instances/{instance}/...

Every request of a group goes to the group's coordinator node, where its instances
live (kraft/groups/group_coordinator.py); another node forwards it there unchanged, so an
instance created through one node works through any. Requests of one instance run one
at a time, and each counts as the instance's heartbeat.

Choices where Confluent and Redpanda differ or are silent: a commit's body key may be
"offsets" (Confluent) or "partitions" (Redpanda); either way the offset given is the
last record consumed and the group stores offset + 1 (Confluent's rule), while an
empty body commits the current positions. Mutating calls answer 204.
"""

from __future__ import annotations

import time
import uuid
from functools import wraps

import orjson
from aiohttp import web

from kraft.groups.consumer_instance import FORMATS, READ_COMMITTED
from kraft.groups.rest_departures import not_found_message
from kraft.broker.services import BrokerServices
from kraft.api import record_codec as rc
from kraft.api.consumer_requests import check_name, instance_config, partition_list, require_object, subscription
from kraft.api import access_rules
from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.context import node_of
from kraft.api.http_body import check_content_type, check_v2_accept, query_int, read_body
from kraft.internode.peers import LOCAL_ONLY_HEADER
from kraft.api.paths import base_url, check_cluster
from kraft.broker.consumer_poll import poll
from kraft.api.schema_lookup import door_of
from kraft.api.schema_records import V2_FORMATS, decode
from kraft.errors import (BadRequest, ConsumerConflict, FormatMismatch, InvalidValue, NotCoordinator,
                          RecordNotDecodable, TopicNotFound)

V2 = "application/vnd.kafka.v2+json"
BODY_TYPES = (V2, rc.V2_JSON, rc.V2_BINARY, "application/json")
INSTANCE = "/consumers/{group}/instances/{instance}"
MAX_WAIT_MS = 60_000
MAX_READ_BYTES = 64 * 1024 * 1024
# longer than the longest records call: a 60 s long poll plus an auto-commit's acks=all wait
FORWARD_TIMEOUT_S = 120


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/consumers/{group}", create_instance)
    r.add_delete(INSTANCE, delete_instance)
    r.add_post(INSTANCE + "/subscription", subscribe)
    r.add_get(INSTANCE + "/subscription", get_subscription)
    r.add_delete(INSTANCE + "/subscription", unsubscribe)
    r.add_post(INSTANCE + "/assignments", assign)
    r.add_get(INSTANCE + "/assignments", get_assignments)
    r.add_post(INSTANCE + "/positions", seek)
    r.add_post(INSTANCE + "/positions/beginning", seek_to_beginning)
    r.add_post(INSTANCE + "/positions/end", seek_to_end)
    r.add_get(INSTANCE + "/records", records)
    r.add_post(INSTANCE + "/offsets", commit)
    r.add_get(INSTANCE + "/offsets", committed)


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def v2_json(data, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=V2)


def no_content() -> web.Response:
    return web.Response(status=204)


async def forward(request, node: BrokerServices, target: int) -> web.Response:
    if LOCAL_ONLY_HEADER in request.headers:
        raise NotCoordinator(f"NOT_COORDINATOR: node {node.node_id} does not coordinate group "
                        f"{request.match_info['group']!r} (metadata moving); retry")
    body = await read_body(request) if request.can_read_body else None
    headers = {LOCAL_ONLY_HEADER: "1", "Host": request.host}
    for name in ("Content-Type", "Accept"):
        if name in request.headers:
            headers[name] = request.headers[name]
    status, data, ctype = await node.proxy_request(target, request.method, request.path_qs, headers, body,
                                                   what="coordinator", timeout_s=FORWARD_TIMEOUT_S,
                                                   on_behalf=request.get(IDENTITY_KEY))
    if status == 204:
        return no_content()
    if status == 404 and "instance" in request.match_info:
        data = _told_why(node, request.match_info["group"], request.match_info["instance"], data)
    return web.Response(body=data, status=status, content_type=ctype)


def _told_why(node: BrokerServices, group_id: str, name: str, answer: bytes) -> bytes:
    """The coordinator never knew the instance, but this node may: it coordinated the group
    before (the instance left here, e.g. with the coordinator's move)."""
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return answer
    rest = node.groups.rest_instances
    if not isinstance(body, dict) or body.get("message") != not_found_message(group_id, name):
        return answer
    return orjson.dumps({**body, "message": rest.not_found(group_id, name)})


def coordinated(handler=None, *, create: bool = True):
    """Run the handler on the group's coordinator; any other node forwards the request.
    Without `create` (read-only calls) a missing offsets topic means no such group."""
    if handler is None:
        return lambda h: coordinated(h, create=create)

    @wraps(handler)
    async def route(request):
        node = node_of(request)
        if "cluster_id" in request.match_info:
            check_cluster(request, node.cluster_id)
        group_id = check_name(request.match_info["group"], "group id")
        target = await node.groups.locate(group_id, create=create)
        if target is not None:
            return await forward(request, node, target)
        return await handler(request, node, node.groups, group_id)
    return route


def accepts_v2(route):
    """406 before anything else when the client accepts no v2 answer."""
    @wraps(route)
    async def checked(request):
        check_v2_accept(request)
        return await route(request)
    return checked


def with_instance(handler=None, *, rejoin: bool = False):
    """Also find the instance, hold its lock, and count the request as a heartbeat
    (a records call also rejoins an instance that lost its membership)."""
    if handler is None:
        return lambda h: with_instance(h, rejoin=rejoin)

    @coordinated
    @wraps(handler)
    async def route(request, node: BrokerServices, groups, group_id):
        name = request.match_info["instance"]
        groups.instance(group_id, name)
        async with groups.lock(group_id, name):
            group, instance = groups.instance(group_id, name)  # it may have gone meanwhile
            error = group.touch(instance, now_ms(), rejoin)
            if error is not None:
                raise ConsumerConflict(error[1])
            return await handler(request, node, groups, group, instance)
    return route


async def optional_body(request) -> dict:
    raw = await read_body(request)
    if not raw.strip():
        return {}  # e.g. curl -X POST with no body: no Content-Type to check
    check_content_type(request, BODY_TYPES)
    try:
        return require_object(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


async def required_body(request) -> dict:
    body = await optional_body(request)
    if not body:
        raise InvalidValue("request body is empty; see the REST Proxy v2 API for this call's fields")
    return body


# -- instances ---------------------------------------------------------------------------
@accepts_v2
@coordinated
async def create_instance(request, node: BrokerServices, groups, group_id):
    name, config = instance_config(await optional_body(request), groups.settings)
    if config.format in V2_FORMATS:
        door_of(request)  # 42206 now, not at its first poll, on a node without a registry
    name = name or f"kraft-consumer-{uuid.uuid4().hex[:12]}"
    groups.create_instance(group_id, name, config)
    return v2_json({"instance_id": name,
                    "base_uri": f"{base_url(request)}/consumers/{group_id}/instances/{name}"})


@accepts_v2
@coordinated
async def delete_instance(request, node: BrokerServices, groups, group_id):
    name = request.match_info["instance"]
    groups.instance(group_id, name)  # 40403 before a lock is made for it
    async with groups.lock(group_id, name):
        groups.delete_instance(group_id, name)
    return no_content()


# -- subscription and assignment -----------------------------------------------------------
@accepts_v2
@with_instance
async def subscribe(request, node: BrokerServices, groups, group, instance):
    existing = sorted(t.name for t in node.image.topics.values())
    topics, pattern = subscription(await required_body(request), existing)
    for topic in topics or ():
        access_rules.check(request, "consume", topic)
    if instance.manual:
        raise ConsumerConflict("this instance was assigned partitions by hand; subscribe and assign are "
                               "mutually exclusive: DELETE its subscription first")
    if instance.subscribed and (pattern is None) != (instance.pattern is None):
        raise ConsumerConflict("subscriptions to topics and to a pattern are mutually exclusive: "
                               "DELETE the subscription first")
    old = instance.topics, instance.pattern, instance.topic_visible
    instance.topics, instance.pattern = topics, pattern
    instance.topic_visible = _topic_visible_to(request)
    error = group.subscribe(instance, now_ms())
    if error is not None:
        instance.topics, instance.pattern, instance.topic_visible = old
        raise ConsumerConflict(error[1])
    instance.note_existing(existing)  # this node's image may be ahead of the group's topic counts
    return no_content()


def _topic_visible_to(request):
    """Whether the subscriber may see a topic, asked at each match (ACLs change)."""
    access, who = node_of(request).access, request.get(IDENTITY_KEY)
    return lambda topic: bool(access.may_see(who, "describe_topic", (topic,)))


@with_instance
async def get_subscription(request, node: BrokerServices, groups, group, instance):
    existing = sorted(t.name for t in node.image.topics.values())
    wanted = instance.wanted_topics(existing)
    return v2_json({"topics": sorted(access_rules.visible(request, "describe_topic", wanted))})


@with_instance
async def unsubscribe(request, node: BrokerServices, groups, group, instance):
    group.unsubscribe(instance, now_ms())
    instance.manual = ()
    instance.set_owned(())
    return no_content()


@with_instance
async def assign(request, node: BrokerServices, groups, group, instance):
    chosen = partition_list(await required_body(request), "partitions", node.image)
    for topic in {t for t, _, _, _ in chosen}:
        access_rules.check(request, "consume", topic)
    if instance.subscribed:
        raise ConsumerConflict("this instance subscribed to topics; subscribe and assign are mutually "
                               "exclusive: DELETE its subscription first")
    instance.manual = tuple((t, p) for t, p, _, _ in chosen)
    instance.set_owned(instance.manual)
    instance.note_existing({t for t, _, _, _ in chosen})  # partition_list found each in the image
    return no_content()


def _partitions_view(tps) -> list[dict]:
    return [{"topic": t, "partition": p} for t, p in sorted(tps)]


@with_instance
async def get_assignments(request, node: BrokerServices, groups, group, instance):
    return v2_json({"partitions": _partitions_view(instance.owned)})


# -- positions -------------------------------------------------------------------------------
def _owned_or_conflict(instance, topic: str, partition: int) -> tuple[str, int]:
    if (topic, partition) not in instance.owned:
        raise ConsumerConflict(f"{topic}-{partition} is not assigned to instance {instance.instance_id!r} "
                               f"(it owns {[f'{t}-{p}' for t, p in sorted(instance.owned)]})")
    return topic, partition


@with_instance
async def seek(request, node: BrokerServices, groups, group, instance):
    body = await required_body(request)
    if "timestamps" in body and "offsets" not in body:  # (ext) seek by time
        return await _seek_by_time(body, node, instance)
    wanted = partition_list(body, "offsets", node.image, with_offset=True)
    targets = {}
    for topic, partition, offset, _ in wanted:
        tp = _owned_or_conflict(instance, topic, partition)
        end = await node.partition_reader.high_watermark(*tp)
        if offset > end:
            raise InvalidValue(f"offset {offset} is beyond the log end {end} of {topic}-{partition}")
        targets[tp] = offset
    _set_positions(instance, targets)
    return no_content()


async def _seek_by_time(body, node: BrokerServices, instance):
    """Each partition to its first record stamped at or after the time, or to its end."""
    wanted = partition_list(body, "timestamps", node.image, with_offset=True, value="timestamp")
    targets = {}
    for topic, partition, timestamp, _ in wanted:
        tp = _owned_or_conflict(instance, topic, partition)
        targets[tp] = await node.partition_reader.offset_for_timestamp(topic, partition, timestamp)
    _set_positions(instance, targets)
    return no_content()


def _set_positions(instance, targets: dict) -> None:
    """After the awaits above: a rebalance may have taken a partition meanwhile."""
    for topic, partition in targets:
        _owned_or_conflict(instance, topic, partition)
    instance.positions.update(targets)


async def _seek_edge(request, node: BrokerServices, instance, beginning: bool):
    chosen = partition_list(await required_body(request), "partitions", node.image)
    for topic in {t for t, _, _, _ in chosen}:
        access_rules.check(request, "consume", topic)
    targets = {}
    for topic, partition, _, _ in chosen:
        tp = _owned_or_conflict(instance, topic, partition)
        start, end = await node.partition_reader.offsets(
            tp[0], tp[1], stable=instance.config.isolation_level == READ_COMMITTED)
        targets[tp] = start if beginning else end
    _set_positions(instance, targets)
    return no_content()


@with_instance
async def seek_to_beginning(request, node: BrokerServices, groups, group, instance):
    return await _seek_edge(request, node, instance, beginning=True)


@with_instance
async def seek_to_end(request, node: BrokerServices, groups, group, instance):
    return await _seek_edge(request, node, instance, beginning=False)


# -- records -------------------------------------------------------------------------------
def records_media(request, fmt: str) -> str:
    """The answer's media type, the instance's format's; 40601 when Accept asks for another."""
    accept = request.headers.get("Accept", "")
    wanted = f"application/vnd.kafka.{fmt}.v2+json"
    others = [f"application/vnd.kafka.{f}.v2+json" for f in FORMATS if f != fmt]
    if any(other in accept for other in others) and wanted not in accept:
        raise FormatMismatch(f"this instance was created with format {fmt}; ask with Accept: {wanted}")
    if accept and not any(t in accept for t in (wanted, V2, "application/json", "*/*")):
        raise FormatMismatch(f"Accept {accept!r} is not supported; use {wanted}")
    return wanted


@with_instance(rejoin=True)
async def records(request, node: BrokerServices, groups, group, instance):
    fmt = instance.config.format
    media = records_media(request, fmt)
    door = door_of(request) if fmt in V2_FORMATS else None  # 42206 before a poll moves positions
    timeout_ms = query_int(request, "timeout", 1000, 0, MAX_WAIT_MS)
    max_bytes = query_int(request, "max_bytes", 1024 * 1024, 1, MAX_READ_BYTES)
    for topic in sorted({t for t, _ in instance.owned}):  # ACLs may have changed since it subscribed
        access_rules.check(request, "consume", topic)
    if instance.config.auto_commit and instance.uncommitted():
        await _commit(groups, group, instance, instance.uncommitted())  # what the last poll delivered
    if not any(node.image.topic(t) is not None for t, _ in instance.owned):
        _refuse_deleted_topics(node, instance)  # nothing left to wait for
    got = await poll(groups, node.partition_reader, instance, max_bytes, timeout_ms, rc.MAX_RECORDS_PER_ANSWER)
    instance.last_seen_ms = now_ms()
    if not got:
        _refuse_deleted_topics(node, instance)
    if door is None:
        return web.Response(body=await rc.v2_answer(got, fmt == "binary"), content_type=media)
    body = await _decoded(door, request.get(IDENTITY_KEY), instance, fmt, got)
    return web.Response(body=orjson.dumps(body), content_type=media)


async def _decoded(door, who, instance, fmt: str, got) -> list[dict]:
    """The records decoded with their schemas. A record that does not decode fails the
    poll (42207) and leaves every position where this poll found it: the client seeks past
    the record, as with Confluent REST Proxy."""
    out = []
    try:
        for (topic, partition), record in got:
            where = f"record {topic}-{partition}@{record.offset}"
            rendered = rc.render_v2(record, True, topic, partition)
            rendered["key"] = await decode(door, who, record.key, fmt, f"the key of {where}")
            rendered["value"] = await decode(door, who, record.value, fmt, f"the value of {where}")
            out.append(rendered)
    except RecordNotDecodable:
        for tp, record in reversed(got):  # the earliest offset of each partition wins
            if tp in instance.positions:
                instance.positions[tp] = record.offset
        raise
    return out


def _refuse_deleted_topics(node: BrokerServices, instance) -> None:
    """An answer with no records says so when topics the instance named were deleted
    (40401), instead of an empty list for ever."""
    deleted = instance.deleted_topics({t for t in instance.named_topics() if node.image.topic(t) is not None})
    if deleted:
        how = "is assigned partitions of" if instance.manual else "subscribes to"
        names, was, it = ", ".join(map(repr, deleted)), "were" if len(deleted) > 1 else "was", \
            "them" if len(deleted) > 1 else "it"
        raise TopicNotFound(f"UNKNOWN_TOPIC_OR_PARTITION: topic {names} {was} deleted and instance "
                            f"{instance.instance_id!r} still {how} {it}: subscribe or assign again "
                            f"without {it}, or create {it} again")


# -- committed offsets ------------------------------------------------------------------------
async def _commit(groups, group, instance, positions: dict) -> None:
    """positions: (topic, partition) -> next offset to consume, with optional metadata.
    Ownership and membership are checked here, with no await before the append."""
    for topic, partition in positions:
        _owned_or_conflict(instance, topic, partition)
    error = group.commit_error(instance)
    if error is not None:
        raise ConsumerConflict(error[1])
    items = {tp: value if isinstance(value, tuple) else (value, "") for tp, value in positions.items()}
    await groups.commit(instance.group, items)
    for tp, (offset, _) in items.items():
        instance.committed_positions[tp] = offset


@with_instance
async def commit(request, node: BrokerServices, groups, group, instance):
    body = await optional_body(request)
    if not body:
        if instance.positions:
            await _commit(groups, group, instance, dict(instance.positions))
        return no_content()
    key = "offsets" if "offsets" in body else "partitions"
    if set(body) - {key}:
        raise InvalidValue('a commit is {"offsets": [{"topic", "partition", "offset"}]} '
                           '(or "partitions" instead of "offsets")')
    wanted = partition_list(body, key, node.image, with_offset=True)
    targets = {}
    for topic, partition, offset, metadata in wanted:
        access_rules.check(request, "consume", topic)
        tp = _owned_or_conflict(instance, topic, partition)
        end = await node.partition_reader.high_watermark(*tp)
        if offset + 1 > end:
            raise InvalidValue(f"offset {offset} of {topic}-{partition} is beyond the log end {end}: only "
                               f"offsets of consumed records (< {end}) can be committed")
        targets[tp] = (offset + 1, metadata)
    if targets:
        await _commit(groups, group, instance, targets)
    return no_content()


@with_instance
async def committed(request, node: BrokerServices, groups, group, instance):
    body = await optional_body(request)
    asked = [(t, p) for t, p, _, _ in partition_list(body, "partitions", node.image)] if body else instance.owned
    out = []
    for topic, partition in sorted(asked):
        c = groups.committed(instance.group, topic, partition)
        if c is not None:
            out.append({"topic": topic, "partition": partition, "offset": c.offset, "metadata": c.metadata})
    return v2_json({"offsets": out})
