"""Reading request bodies safely: size cap before buffering, content type, JSON.

Each failure gets its docs/API.md code: 413 over the cap (checked on Content-Length
first, then while reading a chunked body), 408 when the whole body has not arrived
within BODY_READ_TIMEOUT_S, 429 when the node already holds BODY_BUDGET bytes of
request bodies (slow or stalled uploads cannot pile up memory), 415 for an
unsupported Content-Type, 422 for an empty body, 400 for malformed JSON.
"""

from __future__ import annotations

import asyncio
import os

import orjson
from aiohttp import web

from kraft.errors import (BadRequest, BodyTimeout, EmptyBody, NotAcceptable, Overloaded, PayloadTooLarge,
                          UnsupportedMediaType)

DEFAULT_BODY_CAP = 16 * 1024 * 1024
BODY_BUDGET = 64 * 1024 * 1024  # request-body bytes one node holds at once, over all requests
BODY_READ_TIMEOUT_S = int(os.environ.get("KRAFT_BODY_READ_TIMEOUT_MS", "30000")) / 1000
JSON_TYPES = ("application/json",)
BODY_KEY = web.RequestKey("kraft.body", bytes)  # kept so a handler run again (see catch_up.py) sees the same body
HELD_KEY = web.RequestKey("kraft.body_held", int)  # bytes this request holds of the node's budget


class BodyBudget:
    """Bytes of request bodies held at once on this node. A request takes bytes as they
    arrive and gives them back when it has been answered (see `body_budget`)."""

    def __init__(self, limit: int = BODY_BUDGET) -> None:
        self.limit = limit
        self.held = 0

    def take(self, request: web.Request, n: int) -> None:
        if self.held + n > self.limit:
            raise Overloaded(f"node is holding {self.held} bytes of request bodies (limit "
                             f"{self.limit}); retry later")
        self.held += n
        request[HELD_KEY] = request.get(HELD_KEY, 0) + n

    def give_back(self, request: web.Request) -> None:
        self.held -= request.get(HELD_KEY, 0)
        request[HELD_KEY] = 0


BUDGET_KEY = web.AppKey("body_budget", BodyBudget)


@web.middleware
async def body_budget(request: web.Request, handler):
    try:
        return await handler(request)
    finally:
        request.app[BUDGET_KEY].give_back(request)


async def read_body(request: web.Request, cap: int = DEFAULT_BODY_CAP) -> bytes:
    kept = request.get(BODY_KEY)
    if kept is not None:
        return kept
    length = request.content_length
    if length is not None and length > cap:
        raise PayloadTooLarge(f"request body of {length} bytes is over the {cap}-byte limit")
    budget = request.app[BUDGET_KEY]
    chunks = []
    total = 0
    try:
        async with asyncio.timeout(BODY_READ_TIMEOUT_S):
            while True:
                chunk = await request.content.read(min(65536, cap + 1 - total) or 1)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise PayloadTooLarge(f"request body is over the {cap}-byte limit")
                budget.take(request, len(chunk))
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"request body not received within {BODY_READ_TIMEOUT_S:.0f} s "
                          f"({total} bytes arrived)") from None
    body = request[BODY_KEY] = b"".join(chunks)
    return body


def check_content_type(request: web.Request, allowed: tuple[str, ...]) -> str:
    ctype = request.content_type  # aiohttp strips parameters such as charset
    if ctype not in allowed:
        shown = ctype or "(none)"
        raise UnsupportedMediaType(
            f"Content-Type {shown} is not supported here; use {' or '.join(allowed)}"
        )
    return ctype


async def read_json(request: web.Request, allowed: tuple[str, ...] = JSON_TYPES,
                    cap: int = DEFAULT_BODY_CAP):
    check_content_type(request, allowed)
    body = await read_body(request, cap)
    if not body.strip():
        raise EmptyBody("request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


async def read_json_object(request: web.Request, allowed: tuple[str, ...] = JSON_TYPES,
                           cap: int = DEFAULT_BODY_CAP) -> dict:
    data = await read_json(request, allowed, cap)
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(data).__name__}")
    return data


def reject_unknown_fields(body: dict, allowed: set, what: str = "request") -> None:
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown field(s) in {what}: {', '.join(sorted(unknown))}")


def json_response(data, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status,
                        content_type="application/json")


V2_TYPE = "application/vnd.kafka.v2+json"
_V2_ACCEPTABLE = (V2_TYPE, "application/vnd.kafka+json", "application/json", "*/*", "application/*")


def v2_response(data, status: int = 200) -> web.Response:
    """A REST Proxy v2 answer: its own media type, as Confluent's proxy sends it."""
    return web.Response(body=orjson.dumps(data), status=status, content_type=V2_TYPE)


def check_v2_accept(request: web.Request) -> None:
    """406 when the client accepts none of the types a v2 answer can have (no Accept: any)."""
    accept = request.headers.get("Accept")
    if accept is None:
        return
    offered = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    if not any(kind in _V2_ACCEPTABLE or kind == "" for kind in offered):
        raise NotAcceptable(f"Accept {accept!r} is not supported; use {V2_TYPE} or application/json")


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"query parameter {name} must be between {low} and {high}, got {value}")
    return value
