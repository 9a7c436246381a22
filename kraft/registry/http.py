"""What every registry route shares: the registry of the request's app, query flags,
JSON bodies and answers in Confluent's media type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from kraft.registry.media import MEDIA_TYPE
from kraft.registry.service import SchemaRegistry
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import parse_bool, plain_subject
from kraft.schemas.registry_state import RegistryState

REGISTRY_KEY: web.AppKey[SchemaRegistry] = web.AppKey("schema_registry", SchemaRegistry)
BAD_REQUEST = 400  # Confluent's answer to a body that is not JSON


def registry_of(request: web.Request) -> SchemaRegistry:
    return request.app[REGISTRY_KEY]


async def state_of(request: web.Request) -> RegistryState:
    """The state reads answer from (once this node has read its log)."""
    return await registry_of(request).current_state()


T = TypeVar("T")


async def formatted(request: web.Request, read: Callable[[RegistryState, Parser | None, str | None], T]) -> T:
    """`read(state, parser, format)`: beside the event loop when a format asks for parsing."""
    registry, fmt = registry_of(request), request.query.get("format")
    state = await state_of(request)
    if not fmt:
        return read(state, None, None)
    return await registry.follower.beside_loop(lambda s: read(s, registry.parser, fmt))


def answer(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=MEDIA_TYPE)


def flag(request: web.Request, name: str) -> bool:
    return parse_bool(request.query.get(name))


def int_query(request: web.Request, name: str, default: int) -> int:
    """An integer query parameter (Confluent's offset and limit); 400 when not a number."""
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise RegistryError(BAD_REQUEST, f"{name} must be an integer, not {text!r}") from None


def subject_of(request: web.Request) -> str:
    return plain_subject(request.match_info["subject"])


async def json_body(request: web.Request) -> Any:
    """The body as JSON (its size is bounded by the app's client_max_size: 413 above it)."""
    data = await request.read()
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError as exc:
        raise RegistryError(BAD_REQUEST, f"the request body is not JSON: {exc}") from None
