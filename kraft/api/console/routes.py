"""The console's files: /console serves the static single-page app shipped in the package.

Nothing is fetched from elsewhere at run time; the page talks to the public HTTP API
(v3, the Redpanda-style v1 paths, /metrics) and to the node's schema registry port from
the browser, as a user could.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from kraft.api.console import group_departures
from kraft.errors import NotFound

STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
         ".png": "image/png"}
# the page may poll the other nodes of its cluster (their /metrics and /status/ready)
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; "
                               "frame-ancestors 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'",
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", to_console)
    app.router.add_get("/console/{path:.*}", console_file)
    group_departures.add_routes(app)  # what the group page says beside the v3 answers


async def to_console(request):
    """The web console (redirects to /console/)."""
    raise web.HTTPPermanentRedirect("/console/")


async def console_file(request):
    """The web console's files."""
    name = request.match_info["path"] or "index.html"
    path = (STATIC / name).resolve()
    if STATIC.resolve() not in path.parents or path.suffix not in TYPES or not path.is_file():
        raise NotFound(f"no such console file: {name}")
    return web.Response(body=path.read_bytes(), content_type=TYPES[path.suffix],
                        charset="utf-8" if path.suffix not in (".png",) else None, headers=HEADERS)
