"""KIP-430's authorized operations over HTTP, as Confluent's v3 offers them.

`?include_authorized_operations=true` on the v3 cluster, topic and consumer-group reads
adds `"authorized_operations"`: the operations (Kafka's names) the caller may do on
that resource, from the same ACLs the requests themselves are checked against
(the Kafka listener answers the same as a bitfield: kraft/kafka/connection/authorized_ops.py). With ACLs off every
operation the resource type supports is listed. The console shows only what they allow.
"""

from __future__ import annotations

from aiohttp import web

from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.context import node_of
from kraft.errors import AuthorizationFailed, BadRequest
from kraft.security.acls import CLUSTER_RESOURCE, SUPPORTED_OPERATIONS

PARAM = "include_authorized_operations"


def wanted(request: web.Request) -> bool:
    raw = request.query.get(PARAM)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise BadRequest(f"query parameter {PARAM} must be true or false, got {raw!r}")


def operations(request: web.Request, resource_type: str, name: str = CLUSTER_RESOURCE) -> list[str]:
    """The supported operations the caller may do on the resource, in Kafka's order."""
    access = node_of(request).access
    who = request.get(IDENTITY_KEY)
    if not access.enabled or who is None:  # ACLs off, or another node asking for itself
        return list(SUPPORTED_OPERATIONS[resource_type])
    return [op for op in SUPPORTED_OPERATIONS[resource_type] if access.allowed(who, op, resource_type, name)]


def add_if_wanted(request: web.Request, view: dict, resource_type: str, name: str = CLUSTER_RESOURCE) -> dict:
    """The view with `authorized_operations` when the caller asked for them."""
    if wanted(request):
        view["authorized_operations"] = operations(request, resource_type, name)
    return view


def is_super_user(request: web.Request) -> bool:
    """Whether the caller is one of [security] super_users (always, with security off)."""
    access = node_of(request).access
    who = request.get(IDENTITY_KEY)
    if access.settings is None or who is None:
        return True
    try:
        access.check_super_user(who, "")
    except AuthorizationFailed:
        return False
    return True
