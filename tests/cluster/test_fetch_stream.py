"""The followers' fetch stream (a WebSocket on the HTTP port): only this cluster's nodes
open it, every message must be signed, and anything else ends that one stream while the
node goes on serving and replicating."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from dataclasses import replace

import aiohttp
import orjson
import pytest

from consumer_client import produce
from cluster_client import V2_BINARY, V2_JSON, call, create_topic
from cluster_sharing import module_log
from kafka_wire import leader_of
from kraft.internode.fetch_channel import FETCH_STREAM_PATH, signed_body, signed_message
from kraft.internode.peers import SIGNATURE_HEADER
from kraft.config.cluster_keys import peer_key, request_signature
from kraft.config.data_dir import read_identity
from kraft.replication.fetch_protocol import FetchPartition, FetchRequest, decode_response
from kraft.storage.record_batch import decode_records, iter_batches

pytestmark = pytest.mark.cluster

TOPIC = "streamed"


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    c = shared_cluster
    create_topic(c, TOPIC, partitions=1)
    produce(c, TOPIC, [{"value": {"n": n}} for n in range(5)])
    return c


def key_of(cluster) -> bytes:
    return peer_key(read_identity(cluster.config.node(1).data_path))


def signed_headers(key: bytes) -> dict:
    return {SIGNATURE_HEADER: request_signature(key, "GET", FETCH_STREAM_PATH, b"", int(time.time() * 1000))}


def a_fetch(cluster, leader: int, topic_name: str = TOPIC) -> FetchRequest:
    """A fetch of partition 0 from offset 0 by a node id that is no replica of it, so the
    leader's view of its real followers is left alone."""
    status, topic = call("GET", f"{cluster.v3(1)}/topics/{topic_name}")
    assert status == 200, topic
    status, part = call("GET", f"{cluster.v3(1)}/topics/{topic_name}/partitions/0")
    assert status == 200 and part["leader_id"] == leader, part
    return FetchRequest(99, -1, max_wait_ms=0, max_bytes=1024 * 1024, partitions=(
        FetchPartition(topic["topic_id"], 0, 0, -1, part["leader_epoch"]),))


async def read_five(ws, key: bytes, request: FetchRequest) -> None:
    """One fetch on an open stream: the five records the module wrote come back."""
    await ws.send_bytes(signed_message(key, request, int(time.time() * 1000)))
    answer = await ws.receive(timeout=10)
    assert answer.type is aiohttp.WSMsgType.BINARY, answer
    [data] = decode_response(answer.data)
    assert data.error is None and data.high_watermark >= 5
    values = [orjson.loads(r.value) for pos, _ in iter_batches(data.records)
              for r in decode_records(data.records, pos)]
    assert values[:5] == [{"n": n} for n in range(5)]


async def test_only_a_signed_handshake_opens_the_stream(cluster):
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {SIGNATURE_HEADER: "1.abc"}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(cluster.url(2) + FETCH_STREAM_PATH, headers=headers)
            assert refused.value.status == 401


async def test_a_signed_fetch_reads_the_log_and_anything_else_ends_only_its_stream(cluster):
    key = key_of(cluster)
    leader = leader_of(cluster, TOPIC, 0)
    url = cluster.url(leader) + FETCH_STREAM_PATH
    request = a_fetch(cluster, leader)
    async with aiohttp.ClientSession() as session:
        kept = await session.ws_connect(url, headers=signed_headers(key))
        for _ in range(2):  # one stream carries fetch after fetch
            await read_five(kept, key, request)

        hostile = {
            "unsigned": request.encode(),
            "signed for another body": signed_message(key, request, int(time.time() * 1000))
            .replace(b'"fetch_offset":0', b'"fetch_offset":3'),
            "stale": signed_message(key, request, int(time.time() * 1000) - 3_600_000),
            "signed garbage": signed_body(key, b'{"replica_id": "x"}', int(time.time() * 1000)),
            "not JSON": signed_body(key, b"\xff\x00", int(time.time() * 1000)),
        }
        for why, message in hostile.items():
            ws = await session.ws_connect(url, headers=signed_headers(key))
            await ws.send_bytes(message)
            closed = await ws.receive(timeout=10)
            assert closed.type is aiohttp.WSMsgType.CLOSE, why
            assert closed.data == aiohttp.WSCloseCode.POLICY_VIOLATION, (why, closed)
            await ws.close()

        ws = await session.ws_connect(url, headers=signed_headers(key))
        await ws.send_str("a text frame")
        assert (await ws.receive(timeout=10)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await ws.close()

        ws = await session.ws_connect(url, headers=signed_headers(key))
        try:  # over the 1 MiB a fetch request may take: closed as too big, or reset mid-send
            await ws.send_bytes(b"x" * (2 * 1024 * 1024))
            closed = await ws.receive(timeout=10)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            if closed.type is aiohttp.WSMsgType.CLOSE:
                assert closed.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        except ConnectionError:
            pass
        await ws.close()

        await read_five(kept, key, request)  # each ended only its own stream
        await kept.close()

    # the node stayed up and its followers still replicate: an acks=all write commits
    # within 3 s, before a follower that stopped fetching could leave the ISR (5 s)
    status, body = call("POST", f"{cluster.url(leader)}/topics/{TOPIC}/partitions/0?acks=all&timeout_ms=3000",
                        {"records": [{"value": {"after": "hostile streams"}}]},
                        headers={"Content-Type": V2_JSON})
    assert status == 200 and body["offsets"][0]["error_code"] is None, body
    status, part = call("GET", f"{cluster.v3(1)}/topics/{TOPIC}/partitions/0")
    assert status == 200 and sorted(part["isr"]) == [1, 2, 3], part


def test_followers_of_idle_partitions_stay_in_sync(cluster):
    """With fetch sessions a leader looks at a partition nobody writes only now and then:
    its followers must still count as caught up, past replica.lag.time.max.ms (5 s)."""
    topic = "idle-for-a-while"
    create_topic(cluster, topic, partitions=3)
    produce(cluster, topic, [{"value": {"n": p}, "partition": p} for p in range(3)])

    def in_sync() -> list[int]:
        counts = []
        for p in range(3):
            status, replicas = call("GET", f"{cluster.v3(1)}/topics/{topic}/partitions/{p}/replicas")
            assert status == 200, replicas
            counts.append(sum(1 for r in replicas["data"] if r["is_in_sync"]))
        return counts

    cluster.wait_until(lambda: in_sync() == [3, 3, 3], timeout_s=30, what="every replica in sync after the write")
    time.sleep(2 * 5 + 1)  # two lag windows without a write
    assert in_sync() == [3, 3, 3]


def test_a_leader_stops_cleanly_while_a_follower_does_not_read_its_answer(cluster):
    """A follower that stops reading (paused, cut off) leaves an answer the leader cannot
    finish sending; stopping the leader must not wait for it (it exits 0, no ERROR).
    Last in this module: it stops a node."""
    create_topic(cluster, "unread", partitions=1)
    leader = leader_of(cluster, "unread", 0)
    chunk = base64.b64encode(os.urandom(900_000)).decode()
    for _ in range(24):  # about 22 MB: more than the two sockets' buffers hold
        status, body = call("POST", f"{cluster.url(leader)}/topics/unread/partitions/0?acks=1",
                            {"records": [{"value": chunk}]}, headers={"Content-Type": V2_BINARY})
        assert status == 200, body
    key = key_of(cluster)
    request = replace(a_fetch(cluster, leader, "unread"), max_bytes=64 * 1024 * 1024)
    stalled = _raw_stream(cluster, leader, key)
    try:
        stalled.sendall(_masked_frame(signed_message(key, request, int(time.time() * 1000))))
        time.sleep(1.0)  # the leader is writing its answer into a socket nobody reads
        assert cluster.stop(leader) == 0
    finally:
        stalled.close()
    errors = [line for line in module_log(cluster, leader).splitlines() if " ERROR " in line]
    assert not errors, errors


def _raw_stream(cluster, node: int, key: bytes) -> socket.socket:
    """A signed WebSocket handshake on a plain socket with a small receive buffer, so
    what the leader sends stays queued on its side once this side stops reading."""
    host, port = cluster.url(node).removeprefix("http://").rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(10)
    s.connect((host, int(port)))
    headers = {"Host": f"{host}:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
               "Sec-WebSocket-Version": "13", **signed_headers(key)}
    s.sendall((f"GET {FETCH_STREAM_PATH} HTTP/1.1\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        piece = s.recv(4096)
        assert piece, reply
        reply += piece
    assert reply.startswith(b"HTTP/1.1 101"), reply
    return s


def _masked_frame(payload: bytes) -> bytes:
    """One binary WebSocket frame as a client sends it (RFC 6455: masked)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x82, 0x80 | size])
    elif size < 65536:
        head = bytes([0x82, 0x80 | 126]) + struct.pack(">H", size)
    else:
        head = bytes([0x82, 0x80 | 127]) + struct.pack(">Q", size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

