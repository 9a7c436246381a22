"""Why a group's REST consumer instances left: the console's group page says it, where the
v3 group answer would only show the group empty or gone (docs/API.md, "Web console").

The group's coordinator remembers what became of the instances that left it
(kraft/groups/rest_departures.py); so does a node that coordinated the group before (its
instances were dropped when the coordinator moved). The node asked answers both.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from kraft.api.consumer_requests import check_name
from kraft.api.consumer_routes import forward
from kraft.api.context import node_of
from kraft.api.http_body import json_response
from kraft.errors import NotFound
from kraft.internode.peers import LOCAL_ONLY_HEADER
from kraft.groups.loaded_groups import wall_ms

PATH = "/v1/console/consumer-groups/{group}/departures"


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, departures)


async def departures(request: web.Request) -> web.Response:
    """Why a group's REST consumer instances left it recently (expired, deleted, coordinator moved)."""
    node = node_of(request)
    group_id = check_name(request.match_info["group"], "group id")
    found = {d.instance_id: d.view() for d in node.groups.rest_instances.departures.of_group(group_id, wall_ms())}
    if LOCAL_ONLY_HEADER not in request.headers:  # asked by a user, not forwarded by a node
        try:
            target = await node.groups.locate(group_id, create=False)
        except NotFound:  # no group has been used yet: nothing coordinates one
            target = None
        if target is not None:
            answer = await forward(request, node, target)
            if answer.status == 200 and isinstance(answer.body, bytes):
                for d in orjson.loads(answer.body)["departures"]:
                    if d["instance_id"] not in found or found[d["instance_id"]]["at_ms"] < d["at_ms"]:
                        found[d["instance_id"]] = d
    data = sorted(found.values(), key=lambda d: -d["at_ms"])
    return json_response({"group_id": group_id, "departures": data})
