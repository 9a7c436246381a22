"""Taking a broker out of the cluster for good, and bringing it back.

Redpanda's admin paths (`PUT /v1/brokers/{id}/decommission`, `.../recommission`, `GET
.../decommission` for progress) and Confluent's v3 `DELETE /v3/clusters/{cid}/brokers/{id}`
(which starts the same decommission). The controller does the work
(kraft/controller/decommission.py); these handlers ask it and read the progress from the
image, after catching up with the controller so a change made through another node shows.
"""

from __future__ import annotations

from aiohttp import web

from kraft.api.catch_up import reads_latest_metadata
from kraft.api.context import node_of
from kraft.api.http_body import json_response
from kraft.api.paths import check_cluster
from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.controller.decommission import status
from kraft.errors import BadRequest

MAX_BROKER_ID = 2**31 - 1


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_put("/v1/brokers/{broker_id}/decommission", decommission)
    r.add_get("/v1/brokers/{broker_id}/decommission", decommission_status)
    r.add_put("/v1/brokers/{broker_id}/recommission", recommission)
    r.add_delete("/v3/clusters/{cluster_id}/brokers/{broker_id}", delete_broker)


def broker_id_of(request: web.Request) -> int:
    raw = request.match_info["broker_id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_BROKER_ID:
        raise BadRequest(f"a broker id is a non-negative integer, got {raw!r}")
    return int(raw)


async def decommission(request):
    """Start moving the broker's replicas away; 200 with its progress (as GET answers)."""
    return json_response(await _decommission(node_of(request), broker_id_of(request)))


async def delete_broker(request):
    """Confluent's v3 broker removal: the same decommission, answered 202 (it goes on
    after the answer; GET /v1/brokers/{id}/decommission follows it)."""
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    return json_response(await _decommission(node, broker_id_of(request)), status=202)


async def recommission(request):
    """Stop a decommission: moves under way are cancelled, the broker takes replicas again."""
    node = node_of(request)
    broker_id = broker_id_of(request)
    result = await node.controller_call(controller_requests.Recommission(broker_id=broker_id))
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    return json_response({**status(image, broker_id, must_exist=False), "moves_cancelled": result.get("moves_cancelled", 0)})


@reads_latest_metadata
async def decommission_status(request):
    """Progress: replicas left on the broker, moves in flight, partitions no broker can take."""
    return json_response(status(node_of(request).image, broker_id_of(request)))


async def _decommission(node: BrokerServices, broker_id: int) -> dict:
    result = await node.controller_call(controller_requests.Decommission(broker_id=broker_id))
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    return status(image, broker_id)
