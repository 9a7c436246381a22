"""The registry's own HTTP port: Confluent's API, its error bodies for everything that
goes wrong (never a traceback or a path), bodies bounded, and the signed node-to-node
route a forwarded write arrives on."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from kraft.broker.access import Identity
from kraft.config.cluster_keys import on_behalf_identity, signature_valid
from kraft.internode.peers import ON_BEHALF_HEADER, SIGNATURE_HEADER
from kraft.registry import config_routes, listing_routes, routes
from kraft.registry.http import REGISTRY_KEY, answer
from kraft.registry.media import MEDIA_TYPE, negotiate
from kraft.registry.security import authorize
from kraft.registry.service import WRITE_PATH, SchemaRegistry
from kraft.schemas.registry_errors import STORE_ERROR, RegistryError
from kraft.schemas.registry_requests import from_json

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024  # a schema of MAX_SCHEMA_CHARS, each character a 6-byte JSON escape, fits
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def confluent_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return answer(exc.body(), exc.status)
    except web.HTTPException as exc:  # no such route (404), method (405), a body too large (413)
        if exc.status < 400:
            raise
        return answer({"error_code": exc.status, "message": f"HTTP {exc.status} {exc.reason}"}, exc.status)
    except Exception:
        log.exception("schema registry: %s %s failed", request.method, request.path)
        return answer({"error_code": STORE_ERROR, "message": "Error in the backend data store"}, 500)


NOT_ACCEPTABLE = 406


@web.middleware
async def content_negotiation(request: web.Request, handler: Handler) -> web.StreamResponse:
    """406 for an Accept header that takes nothing the registry produces (as Confluent's
    JAX-RS answers); else the answer in the type the client asked for."""
    chosen = negotiate(request.headers.get("Accept"))
    if chosen is None:
        raise RegistryError(NOT_ACCEPTABLE, "HTTP 406 Not Acceptable")
    response = await handler(request)
    if chosen != MEDIA_TYPE and isinstance(response, web.Response) and response.content_type == MEDIA_TYPE:
        response.content_type = chosen
    return response


def build_app(registry: SchemaRegistry, peer_key: bytes, outer: tuple[Middleware, ...] = ()) -> web.Application:
    """`outer`: middlewares around the registry's own (the node's CORS, so that the web
    console served by the HTTP port may call this one)."""
    app = web.Application(middlewares=[*outer, confluent_errors, content_negotiation, authorize],
                          client_max_size=MAX_BODY_BYTES)
    app[REGISTRY_KEY] = registry
    routes.add_routes(app)
    config_routes.add_routes(app)
    listing_routes.add_routes(app)

    async def forwarded_write(request: web.Request) -> web.Response:
        body = await request.read()
        now_ms = int(time.time() * 1000)
        if not signature_valid(peer_key, request.headers.get(SIGNATURE_HEADER, ""), request.method,
                               request.raw_path, body, now_ms):
            return answer({"error_code": 401, "message": "missing, stale or wrong node-to-node signature"}, 401)
        who = None  # no client named: the node writes for itself
        token = request.headers.get(ON_BEHALF_HEADER)
        if token is not None:  # the client's principal, as the node it called authenticated it
            found = on_behalf_identity(peer_key, token, request.method, request.raw_path, now_ms)
            if found is None:
                return answer({"error_code": 401, "message": "bad forwarded identity"}, 401)
            who = Identity(*found)
        return answer(await registry.write_here(from_json(orjson.loads(body)), who))

    app.router.add_post(WRITE_PATH, forwarded_write)
    return app
