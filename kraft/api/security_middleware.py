"""Authenticate every client request, then apply its route's rule (access_rules).

Identity, in order: a request another node passes on carries the original client's
principal and host, signed with the cluster key; a signed GET from another node asking
for itself passes (the inter-broker principal); otherwise HTTP Basic, or a Bearer token
with OAUTHBEARER enabled (the Kafka listener's validator), when authentication is on,
else the anonymous principal. 401 answers carry
`WWW-Authenticate` (not to a page's script that says `X-Requested-With: XMLHttpRequest`,
whose browser would otherwise prompt for a password itself); node-to-node endpoints
keep their own signature check.
"""

from __future__ import annotations

import time

from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.api.access_rules import IDENTITY_KEY, does, rule_for
from kraft.api.context import node_of
from kraft.api.error_map import error_body
from kraft.api.http_body import json_response
from kraft.broker.access import BASIC_CHALLENGE, BEARER_CHALLENGE, Identity
from kraft.internode.peers import ON_BEHALF_HEADER, SIGNATURE_HEADER
from kraft.config.cluster_keys import on_behalf_identity, signature_valid
from kraft.errors import AuthenticationFailed, MetadataNotReady
from kraft.security.oauthbearer import bearer_token

_SUPER_USERS_ONLY = does("alter_cluster")  # a route missing from the table: safest answer


@web.middleware
async def security(request: web.Request, handler):
    node = node_of(request)
    access = node.access
    if not access.enabled:
        return await handler(request)
    rule = rule_for(request)
    if isinstance(rule, str) or (rule is None and request.match_info.http_exception):  # OPEN, INTERNAL
        return await handler(request)
    if not access.ready():
        raise MetadataNotReady(f"node {node.node_id} is still loading users and ACLs; retry")
    try:
        who = await _identify(request, node)
    except AuthenticationFailed as exc:
        body, status = error_body(exc)
        response = json_response(body, status)
        if bearer_token(request.headers.get("Authorization")) is not None:
            response.headers.update(BEARER_CHALLENGE)  # RFC 6750 3.1
        elif request.headers.get("X-Requested-With") != "XMLHttpRequest":  # a page's script asking (the
            response.headers.update(BASIC_CHALLENGE)  # console) signs in its own way: no browser password prompt
        return response
    if who is None:
        return await handler(request)
    request[IDENTITY_KEY] = who
    (rule or _SUPER_USERS_ONLY)(request, who)
    return await handler(request)


async def _identify(request: web.Request, node: BrokerServices) -> Identity | None:
    """None: another node of this cluster asking for itself (a signed GET), as Kafka's
    inter-broker principal, which is a super user."""
    token = request.headers.get(ON_BEHALF_HEADER)
    if token is not None:
        found = on_behalf_identity(node.peer_key, token, request.method, request.raw_path,
                                   int(time.time() * 1000))
        if found is None:
            raise AuthenticationFailed("Authentication failed (bad forwarded identity)")
        return Identity(*found)
    signature = request.headers.get(SIGNATURE_HEADER)
    if signature is not None and request.method == "GET" and signature_valid(
            node.peer_key, signature, "GET", request.raw_path, b"", int(time.time() * 1000)):
        return None
    peercert = request.transport.get_extra_info("peercert") if request.transport is not None else None
    return await node.access.identify_http(request.headers.get("Authorization"), peercert, request.remote or "")
