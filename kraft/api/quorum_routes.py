"""The controller quorum's voters: add and remove one at a time (KIP-853's AddRaftVoter
and RemoveRaftVoter, `kafka-metadata-quorum.sh add-controller/remove-controller`).
The quorum's description (`GET .../quorum`) is in cluster_routes."""

from __future__ import annotations

from aiohttp import web

from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.api.paths import check_cluster
from kraft.controller import commands as controller_requests
from kraft.errors import BadRequest

MAX_NODE_ID = 2**31 - 1


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v3/clusters/{cluster_id}/quorum/voters", add_voter)
    r.add_delete("/v3/clusters/{cluster_id}/quorum/voters/{node_id}", remove_voter)


async def add_voter(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    body = await read_json_object(request)
    reject_unknown_fields(body, {"node_id"})
    node_id = body.get("node_id")
    if not isinstance(node_id, int) or isinstance(node_id, bool) or not 0 <= node_id <= MAX_NODE_ID:
        raise BadRequest(f"node_id: a node id is a non-negative integer, got {node_id!r}")
    result = await node.controller_call(controller_requests.AddVoter(node_id=node_id))
    return json_response(_voters_view(node.cluster_id, result))


async def remove_voter(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    raw = request.match_info["node_id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_NODE_ID:
        raise BadRequest(f"a node id is a non-negative integer, got {raw!r}")
    result = await node.controller_call(controller_requests.RemoveVoter(node_id=int(raw)))
    return json_response(_voters_view(node.cluster_id, result))


def _voters_view(cluster_id: str, result: dict) -> dict:
    return {"kind": "KraftQuorumVoters", "cluster_id": cluster_id, "voters": result["voters"]}
