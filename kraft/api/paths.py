"""Request-path helpers: the cluster id in a v3 path, and this node's base URL."""

from __future__ import annotations

from aiohttp import web

from kraft.errors import NotFound


def check_cluster(request: web.Request, cluster_id: str) -> None:
    asked = request.match_info["cluster_id"]
    if asked != cluster_id:
        raise NotFound(f"cluster {asked!r} not found (this is cluster {cluster_id})")


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
