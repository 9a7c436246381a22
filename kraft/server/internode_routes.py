"""Node-to-node endpoints: controller requests, the metadata log for observers, group and
share-group summaries, share-group state for the admin views, and a REST share consumer's
calls at a share-partition's leader. (Replication, transaction markers, a leader's
share-partition state and the REST door's produce and reads at a leader travel as Kafka
requests between brokers instead: kraft/kafka/client/broker_client.py.)

Every request must carry a valid X-Kraft-Signature (kraft.config.cluster_keys): an
HMAC, with a key only this cluster's nodes derive, of the method, path, time and
body. A stranger on the network can neither register a broker nor read the log, and
one who sees a request learns no secret and cannot change it.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from kraft.api.context import node_of
from kraft.api.http_body import json_response, query_int, read_body, read_json
from kraft.internode.peers import LOCAL_ONLY_HEADER, SIGNATURE_HEADER
from kraft.config.cluster_keys import signature_valid
from kraft.broker.share_group_admin import LOCAL_PATH as SHARE_GROUPS_PATH
from kraft.broker.share_leaders import PATH as SHARE_PARTITION_PATH
from kraft.broker.share_leaders import serve as serve_share_partition
from kraft.broker.share_state_link import STATE_PATH
from kraft.broker.share_state_link import serve as serve_share_state
from kraft.errors import Unauthorized
from kraft.metadata.image_codec import image_to_dict

log = logging.getLogger(__name__)

MAX_WAIT_MS = 30_000


def add_routes(app: web.Application) -> None:
    app.router.add_post("/internal/v1/controller/{op}", controller_rpc)
    app.router.add_get("/internal/v1/metadata", metadata_log)
    app.router.add_get("/internal/v1/metadata/offset", metadata_offset)
    app.router.add_get("/internal/v1/quorum/voters", quorum_voters)
    app.router.add_get("/internal/v1/groups", local_groups)
    app.router.add_post(STATE_PATH, share_state)
    app.router.add_post(SHARE_PARTITION_PATH, share_partition)
    app.router.add_get(SHARE_GROUPS_PATH, local_share_groups)


async def _authorize(request, cap: int = 16 * 1024 * 1024) -> None:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    body = await read_body(request, cap) if request.body_exists else b""
    if not signature_valid(node_of(request).peer_key, signature, request.method, request.raw_path, body,
                           int(time.time() * 1000)):
        raise Unauthorized("missing, stale or wrong node-to-node signature (not a node of this cluster?)")


async def controller_rpc(request):
    await _authorize(request)
    payload = await read_json(request)
    result = await node_of(request).forwarded_controller_call(
        request.match_info["op"], payload, local_only=LOCAL_ONLY_HEADER in request.headers)
    return json_response(result)


async def metadata_log(request):
    """Long-poll: committed batches after `after`, or the full image when too far behind."""
    await _authorize(request)
    node = node_of(request)
    after = query_int(request, "after", 0, 0, 2**62)
    wait_ms = query_int(request, "wait_ms", 0, 0, MAX_WAIT_MS)
    sm = node.state_machine
    if after >= sm.image.offset and wait_ms:
        await node.wait_metadata(after + 1, wait_ms / 1000, raise_on_timeout=False)
    batches = None if request.query.get("image") == "1" else sm.batches_after(after)
    if batches is None:
        return json_response({"image": image_to_dict(sm.image),
                              "controller_id": node.raft_leader_id()})
    return json_response({"batches": batches, "controller_id": node.raft_leader_id()})


async def metadata_offset(request):
    """How far this node's image has got: asked of the controller by metadata barriers."""
    await _authorize(request)
    node = node_of(request)
    return json_response({"offset": node.image.offset,
                          "active_controller": node.is_active_controller()})


async def quorum_voters(request):
    """The voter set, asked by a controller starting with no Raft state (node.py)."""
    await _authorize(request)
    return json_response(node_of(request).quorum_voters(request.remote))


async def share_state(request):
    """An admin view reads a share-partition's state at this share coordinator, or a group's
    states here (and a leader of the release before writes it, during a rolling upgrade)."""
    await _authorize(request)
    return json_response(await serve_share_state(node_of(request).share_coordinator, await read_json(request)))


async def share_partition(request):
    """A REST share consumer's fetch, acknowledgement or release at this partition leader."""
    await _authorize(request)
    node = node_of(request)
    return json_response(await serve_share_partition(node.data_plane, node.shares, await read_json(request)))


async def local_share_groups(request):
    """Summaries of the share groups this node coordinates or holds state of (for the cluster-wide list)."""
    await _authorize(request)
    return json_response({"groups": node_of(request).share_admin.local_summaries()})


async def local_groups(request):
    """Summaries of the consumer groups this node coordinates (for the cluster-wide list)."""
    await _authorize(request)
    groups = node_of(request).groups
    return json_response({"groups": groups.summaries() if groups is not None else []})
