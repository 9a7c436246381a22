"""Kafka's client quotas on the Kafka door: what a request counts against its client's
quotas (Produce: the request's bytes; Fetch: the records answered; every API: its
handler time, as request_percentage), and the throttle time its answer carries
(`throttle_time_ms`). The listener then reads nothing more from the connection for
that long (KIP-219), so a client over its quota slows to it without errors."""

from __future__ import annotations

from kraft.broker.client_quotas import quota_user
from kraft.broker.services import BrokerServices
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.wire.splice import Spliced
from kraft.metadata.client_quotas import CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE

PRODUCE, FETCH = 0, 1


def connection_user(ctx: RequestContext) -> str:
    return quota_user(ctx.identity)


def answered_bytes(data: object) -> int:
    """The record bytes of a Fetch answer (what consumer_byte_rate counts)."""
    if isinstance(data, Spliced):
        return sum(part.length for parts in data.slices.values() for part in parts)
    if isinstance(data, dict):
        return sum(len(p.get("records") or b"") for t in data.get("responses", ()) for p in t.get("partitions", ()))
    return 0


def on_arrival(node: BrokerServices, ctx: RequestContext, request_bytes: int) -> int:
    """A Produce's bytes, counted before it is handled, so the requests a client has
    pipelined behind it wait out the throttle (Kafka handles one request of a connection
    at a time). The throttle time in ms."""
    if ctx.api_key != PRODUCE or not node.image.client_quotas or ctx.from_broker:
        return 0
    return node.client_quotas.record(connection_user(ctx), ctx.client_id or "", PRODUCER_BYTE_RATE, request_bytes)


def on_answer(node: BrokerServices, ctx: RequestContext, data: object, handler_s: float) -> int:
    """The handler's time (request_percentage) and a Fetch's records (consumer_byte_rate),
    counted once the answer is known. The throttle time in ms."""
    if not node.image.client_quotas or ctx.from_broker:  # replication is no client's: Kafka exempts it too
        return 0
    quotas, user, client = node.client_quotas, connection_user(ctx), ctx.client_id or ""
    throttle = quotas.record(user, client, REQUEST_PERCENTAGE, handler_s * 100)
    if ctx.api_key == FETCH:
        throttle = max(throttle, quotas.record(user, client, CONSUMER_BYTE_RATE, answered_bytes(data)))
    return throttle
