"""kraft's own OpenAPI document (`GET /openapi.json`), built from the routes the node
serves, so it cannot fall behind them: every public path and method, its path
parameters, and the handler's first docstring line as its summary.

Bodies and answers are described loosely (JSON), as docs/API.md is the contract for
their shapes; the node-to-node endpoints (/internal/) are left out.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from importlib.metadata import PackageNotFoundError, version

from kraft.api.http_body import json_response

_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_ANY_JSON: dict[str, Any] = {"content": {"application/json": {"schema": {}}}}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/openapi.json", serve)


def document(app: web.Application) -> dict:
    paths: dict[str, dict] = {}
    for route in app.router.routes():
        method = route.method.upper()
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path is None or method in ("HEAD", "*") or path.startswith(("/internal/", "/console")):
            continue
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAM.findall(path)]
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}_{_slug(path)}",
            "summary": _summary(route.handler),
            "parameters": params,
            "responses": {"default": {"description": "the answer, or the error envelope "
                                                     '{"error_code", "message"}', **_ANY_JSON}},
        }
        if method in _BODY_METHODS:
            operation["requestBody"] = {"required": False, **_ANY_JSON}
        paths.setdefault(_PARAM.sub(r"{\1}", path), {})[method.lower()] = operation
    return {"openapi": "3.0.3",
            "info": {"title": "kraft HTTP API", "version": _version(),
                     "description": "Confluent REST Proxy v2/v3 conventions with kraft's "
                                    "extensions; docs/API.md describes every body."},
            "paths": dict(sorted(paths.items()))}


async def serve(request):
    return json_response(document(request.app))


def _version() -> str:
    try:
        return version("kraft")
    except PackageNotFoundError:  # running from a tree that is not installed
        return "0"


def _slug(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_") or "root"


def _summary(handler) -> str:
    doc = (getattr(handler, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else getattr(handler, "__name__", "")
