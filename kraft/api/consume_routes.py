"""Read by offset (Redpanda's HTTP proxy) and partition offsets.

Reads are served by the partition leader, below the high watermark; another node
forwards the request to it unchanged. With no data at the offset the request waits
up to `timeout` ms for some. An answer holds at most `max_bytes` of stored records and
at most record_codec.MAX_RECORDS_PER_ANSWER of them.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.api import record_codec as rc
from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.context import node_of
from kraft.api.http_body import json_response, query_int
from kraft.internode.peers import LOCAL_ONLY_HEADER
from kraft.broker.lookup import partition_or_404
from kraft.errors import ERROR_CLASS_HEADER, NotAcceptable, NotLeaderOrFollower
from kraft.broker.isolation import visible_records_off_loop

MAX_READ_BYTES = 64 * 1024 * 1024
# a read deep inside a huge batch waits this long at least for room to open it (429 after)
OPEN_WAIT_S = 30.0
MAX_WAIT_MS = 60_000
FORWARD_ATTEMPTS = 3


def add_routes(app: web.Application) -> None:
    app.router.add_get("/topics/{topic}/partitions/{partition}/records", read_records)
    app.router.add_get("/topics/{topic}/partitions/{partition}/offsets", partition_offsets)


def _partition(request, node: BrokerServices) -> tuple[str, int, int]:
    topic = request.match_info["topic"]
    plane = node.data_plane
    partition = partition_or_404(plane.topic_or_404(topic), request.match_info["partition"])
    return topic, partition, plane.leader_of(topic, partition)


def _format(request) -> bool:
    """True for binary. The Accept header picks the embedded format, as in v2."""
    accept = request.headers.get("Accept", "")
    if not accept or "*/*" in accept or rc.V2_JSON in accept or "application/json" in accept:
        return False
    if rc.V2_BINARY in accept:
        return True
    raise NotAcceptable(f"Accept {accept!r} is not supported; use {rc.V2_JSON} or {rc.V2_BINARY}")


async def _on_leader(request, serve_here):
    """Serve on the partition's leader: here, or forwarded to it. When the node asked
    answers that it no longer leads (leadership moved, or this image is behind), catch up
    with the metadata and ask the leader it names, as a Kafka client refreshes its
    metadata and retries; a bounded number of times."""
    node = node_of(request)
    for attempt in range(FORWARD_ATTEMPTS):
        topic, partition, leader = _partition(request, node)
        if leader == node.node_id:
            try:
                return await serve_here(request, node, topic, partition)
            except NotLeaderOrFollower:
                # the image names this node while its replica has not taken (or has just
                # given up) leadership: the same catch-up and retry as for a forwarded read
                if LOCAL_ONLY_HEADER in request.headers or attempt == FORWARD_ATTEMPTS - 1:
                    raise
                await node.metadata_barrier(2.0)
                await asyncio.sleep(0.05)  # the replica manager applies the image after the barrier
                continue
        if LOCAL_ONLY_HEADER in request.headers:
            raise NotLeaderOrFollower(f"NOT_LEADER: node {node.node_id} is not the leader (metadata moving); retry")
        headers = {LOCAL_ONLY_HEADER: "1", "Accept": request.headers.get("Accept", "*/*"),
                   ERROR_CLASS_HEADER: "1"}
        status, body, ctype = await node.proxy_get(leader, request.path_qs, headers,
                                                   on_behalf=request.get(IDENTITY_KEY))
        error_class = _error_class(status, body)
        if error_class != "NotLeaderOrFollower" or attempt == FORWARD_ATTEMPTS - 1:
            if error_class is not None and ERROR_CLASS_HEADER not in request.headers:
                body = orjson.dumps({k: v for k, v in orjson.loads(body).items() if k != "error_class"})
            return web.Response(body=body, status=status, content_type=ctype)
        await node.metadata_barrier(2.0)
    raise AssertionError("unreachable")


def _error_class(status: int, body: bytes) -> str | None:
    if status < 400:
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed.get("error_class") if isinstance(parsed, dict) else None


async def read_records(request):
    _format(request)  # 406 before anything else
    query_int(request, "offset", 0, 0, 2**63 - 1)  # and bad parameters before a forward
    query_int(request, "timeout", 1000, 0, MAX_WAIT_MS)
    query_int(request, "max_bytes", 1024 * 1024, 1, MAX_READ_BYTES)
    return await _on_leader(request, _read_here)


async def _read_here(request, node: BrokerServices, topic: str, partition: int):
    binary = _format(request)
    offset = query_int(request, "offset", 0, 0, 2**63 - 1)
    timeout_ms = query_int(request, "timeout", 1000, 0, MAX_WAIT_MS)
    max_bytes = query_int(request, "max_bytes", 1024 * 1024, 1, MAX_READ_BYTES)
    data = await node.data_plane.read(topic, partition, offset, max_bytes, timeout_ms)
    deadline = time.monotonic() + max(timeout_ms / 1000, OPEN_WAIT_S)
    shown, _ = await visible_records_off_loop(data, offset, None, max_bytes, deadline,  # markers' offsets never shown
                                              rc.MAX_RECORDS_PER_ANSWER)
    body = await rc.v2_answer((((topic, partition), r) for r in shown), binary)
    return web.Response(body=body, content_type=rc.V2_BINARY if binary else rc.V2_JSON)


async def partition_offsets(request):
    if "timestamp" in request.query:
        query_int(request, "timestamp", 0, 0, 2**63 - 1)
    return await _on_leader(request, _offsets_here)


async def _offsets_here(request, node: BrokerServices, topic: str, partition: int):
    start, hw = await node.data_plane.offsets(topic, partition)
    answer: dict[str, int | None] = {"beginning_offset": start, "end_offset": hw}
    if "timestamp" in request.query:  # (ext) Kafka's ListOffsets by time
        timestamp = query_int(request, "timestamp", 0, 0, 2**63 - 1)
        found = await node.data_plane.offset_for_timestamp(topic, partition, timestamp)
        answer["offset"], answer["timestamp"] = found if found is not None else (None, None)
    return json_response(answer)
