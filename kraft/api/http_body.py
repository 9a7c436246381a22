"""Reading request bodies safely: size cap before buffering, content type, JSON.

Each failure is the caller's mistake and gets its API.md code: 413 over the cap
(checked on Content-Length first, then while reading a chunked body), 415 for an
unsupported Content-Type, 422 for an empty body, 400 for malformed JSON.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from kraft.errors import BadRequest, EmptyBody, PayloadTooLarge, UnsupportedMediaType

DEFAULT_BODY_CAP = 16 * 1024 * 1024
JSON_TYPES = ("application/json",)
BODY_KEY = "kraft.body"  # kept so a handler run again (see catch_up.py) sees the same body


async def read_body(request: web.Request, cap: int = DEFAULT_BODY_CAP) -> bytes:
    kept = request.get(BODY_KEY)
    if kept is not None:
        return kept
    length = request.content_length
    if length is not None and length > cap:
        raise PayloadTooLarge(f"request body of {length} bytes is over the {cap}-byte limit")
    chunks = []
    total = 0
    while True:
        chunk = await request.content.read(min(65536, cap + 1 - total) or 1)
        if not chunk:
            break
        total += len(chunk)
        if total > cap:
            raise PayloadTooLarge(f"request body is over the {cap}-byte limit")
        chunks.append(chunk)
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


def json_response(data, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status,
                        content_type="application/json")


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
