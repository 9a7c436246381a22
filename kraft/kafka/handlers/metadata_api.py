"""Metadata (key 3): brokers at their Kafka ports, topics with leaders, epochs and ISRs.

A named topic that is missing is created when both the client allows it and the
cluster's auto.create.topics.enable is on, as a Kafka broker does for a producer, if the
principal may CREATE it (else TOPIC_AUTHORIZATION_FAILED, as Kafka answers); an illegal
name is INVALID_TOPIC_EXCEPTION, which a producer does not retry. The topic's
and cluster's authorized operations are filled in when the client asks (KIP-430).
"""

from __future__ import annotations

import uuid
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.broker.auto_create import topic_for_produce
from kraft.config.topic_names import validate_topic_name
from kraft.errors import InvalidValue, KraftError, TopicNotFound
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.authorized_ops import NOT_REQUESTED, authorized_operations
from kraft.kafka.handlers.leaders import kafka_endpoint
from kraft.kafka.handlers.metadata_topics import ENCODED_TOPICS, topic_view
from kraft.kafka.connection.request_context import RequestContext
from kraft.metadata.image import TopicImage
from kraft.errors.kafka_codes import TOPIC_AUTHORIZATION_FAILED

ZERO_UUID = uuid.UUID(int=0)


def advertised_brokers(node: BrokerServices, with_fenced: bool = False) -> list[dict]:
    """Unfenced brokers that have a Kafka listener (registered, or in cluster.toml), and
    the fenced ones too when asked (DescribeCluster v2), each saying which it is."""
    image = node.image
    ids = sorted(image.brokers) if with_fenced else image.unfenced_broker_ids()
    out = []
    for broker_id in ids:
        if (endpoint := kafka_endpoint(node, broker_id)) is not None:
            out.append({"node_id": broker_id, "host": endpoint[0], "port": endpoint[1],
                        "rack": image.brokers[broker_id].rack,
                        "is_fenced": image.brokers[broker_id].fenced})
    return out


def _missing(name: str | None, code: int) -> dict:
    return {"error_code": code, "name": name, "topic_id": ZERO_UUID, "is_internal": False,
            "partitions": [], "topic_authorized_operations": NOT_REQUESTED}


async def handle(node: BrokerServices, ctx: RequestContext, request) -> dict:
    names = None if request.topics is None else [t.name for t in request.topics]
    if names == [] and ctx.api_version == 0:
        names = None  # v0: an empty list means every topic
    allow_create = getattr(request, "allow_auto_topic_creation", True)
    found: list[TopicImage | dict] = []  # a topic, or a missing one's answer
    if names is None:  # every topic the principal may DESCRIBE, as Kafka lists them
        found = [t for t in sorted(node.image.topics.values(), key=lambda t: t.name)
                 if ctx.allowed("describe_topic", t.name)]
    else:
        for t in request.topics:
            if t.name is None and ctx.api_version >= TOPIC_ID_LOOKUP_SINCE:
                found.append(_topic_by_id(node, ctx, getattr(t, "topic_id", None)))
            else:
                found.append(await _named_topic(node, ctx, t.name, allow_create))
    image = node.image
    live = frozenset(image.unfenced_broker_ids())
    topics: list = []
    if getattr(request, "include_topic_authorized_operations", False):
        topics = [topic_view(image, t, live) if isinstance(t, TopicImage) else t for t in found]
        for topic in topics:
            if topic["name"] is not None and topic["error_code"] != TOPIC_AUTHORIZATION_FAILED:
                topic["topic_authorized_operations"] = authorized_operations(ctx, True, "TOPIC", topic["name"])
    else:  # each topic's entry as written for its current state
        topics = [ENCODED_TOPICS.entry(image, t, live, ctx.api_version) if isinstance(t, TopicImage) else t
                  for t in found]
    # v13's top-level code (KIP-1102) would ask the client to rebootstrap; nothing here does
    return {"throttle_time": 0, "error_code": error_codes.NONE, "brokers": advertised_brokers(node),
            "cluster_id": node.cluster_id,
            "controller_id": image.controller_id, "topics": topics,
            "cluster_authorized_operations": authorized_operations(
                ctx, getattr(request, "include_cluster_authorized_operations", False), "CLUSTER")}


TOPIC_ID_LOOKUP_SINCE = 12  # KIP-516: a topic asked for by id (KIP-848 clients learn their assignments' ids)


def _topic_by_id(node: BrokerServices, ctx: RequestContext, topic_id) -> TopicImage | dict:
    """A topic asked for by its id (name null), or Kafka's answer for it."""
    topic = node.image.topics.get(topic_id.hex) if topic_id is not None and topic_id != ZERO_UUID else None
    if topic is not None and ctx.allowed("describe_topic", topic.name):
        return topic
    # ids are not secret (Kafka answers the same); the name of a topic not allowed stays unsaid
    missing = _missing(None, error_codes.UNKNOWN_TOPIC_ID if topic is None else TOPIC_AUTHORIZATION_FAILED)
    missing["topic_id"] = topic_id if topic_id is not None else ZERO_UUID
    return missing


async def _named_topic(node: BrokerServices, ctx: RequestContext, name: str | None,
                       allow_create: bool) -> TopicImage | dict:
    if name is None:
        return _missing(name, error_codes.INVALID_REQUEST)  # lookups by topic id: not served
    if not ctx.allowed("describe_topic", name):
        return _missing(name, TOPIC_AUTHORIZATION_FAILED)
    try:
        validate_topic_name(name)
    except InvalidValue:  # Kafka's answer, which clients do not retry
        return _missing(name, error_codes.INVALID_TOPIC_EXCEPTION)
    # auto-creation needs CREATE on the cluster or the topic, as in Kafka
    may_create = allow_create and ctx.may_create_topic(name)
    try:
        if may_create:
            topic = await topic_for_produce(node, name)
        else:
            topic = await _known_topic(node, name)
    except TopicNotFound:
        # Kafka: a missing topic the client would have created but may not is
        # TOPIC_AUTHORIZATION_FAILED (a producer stops at once instead of waiting for it)
        refused = allow_create and not may_create and node.config.cluster.auto_create_topics_enable
        return _missing(name, TOPIC_AUTHORIZATION_FAILED if refused else error_codes.UNKNOWN_TOPIC_OR_PARTITION)
    except KraftError as exc:
        return _missing(name, error_codes.code_of(exc))
    return topic


async def _known_topic(node: BrokerServices, name: str) -> TopicImage:
    """The topic, also when it was created through another node a moment ago."""
    try:
        return node.data_plane.topic_or_404(name)
    except TopicNotFound:
        await node.metadata_barrier(2.0)
    return node.data_plane.topic_or_404(name)


async def describe_cluster(node: BrokerServices, ctx: RequestContext, request) -> dict:
    """DescribeCluster (key 60): the brokers with a Kafka listener and the active controller.
    Needs DESCRIBE on the cluster."""
    answer: dict[str, Any] = {
        "throttle_time": 0, "error_code": error_codes.NONE, "error_message": None, "endpoint_type": 1,
        "cluster_id": node.cluster_id, "controller_id": node.image.controller_id, "brokers": [],
        "cluster_authorized_operations": NOT_REQUESTED}
    if int(getattr(request, "endpoint_type", 1)) != 1:  # controllers speak Raft here, not Kafka
        answer.update(error_code=error_codes.UNSUPPORTED_ENDPOINT_TYPE,
                      error_message="only broker endpoints are served")
        return answer
    if not ctx.allowed("describe_cluster"):
        answer.update(error_code=31, error_message="DESCRIBE on the cluster is not authorized")
        return answer
    with_fenced = bool(getattr(request, "include_fenced_brokers", False))  # v2 (KIP-1073)
    answer["brokers"] = [{"broker_id": b["node_id"], "host": b["host"], "port": b["port"], "rack": b["rack"],
                          "is_fenced": b["is_fenced"]} for b in advertised_brokers(node, with_fenced)]
    answer["cluster_authorized_operations"] = authorized_operations(
        ctx, bool(request.include_cluster_authorized_operations), "CLUSTER")
    return answer
