"""CORS for browser clients: cluster.toml's [http] "access.control.allow.origin".

An allowed Origin gets Access-Control-Allow-Origin on every answer (errors too, so a
page can read the error); a preflight (OPTIONS with Access-Control-Request-Method) from
it is answered here with the allowed methods and headers. Other origins get no CORS
headers, which makes a browser refuse the answer, as the proxy's CORS filter does.

The cluster's own nodes (their HTTP addresses in cluster.toml) are always allowed: the
web console served by one node polls the others' /metrics and /status/ready.
"""

from __future__ import annotations

from aiohttp import web

PREFLIGHT_MAX_AGE_S = "600"


def peer_origins(config) -> frozenset[str]:
    """The origins of the cluster's nodes' HTTP ports (scheme://host:port)."""
    return frozenset(n.http_url.rstrip("/") for n in config.nodes)


def cors_middleware(settings, peers: frozenset[str] = frozenset()):
    origins = settings.allowed_origins()

    @web.middleware
    async def cors(request: web.Request, handler):
        origin = request.headers.get("Origin")
        if origin is None or not ("*" in origins or origin in origins or origin in peers):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = settings.allow_methods
            response.headers["Access-Control-Allow-Headers"] = settings.allow_headers
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_S
        else:
            response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
        if "*" not in origins:
            response.headers["Vary"] = "Origin"  # caches must not serve it to another origin
        return response

    return cors
