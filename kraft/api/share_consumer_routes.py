"""REST share consumers (ext): KIP-932 share groups over HTTP, in the style of the REST
Proxy's v2 consumer API, at /share-consumers/{group}/instances/{instance}/...

An instance is a member of the share group, kept by the group's coordinator node (any
other node forwards the request there, as for v2 consumer instances). It subscribes to
topics, polls records (each with its partition, offset and delivery count) and
acknowledges each one: accept, release (delivered again), reject (archived, to the
group's dead-letter topic if it has one) or renew (its lock starts again). Records it
leaves unacknowledged come back when their locks run out; DELETE gives them back at once.
Requests of one instance run one at a time and count as its heartbeats.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from functools import wraps

import orjson
from aiohttp import web

from kraft.api import access_rules
from kraft.api import record_codec as rc
from kraft.api.consumer_requests import check_name, require_object
from kraft.api.consumer_routes import (accepts_v2, coordinated, no_content, now_ms, optional_body, records_media,
                                      required_body, v2_json)
from kraft.api.http_body import query_int
from kraft.api.paths import base_url
from kraft.broker.services import BrokerServices
from kraft.config.topic_names import validate_topic_name
from kraft.errors import ConsumerInstanceExists, ConsumerInstanceNotFound, InvalidValue, KraftError, RecordNotHeld
from kraft.share.rest_share_instances import FORMATS, InstanceRefused, RestShareInstance
from kraft.share.share_group import Refusal
from kraft.share.share_partition import Ack, AckType
from kraft.storage.record_batch import decode_records_prefix, iter_batches

SHARE = "/share-consumers/{group}"
INSTANCE = SHARE + "/instances/{instance}"
MAX_WAIT_MS = 30_000
MAX_READ_BYTES = 16 * 1024 * 1024
MAX_ACKS = 10_000  # records acknowledged in one request
RETRY_S = 0.05  # between two rounds of a long poll that found nothing
TYPES = {t.name.lower(): t for t in (AckType.ACCEPT, AckType.RELEASE, AckType.REJECT, AckType.RENEW)}


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(SHARE, create_instance)
    r.add_delete(INSTANCE, delete_instance)
    r.add_post(INSTANCE + "/subscription", subscribe)
    r.add_get(INSTANCE + "/subscription", get_subscription)
    r.add_get(INSTANCE + "/records", records)
    r.add_post(INSTANCE + "/acknowledgements", acknowledge)


def with_instance(handler=None, *, records_answer: bool = False):
    """At the group's coordinator: the instance, its lock held, its request its heartbeat.
    A records answer has its format's media type (checked by the handler), others v2's."""
    if handler is None:
        return lambda h: with_instance(h, records_answer=records_answer)

    @coordinated
    @wraps(handler)
    async def route(request, node: BrokerServices, _groups, group_id):
        name = request.match_info["instance"]
        instance = node.shares.rest.get(group_id, name, now_ms())
        if instance is None:
            raise ConsumerInstanceNotFound(f"share consumer instance {name!r} not found in group {group_id!r}")
        async with instance.lock:
            instance.last_seen_ms = now_ms()
            return await handler(request, node, instance)
    return route if records_answer else accepts_v2(route)


# -- instances ---------------------------------------------------------------------------
@accepts_v2
@coordinated
async def create_instance(request, node: BrokerServices, _groups, group_id):
    body = await optional_body(request)
    unknown = set(body) - {"name", "format", "auto.offset.reset", "consumer.instance.timeout.ms"}
    if unknown:
        raise InvalidValue(f"unknown share consumer config(s): {', '.join(sorted(unknown))}; supported: "
                           "name, format, auto.offset.reset, consumer.instance.timeout.ms")
    reset = body.get("auto.offset.reset")
    if reset not in (None, "earliest", "latest"):
        raise InvalidValue(f'"auto.offset.reset" must be earliest or latest, got {reset!r}')
    name = body.get("name", f"kraft-share-{uuid.uuid4().hex[:12]}")
    if not isinstance(name, str):
        raise InvalidValue('"name" must be a string')
    fmt = body.get("format", "binary")
    if fmt not in FORMATS:
        raise InvalidValue(f'"format" must be one of {", ".join(FORMATS)}, got {fmt!r}')
    timeout = body.get("consumer.instance.timeout.ms", node.config.groups.consumer_instance_timeout_ms)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1000 <= timeout <= 86_400_000:
        raise InvalidValue('"consumer.instance.timeout.ms" must be an integer between 1000 and 86400000')
    try:
        node.shares.rest.create(group_id, check_name(name, "instance name"), fmt, timeout, now_ms(), reset)
    except InstanceRefused as exc:
        raise ConsumerInstanceExists(str(exc)) from None
    return v2_json({"instance_id": name, "base_uri": f"{base_url(request)}/share-consumers/{group_id}/instances/{name}"})


@with_instance
async def delete_instance(request, node: BrokerServices, instance: RestShareInstance):
    """Leave the group and give back what the instance holds."""
    for topic, partition in _assigned(node, instance):
        try:
            await node.share_leaders.release(instance.group_id, instance.member_id, topic, partition)
        except KraftError:
            pass  # a leader moving: the records come back when their locks run out
    if instance.member_epoch:
        node.shares.heartbeat(instance.group_id, instance.member_id, -1, None, "", None)
    node.shares.rest.delete(instance.group_id, instance.name)
    return no_content()


# -- subscription --------------------------------------------------------------------------
@with_instance
async def subscribe(request, node: BrokerServices, instance: RestShareInstance):
    body = await required_body(request)
    topics = body.get("topics")
    if set(body) != {"topics"} or not isinstance(topics, list) or not topics \
            or not all(isinstance(t, str) for t in topics):
        raise InvalidValue('a share subscription is {"topics": [...]}, a non-empty list of topic names')
    for topic in topics:
        validate_topic_name(topic)
        access_rules.check(request, "consume", topic)
    instance.topics = tuple(sorted(set(topics)))
    _heartbeat(node, instance, joining=True)
    for topic, partition in _assigned(node, instance):  # partitions the group never read start now
        try:
            await node.share_leaders.fetch(instance.group_id, instance.member_id, topic, partition, 0, 1,
                                           instance.reset)
        except KraftError:
            pass  # at its first poll instead
    return no_content()


@with_instance
async def get_subscription(request, node: BrokerServices, instance: RestShareInstance):
    return v2_json({"topics": list(instance.topics)})


def _heartbeat(node: BrokerServices, instance: RestShareInstance, joining: bool = False) -> None:
    """The instance's heartbeat; a member the group lost (its session ran out) joins again
    under its member id, so what it holds stays its own."""
    epoch = 0 if joining or not instance.member_epoch else instance.member_epoch
    topics = instance.topics if epoch == 0 or joining else None
    answer = node.shares.heartbeat(instance.group_id, instance.member_id, epoch, topics, instance.name, None)
    if isinstance(answer, Refusal):
        answer = node.shares.heartbeat(instance.group_id, instance.member_id, 0, instance.topics, instance.name, None)
    if isinstance(answer, Refusal):
        raise InvalidValue(f"the share group refused the instance: {answer.message}")
    instance.member_epoch = answer.member_epoch


def _assigned(node: BrokerServices, instance: RestShareInstance) -> list[tuple[str, int]]:
    group = node.shares.group(instance.group_id)
    member = group.members.get(instance.member_id) if group is not None else None
    return sorted(member.assigned) if member is not None else []


# -- records ---------------------------------------------------------------------------------
@with_instance(records_answer=True)
async def records(request, node: BrokerServices, instance: RestShareInstance):
    media = records_media(request, instance.format)  # as a v2 consumer's records answer
    timeout_ms = query_int(request, "timeout", 1000, 0, MAX_WAIT_MS)
    max_records = query_int(request, "max_records", 500, 1, 10_000)
    max_bytes = query_int(request, "max_bytes", 1024 * 1024, 1, MAX_READ_BYTES)
    if not instance.topics:
        return web.Response(body=b"[]", content_type=media)
    _heartbeat(node, instance)
    for topic in instance.topics:  # ACLs may have changed since it subscribed
        access_rules.check(request, "consume", topic)
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        got: list[dict] = []
        for topic, partition in _assigned(node, instance):
            if len(got) >= max_records:
                break
            try:
                fetched = await node.share_leaders.fetch(instance.group_id, instance.member_id, topic, partition,
                                                         max_records - len(got), max_bytes, instance.reset)
            except KraftError:
                continue  # a leader moving or a state being loaded: this partition next time
            got += _rendered(fetched, topic, partition, instance.format == "binary", max_bytes)
        if got or time.monotonic() >= deadline:
            return web.Response(body=orjson.dumps(got), content_type=media)
        await asyncio.sleep(min(RETRY_S, max(0.0, deadline - time.monotonic())))


def _rendered(fetched, topic: str, partition: int, binary: bool, max_bytes: int) -> list[dict]:
    """The acquired records of the fetched batches, each with its delivery count."""
    counts = {o: a.delivery_count for a in fetched.acquired for o in range(a.first_offset, a.last_offset + 1)}
    out = []
    for pos, header in iter_batches(fetched.records):
        first = next((o for o in range(header.base_offset, header.last_offset + 1) if o in counts), None)
        if first is None:
            continue
        decoded, _, _ = decode_records_prefix(fetched.records, pos, max_bytes, from_offset=first)
        for record in decoded:
            if record.offset in counts:
                out.append({**rc.render_v2(record, binary, topic, partition),
                            "delivery_count": counts[record.offset]})
    return out


# -- acknowledgements --------------------------------------------------------------------
@with_instance
async def acknowledge(request, node: BrokerServices, instance: RestShareInstance):
    """{"records": [{"topic", "partition", "offset", "type": accept|release|reject|renew}]};
    each partition's acknowledgements are taken or refused as a whole."""
    body = require_object(await required_body(request))
    entries = body.get("records")
    if set(body) != {"records"} or not isinstance(entries, list) or not entries or len(entries) > MAX_ACKS:
        raise InvalidValue(f'acknowledgements are {{"records": [...]}}, 1 to {MAX_ACKS} of them')
    by_partition: dict[tuple[str, int], list[Ack]] = {}
    for entry in entries:
        try:
            topic, partition, offset = entry["topic"], entry["partition"], entry["offset"]
            kind = TYPES[str(entry.get("type", "accept")).lower()]
        except (KeyError, TypeError, AttributeError):
            raise InvalidValue('each acknowledgement is {"topic", "partition", "offset", "type": accept, release, '
                               'reject or renew}') from None
        if not isinstance(topic, str) or isinstance(partition, bool) or not isinstance(partition, int) \
                or isinstance(offset, bool) or not isinstance(offset, int):
            raise InvalidValue("topic is a string, partition and offset integers")
        by_partition.setdefault((topic, partition), []).append(Ack(offset, offset, (int(kind),)))
    _heartbeat(node, instance)
    refused = []
    for (topic, partition), acks in sorted(by_partition.items()):
        try:
            await node.share_leaders.acknowledge(instance.group_id, instance.member_id, topic, partition, acks)
        except KraftError as exc:
            refused.append(f"{topic}-{partition}: {exc}")
    if refused:
        raise RecordNotHeld(f"acknowledgements refused (the others were taken): {'; '.join(refused)}")
    return no_content()
