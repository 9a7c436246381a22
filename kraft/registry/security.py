"""The registry port on a cluster with [security]: the cluster's users, as on the HTTP
door (HTTP Basic, Bearer with OAUTHBEARER, a client certificate: AccessControl.identify_http,
the one rule both ports use), then each route's ACL (access_table). Unauthenticated: 401
with error_code 40101; denied: 403 with 40301 (Confluent's codes). Writes are checked by
the writer (`check_write`) with the caller's principal, which a forwarded write carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from kraft.broker.access import BASIC_CHALLENGE, BEARER_CHALLENGE, AccessControl, Identity
from kraft.broker.acl_needs import ClientOperation
from kraft.errors import AuthenticationFailed
from kraft.registry.access_table import FORBIDDEN, UNAUTHORIZED, RouteNeed, require, resource_name, route_need
from kraft.registry.http import answer, registry_of, state_of
from kraft.schemas.registry_errors import OPERATION_TIMEOUT, RegistryError
from kraft.schemas.registry_requests import WriteRequest, plain_subject
from kraft.security.oauthbearer import bearer_token

IDENTITY_KEY = web.RequestKey("kraft.registry.identity", Identity)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# a route missing from the table: ALTER on the cluster, as the HTTP door asks then
_UNLISTED_ROUTE = RouteNeed("operation", "alter_cluster")


def identity_of(request: web.Request) -> Identity | None:
    """The caller's identity; None with security off."""
    found = request.get(IDENTITY_KEY)
    return found if isinstance(found, Identity) else None


@web.middleware
async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    access = registry_of(request).access
    resource = request.match_info.route.resource
    if not access.enabled or resource is None:  # security off, or no such route (404/405)
        return await handler(request)
    need = route_need(request.method, resource.canonical) or _UNLISTED_ROUTE
    if need.kind == "internal":
        return await handler(request)
    if not access.ready():
        raise RegistryError(OPERATION_TIMEOUT, "this node is still loading users and ACLs; retry")
    peercert = request.transport.get_extra_info("peercert") if request.transport is not None else None
    header = request.headers.get("Authorization")
    try:
        who = await access.identify_http(header, peercert, request.remote or "")
    except AuthenticationFailed as exc:
        refusal = answer({"error_code": UNAUTHORIZED, "message": str(exc)}, 401)
        refusal.headers.update(BEARER_CHALLENGE if bearer_token(header) is not None else BASIC_CHALLENGE)
        return refusal
    request[IDENTITY_KEY] = who
    if need.kind == "operation":
        assert need.operation is not None
        subject = request.match_info.get("subject")
        name = resource_name(need.operation, None if subject is None else plain_subject(subject))
        require(access, who, need.operation, name)
    elif need.kind == "schema_id":
        await _require_schema_read(request, access, who)
    return await handler(request)


async def _require_schema_read(request: web.Request, access: AccessControl, who: Identity) -> None:
    """Confluent's SCHEMA_READ: READ on at least one subject holding the id (soft-deleted
    versions count: old records still name it). An id no subject holds is denied too, so
    a refusal does not tell which ids exist (whoever may read every subject gets the 40403)."""
    state = await state_of(request)
    guid = request.match_info.get("guid")
    ids = state.ids_of_guid(guid.lower()) if guid is not None else [int(request.match_info["id"])]
    holders = {r.subject for schema_id in ids for r in state.records_with_id(schema_id, deleted=True)}
    if holders:
        allowed = any(access.may(who, "read_subject", s) for s in holders)
    else:
        # no subject to name: only a super user, READ on every subject ('*'), or no ACL at all
        allowed = access.may(who, "read_subject", "")
    if not allowed:
        raise RegistryError(FORBIDDEN, "User is denied operation Read on every subject of schema "
                            + (f"guid {guid}" if guid is not None else f"id {ids[0]}"))


def visible(request: web.Request, operation: ClientOperation, subjects: Iterable[str]) -> list[str]:
    """The subjects the caller may `operation`, in their order (all with security off)."""
    return registry_of(request).access.may_see(identity_of(request), operation, subjects)


async def write_as_caller(request: web.Request, write: WriteRequest) -> object:
    """The write, made with the caller's principal (its ACL is asked by the writer)."""
    return await registry_of(request).write(write, identity_of(request))
