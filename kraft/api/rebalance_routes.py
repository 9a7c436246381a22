"""Rebalancing partitions over the brokers (Redpanda's spirit: `/v1/partitions/rebalance`).

`GET .../rebalance/plan` shows what a rebalance would move now (nothing changes);
`POST .../rebalance` has the controller plan and carry it out; `GET .../rebalance`
follows it; `DELETE .../rebalance` cancels it. The planning and the moves are the
controller's (kraft/controller/rebalance.py); progress is read from the image after
catching up with the controller, so a change made through another node shows.
"""

from __future__ import annotations

from aiohttp import web

from kraft.api.catch_up import reads_latest_metadata
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_body, read_json_object, reject_unknown_fields
from kraft.controller import commands as controller_requests
from kraft.controller import rebalance
from kraft.errors import BadRequest

REBALANCE = "/v1/partitions/rebalance"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(REBALANCE + "/plan", rebalance_plan)
    r.add_get(REBALANCE, rebalance_status)
    r.add_post(REBALANCE, rebalance_execute)
    r.add_delete(REBALANCE, rebalance_cancel)


@reads_latest_metadata
async def rebalance_plan(request):
    """The moves a rebalance would make now, and replica / leader counts before and after."""
    return json_response(rebalance.dry_run(node_of(request).image))


@reads_latest_metadata
async def rebalance_status(request):
    return json_response(rebalance.status(node_of(request).image))


async def rebalance_execute(request):
    """Plan on the controller and start; 202 with the plan's summary and its status."""
    node = node_of(request)
    body = await read_json_object(request) if (await read_body(request)).strip() else {}
    reject_unknown_fields(body, {"max_moves_in_flight"})
    bound = body.get("max_moves_in_flight", rebalance.DEFAULT_MOVES_IN_FLIGHT)
    if not isinstance(bound, int) or isinstance(bound, bool):
        raise BadRequest(f"max_moves_in_flight must be an integer, got {bound!r}")
    result = await node.controller_call(controller_requests.ExecuteRebalance(max_moves_in_flight=bound))
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    summary = {k: v for k, v in result.items() if k != "metadata_offset"}
    return json_response({**summary, "status": rebalance.status(image)}, status=202)


async def rebalance_cancel(request):
    """Stop starting moves; the moves under way are reverted (Kafka's cancel)."""
    node = node_of(request)
    result = await node.controller_call(controller_requests.CancelRebalance())
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    return json_response({**rebalance.status(image), "moves_reverted": result.get("moves_reverted", 0)})
