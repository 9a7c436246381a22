"""What every registry route shares: the registry of the request's app, query flags,
JSON bodies and answers in Confluent's media type."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kraft.registry.service import SchemaRegistry
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_requests import parse_bool
from kraft.schemas.registry_state import RegistryState

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
REGISTRY_KEY: web.AppKey[SchemaRegistry] = web.AppKey("schema_registry", SchemaRegistry)
BAD_REQUEST = 400  # Confluent's answer to a body that is not JSON


def registry_of(request: web.Request) -> SchemaRegistry:
    return request.app[REGISTRY_KEY]


async def state_of(request: web.Request) -> RegistryState:
    """The state reads answer from (once this node has read its log)."""
    return await registry_of(request).current_state()


def answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=MEDIA_TYPE)


def flag(request: web.Request, name: str) -> bool:
    return parse_bool(request.query.get(name))


def subject_of(request: web.Request) -> str:
    return request.match_info["subject"]


async def json_body(request: web.Request) -> Any:
    """The body as JSON (its size is bounded by the app's client_max_size: 413 above it)."""
    data = await request.read()
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError as exc:
        raise RegistryError(BAD_REQUEST, f"the request body is not JSON: {exc}") from None
