"""Kafka's client quotas on the HTTP door: a REST produce counts its body against the
user's producer_byte_rate, a REST read its answer against consumer_byte_rate
(kraft/broker/client_quotas.py measures; kraft/metadata/client_quotas.py picks the quota). The
client id is empty, so a user's quotas and the default client's apply. A request that
takes the user over a quota is served; until the rate is back under it, the user's
next such requests are answered 429 with Retry-After. A request another node passes on
was counted where it arrived."""

from __future__ import annotations

import math
import time

from aiohttp import web

from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.consumer_routes import INSTANCE
from kraft.api.context import node_of
from kraft.api.http_body import BODY_KEY
from kraft.api.produce_routes import V3
from kraft.broker.client_quotas import quota_user
from kraft.config.cluster_keys import on_behalf_identity, signature_valid
from kraft.errors import QuotaExceeded
from kraft.internode.peers import ON_BEHALF_HEADER, SIGNATURE_HEADER
from kraft.metadata.client_quotas import CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE

PRODUCE = {("POST", "/topics/{topic}"), ("POST", "/topics/{topic}/partitions/{partition}"),
           ("POST", V3 + "/records"), ("POST", V3 + "/records:batch")}
CONSUME = {("GET", "/topics/{topic}/partitions/{partition}/records"), ("GET", INSTANCE + "/records")}


@web.middleware
async def client_quotas(request: web.Request, handler):
    node = node_of(request)
    if not node.image.client_quotas:
        return await handler(request)
    route = request.match_info.route.resource
    kind = (request.method, route.canonical if route is not None else "")
    key = PRODUCER_BYTE_RATE if kind in PRODUCE else CONSUMER_BYTE_RATE if kind in CONSUME else None
    if key is None or _passed_on(request, node):
        return await handler(request)
    user = quota_user(request.get(IDENTITY_KEY))
    quotas = node.client_quotas
    if (wait_s := quotas.wait_s(user, "", key)) > 0:
        raise QuotaExceeded(f"user {user!r} is over its {key} quota; retry after {math.ceil(wait_s)} s", wait_s)
    response = await handler(request)
    if key == PRODUCER_BYTE_RATE:
        quotas.record(user, "", key, len(request.get(BODY_KEY) or b"") or (request.content_length or 0))
    else:
        body = getattr(response, "body", None)
        quotas.record(user, "", key, len(body) if isinstance(body, bytes) else (response.content_length or 0))
    return response


def _passed_on(request: web.Request, node) -> bool:
    """Another node's request for its client (counted where it arrived): a read passed
    on is signed by the node; with authentication on, it names the client as well."""
    now_ms = int(time.time() * 1000)
    token = request.headers.get(ON_BEHALF_HEADER)
    if token is not None and on_behalf_identity(node.peer_key, token, request.method, request.raw_path,
                                                now_ms) is not None:
        return True
    signature = request.headers.get(SIGNATURE_HEADER)
    return signature is not None and request.method == "GET" and signature_valid(
        node.peer_key, signature, "GET", request.raw_path, b"", now_ms)
