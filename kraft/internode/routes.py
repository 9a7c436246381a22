"""Node-to-node endpoints: controller requests, the metadata log for observers, replica
fetch streams, forwarded produce and reads, group summaries.

Every request must carry a valid X-Kraft-Signature (kraft.config.cluster_keys): an
HMAC, with a key only this cluster's nodes derive, of the method, path, time and
body. A stranger on the network can neither register a broker nor read the log, and
one who sees a request learns no secret and cannot change it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import replace

from aiohttp import WSCloseCode, WSMsgType, web

from kraft.api.context import node_of
from kraft.api.http_body import json_response, query_int, read_body, read_json
from kraft.internode.fetch_channel import FETCH_STREAM_PATH, verified_request
from kraft.internode.peers import LOCAL_ONLY_HEADER, SIGNATURE_HEADER
from kraft.config.cluster_keys import signature_valid
from kraft.broker.isolation import ABORTED_HEADER, aborted_header
from kraft.groups.consumer_instance import READ_COMMITTED
from kraft.broker.share_group_admin import LOCAL_PATH as SHARE_GROUPS_PATH
from kraft.broker.share_leaders import PATH as SHARE_PARTITION_PATH
from kraft.broker.share_leaders import serve as serve_share_partition
from kraft.broker.share_state_link import STATE_PATH
from kraft.broker.share_state_link import serve as serve_share_state
from kraft.broker.txn_link import MARKERS_PATH, VERIFY_PATH, answers_json, check_or_add, markers_from_json
from kraft.errors import BadRequest, NotCoordinator, Unauthorized
from kraft.metadata.image_codec import image_to_dict
from kraft.replication.fetch_protocol import encode_response
from kraft.replication.fetch_session import SESSION_PROTOCOL, LeaderFetchSession
from kraft.replication.replica_manager import ReplicaManager

log = logging.getLogger(__name__)

MAX_WAIT_MS = 30_000
MAX_FETCH_MESSAGE_BYTES = 1024 * 1024  # a signed FetchRequest: JSON, one entry per partition
FETCH_STREAM_IDLE_S = 60.0  # a follower fetches at least once per long poll (500 ms)
CLOSE_WAIT_S = 1.0
FETCH_STREAMS_KEY: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("fetch_streams")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/internal/v1/controller/{op}", controller_rpc)
    app.router.add_get("/internal/v1/metadata", metadata_log)
    app.router.add_get("/internal/v1/metadata/offset", metadata_offset)
    app.router.add_get("/internal/v1/quorum/voters", quorum_voters)
    app.router.add_get(FETCH_STREAM_PATH, replica_fetch_stream)
    app.router.add_post("/internal/v1/produce", forwarded_produce)
    app.router.add_get("/internal/v1/read", committed_read)
    app.router.add_get("/internal/v1/stable-offsets", stable_offsets)
    app.router.add_post("/internal/v1/delete-records", forwarded_delete_records)
    app.router.add_get("/internal/v1/groups", local_groups)
    app.router.add_post(MARKERS_PATH, txn_markers)
    app.router.add_post(VERIFY_PATH, txn_verify)
    app.router.add_post(STATE_PATH, share_state)
    app.router.add_post(SHARE_PARTITION_PATH, share_partition)
    app.router.add_get(SHARE_GROUPS_PATH, local_share_groups)
    app[FETCH_STREAMS_KEY] = weakref.WeakSet()
    app.on_shutdown.append(_end_fetch_streams)


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


async def replica_fetch_stream(request):
    """A follower's fetch channel (kraft.internode.fetch_channel): a WebSocket on which each
    message is one signed FetchRequest and each answer one binary fetch response
    (replication/fetch_protocol.py). A bad message ends the stream, never the node."""
    await _authorize(request, 0)  # a handshake has no body
    node = node_of(request)
    replicas = node.replica_manager
    if replicas is None:
        raise BadRequest(f"node {node.node_id} is not a broker")
    ws = web.WebSocketResponse(compress=False, max_msg_size=MAX_FETCH_MESSAGE_BYTES, protocols=(SESSION_PROTOCOL,),
                               timeout=CLOSE_WAIT_S)  # the wait for the follower's reply to our close
    await ws.prepare(request)
    streams = request.app[FETCH_STREAMS_KEY]
    streams.add(ws)
    try:
        await _serve_fetches(node.peer_key, replicas, ws)
    finally:
        streams.discard(ws)
        await _close(ws, WSCloseCode.OK, b"")
    return ws


async def _serve_fetches(peer_key: bytes, replicas: ReplicaManager, ws: web.WebSocketResponse) -> None:
    # the stream's fetch session, when the follower asked for one in the handshake
    session = LeaderFetchSession() if ws.ws_protocol == SESSION_PROTOCOL else None
    while True:
        try:
            message = await ws.receive(timeout=FETCH_STREAM_IDLE_S)
        except TimeoutError:
            return  # the follower went quiet (it asks at least once per long poll)
        if message.type is not WSMsgType.BINARY:
            return  # closed, or a text/error frame no follower sends
        try:
            fetch = verified_request(peer_key, message.data, int(time.time() * 1000))
        except ValueError as exc:
            await _close(ws, WSCloseCode.POLICY_VIOLATION, str(exc)[:120].encode())
            return
        fetch = replace(fetch, max_wait_ms=min(max(fetch.max_wait_ms, 0), MAX_WAIT_MS))
        try:
            answers = await replicas.handle_fetch(fetch, session)
        except Exception:  # the follower retries on a new stream; the node serves on
            log.exception("serving a fetch from node %d failed", fetch.replica_id)
            await _close(ws, WSCloseCode.INTERNAL_ERROR, b"fetch failed on the leader")
            return
        try:
            await ws.send_bytes(encode_response(answers))
        except ConnectionError:
            return  # the follower left (reset, or lost while the answer drained)


async def _end_fetch_streams(app: web.Application) -> None:
    """At shutdown: followers reconnect elsewhere instead of the server waiting them out."""
    streams: weakref.WeakSet[web.WebSocketResponse] = app[FETCH_STREAMS_KEY]
    await asyncio.gather(*(_close(ws, WSCloseCode.GOING_AWAY, b"node shutting down") for ws in list(streams)))


async def _close(ws: web.WebSocketResponse, code: int, reason: bytes) -> None:
    """Bounded: a paused or cut-off follower never takes its answer, so neither draining
    what is queued for it nor waiting for its reply may hold a handler or the shutdown."""
    try:
        async with asyncio.timeout(CLOSE_WAIT_S):
            await ws.close(code=code, message=reason, drain=False)
    except (TimeoutError, ConnectionError):
        pass  # the transport is closed either way


async def forwarded_produce(request):
    """A batch another node received for a partition this node leads."""
    await _authorize(request)
    node = node_of(request)
    topic = request.query.get("topic", "")
    partition = query_int(request, "partition", 0, 0, 2**31 - 1)
    acks = query_int(request, "acks", -1, -1, 1)
    timeout_ms = query_int(request, "timeout_ms", 30_000, 1, 300_000)
    timestamp = query_int(request, "timestamp", 0, 0, 2**62)
    batch = await read_body(request)
    appended = await node.data_plane.append_batch(topic, partition, batch, acks, timeout_ms,
                                                  timestamp, local_only=True)
    return json_response({"offset": (await appended.committed()).offset})


async def committed_read(request):
    """Raw committed batches of a partition this node leads (consumer instances elsewhere)."""
    await _authorize(request)
    node = node_of(request)
    topic = request.query.get("topic", "")
    partition = query_int(request, "partition", 0, 0, 2**31 - 1)
    offset = query_int(request, "offset", 0, 0, 2**63 - 1)
    max_bytes = query_int(request, "max_bytes", 1024 * 1024, 1, 64 * 1024 * 1024)
    timeout_ms = query_int(request, "timeout_ms", 0, 0, MAX_WAIT_MS)
    node.data_plane.topic_or_404(topic)
    if request.query.get("isolation") == READ_COMMITTED:
        data, aborted = await node.data_plane.read_stable(topic, partition, offset, max_bytes, timeout_ms)
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={ABORTED_HEADER: aborted_header(aborted)})
    data = await node.data_plane.read(topic, partition, offset, max_bytes, timeout_ms)
    return web.Response(body=data, content_type="application/octet-stream")


async def stable_offsets(request):
    """(log start, last stable offset) of a partition this node leads (read_committed ends)."""
    await _authorize(request)
    node = node_of(request)
    topic = request.query.get("topic", "")
    partition = query_int(request, "partition", 0, 0, 2**31 - 1)
    node.data_plane.topic_or_404(topic)
    start, lso = await node.data_plane.offsets(topic, partition, stable=True)
    return json_response({"log_start_offset": start, "last_stable_offset": lso})


async def forwarded_delete_records(request):
    """DeleteRecords that a REST client sent to another node, for a partition this one leads."""
    await _authorize(request)
    node = node_of(request)
    topic = request.query.get("topic", "")
    partition = query_int(request, "partition", 0, 0, 2**31 - 1)
    offset = query_int(request, "offset", -1, -1, 2**63 - 1)
    timeout_ms = query_int(request, "timeout_ms", 30_000, 0, 300_000)
    node.data_plane.topic_or_404(topic)
    low = await node.data_plane.delete_records(topic, partition, offset, timeout_ms, local_only=True)
    return json_response({"low_watermark": low})


async def txn_markers(request):
    """WriteTxnMarkers from a transaction coordinator, for partitions this node leads."""
    await _authorize(request)
    try:
        markers = markers_from_json(await read_json(request))
    except (KeyError, TypeError, ValueError):
        raise BadRequest("a body of transaction markers was expected") from None
    answers = await node_of(request).txn_link.write_here(markers)
    return json_response(answers_json(answers))


async def txn_verify(request):
    """A partition leader asks this coordinator: is the partition in the transaction?
    With "add" (transactions version 2) it is added first."""
    await _authorize(request)
    body = await read_json(request)
    try:
        tid, pid, epoch = str(body["transactional_id"]), int(body["producer_id"]), int(body["producer_epoch"])
        tp = (str(body["topic"]), int(body["partition"]))
        add = bool(body.get("add", False))
    except (KeyError, TypeError, ValueError):
        raise BadRequest("transactional_id, producer_id, producer_epoch, topic, partition expected") from None
    coordinator = node_of(request).transactions
    if await coordinator.locate(tid, create=False, wait_s=0) is not None:  # the leader asking waits briefly
        raise NotCoordinator(f"NOT_COORDINATOR: node {coordinator.node_id} does not coordinate {tid!r}")
    return json_response({"in_transaction": await check_or_add(coordinator, tid, pid, epoch, tp, add)})


async def share_state(request):
    """A partition leader reads or writes a share-partition's state at this share coordinator."""
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
