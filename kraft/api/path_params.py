"""Path parameters that are empty or carry control characters: the caller's mistake, said
as such instead of "no such endpoint" or a name rule.

aiohttp's routes never match an empty segment (`/v3/clusters//topics`), so such a
request would fall through to a 404 for an unknown endpoint; `empty_parameter` finds the
route it was meant for and which parameter is missing. A control character in a path
parameter is a malformed request (400), as REST proxies answer it.
"""

from __future__ import annotations

import re

from aiohttp import web

from kraft.errors import BadRequest

_LABELS = {"cluster_id": "cluster id", "topic": "topic name", "group": "group id", "instance": "instance id"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ANY_SEGMENT = "[^{}/]+"


def label(parameter: str) -> str:
    return _LABELS.get(parameter, parameter.replace("_", " "))


def empty_parameter(app: web.Application, path: str) -> str | None:
    """The parameter left empty in `path`, when the path matches a route once empty
    segments are allowed; None otherwise."""
    if "//" not in path:
        return None
    for resource in app.router.resources():
        pattern = resource.get_info().get("pattern")
        if pattern is None:
            continue
        lenient = re.compile(pattern.pattern.replace(_ANY_SEGMENT, "[^{}/]*"))
        found = lenient.fullmatch(path)
        if found is not None:
            empty = [name for name, value in found.groupdict().items() if value == ""]
            if empty:
                return empty[0]
    return None


@web.middleware
async def control_characters_refused(request: web.Request, handler):
    for name, value in request.match_info.items():
        if _CONTROL.search(value):
            raise BadRequest(f"the {label(name)} in the path contains a control character: {value!r}")
    return await handler(request)
