"""SCRAM users, with Redpanda's admin API paths (/v1/security/users).

The password is salted and derived here, on the node that received it; only the
credential (salt, StoredKey, ServerKey) goes to the controller and the log. The answer
waits until every node that answers has the change: a deleted user is locked out
everywhere when DELETE returns.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web

from kraft.controller import commands as controller_requests
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.controller.security_control import check_user_name
from kraft.errors import BadRequest
from kraft.security.scram import DEFAULT_MECHANISM, MECHANISMS, make_credential

USERS = "/v1/security/users"


def add_routes(app: web.Application) -> None:
    app.router.add_get(USERS, list_users)
    app.router.add_post(USERS, create_user)
    app.router.add_put(USERS + "/{user}", update_user)
    app.router.add_delete(USERS + "/{user}", delete_user)


async def list_users(request):
    users = node_of(request).image.scram_credentials
    return json_response([{"name": name, "mechanisms": sorted(users[name])} for name in sorted(users)])


async def create_user(request):
    body = await read_json_object(request)
    reject_unknown_fields(body, {"username", "password", "algorithm"}, "user")
    name = check_user_name(body.get("username"))
    await _set(request, name, body, "create")
    return json_response({"name": name}, status=201)


async def update_user(request):
    body = await read_json_object(request)
    reject_unknown_fields(body, {"password", "algorithm"}, "user")
    name = request.match_info["user"]
    await _set(request, name, body, "update")
    return json_response({"name": name})


async def delete_user(request):
    node = node_of(request)
    result = await node.controller_call(controller_requests.DeleteUser(name=request.match_info["user"]))
    await node.wait_metadata_everywhere(result["metadata_offset"])
    return web.Response(status=204)


async def _set(request, name: str, body: dict, mode: Literal["create", "update"]) -> None:
    node = node_of(request)
    mechanism = body.get("algorithm", DEFAULT_MECHANISM)
    if not isinstance(mechanism, str) or mechanism.upper() not in MECHANISMS:
        raise BadRequest(f"algorithm must be one of {', '.join(MECHANISMS)}")
    # PBKDF2 takes milliseconds: off the event loop
    credential = await asyncio.to_thread(make_credential, body.get("password"), mechanism.upper())
    result = await node.controller_call(controller_requests.SetUserCredential(
        name=name, mode=mode, credential=controller_requests.Credential(**credential.to_record_fields())))
    await node.wait_metadata_everywhere(result["metadata_offset"])

