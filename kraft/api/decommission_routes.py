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
MAX_TOGETHER = 1000  # ?together= names a host's other brokers: far fewer than this


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_put("/v1/brokers/{broker_id}/decommission", decommission)
    r.add_get("/v1/brokers/{broker_id}/decommission", decommission_status)
    r.add_put("/v1/brokers/{broker_id}/recommission", recommission)
    r.add_delete("/v3/clusters/{cluster_id}/brokers/{broker_id}", delete_broker)


def broker_id_of(request: web.Request) -> int:
    return _broker_id(request.match_info["broker_id"])


def _broker_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_BROKER_ID:
        raise BadRequest(f"a broker id is a non-negative integer, got {raw[:20]!r}")
    return int(raw)


def together_of(request: web.Request) -> list[int]:
    """`?together=6,7`: brokers decommissioned with this one (kraft's, for a whole host)."""
    raw = request.query.get("together", "")
    parts = raw.split(",", MAX_TOGETHER) if raw else []
    if len(parts) > MAX_TOGETHER:
        raise BadRequest(f"together names at most {MAX_TOGETHER} brokers")
    return [_broker_id(p) for p in parts]


async def decommission(request):
    """Start moving the broker's replicas away; 200 with its progress (as GET answers).
    `?together=`: brokers leaving with it, which take none of its replicas."""
    return json_response(await _decommission(node_of(request), broker_id_of(request), together_of(request)))


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


async def _decommission(node: BrokerServices, broker_id: int, together: list[int] | None = None) -> dict:
    result = await node.controller_call(controller_requests.Decommission(broker_id=broker_id,
                                                                         together=together or []))
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    return status(image, broker_id)
