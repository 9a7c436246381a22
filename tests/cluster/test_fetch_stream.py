"""The followers' fetch stream (a WebSocket on the HTTP port): only this cluster's nodes
open it, every message must be signed, and anything else ends that one stream while the
node goes on serving and replicating."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from consumer_client import produce
from cluster_client import call, create_topic
from kafka_wire import leader_of
from kraft.broker.fetch_channel import FETCH_STREAM_PATH, signed_message
from kraft.broker.peers import SIGNATURE_HEADER
from kraft.config.cluster_keys import peer_key, request_signature
from kraft.config.data_dir import read_identity
from kraft.replication.fetch_protocol import FetchPartition, FetchRequest, decode_response
from kraft.server.local_cluster import LocalCluster
from kraft.storage.record_batch import decode_records, iter_batches

pytestmark = pytest.mark.cluster

TOPIC = "streamed"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        create_topic(c, TOPIC, partitions=1)
        produce(c, TOPIC, [{"value": {"n": n}} for n in range(5)])
        yield c


def key_of(cluster) -> bytes:
    return peer_key(read_identity(cluster.config.node(1).data_path))


def signed_headers(key: bytes) -> dict:
    return {SIGNATURE_HEADER: request_signature(key, "GET", FETCH_STREAM_PATH, b"", int(time.time() * 1000))}


def a_fetch(cluster, leader: int) -> FetchRequest:
    """What a follower of partition 0 asks from offset 0 (a real one: it may pull its
    position back, which its next fetch corrects)."""
    status, topic = call("GET", f"{cluster.v3(1)}/topics/{TOPIC}")
    assert status == 200, topic
    status, part = call("GET", f"{cluster.v3(1)}/topics/{TOPIC}/partitions/0")
    assert status == 200 and part["leader_id"] == leader, part
    follower = next(n for n in part["isr"] if n != leader)
    return FetchRequest(follower, -1, max_wait_ms=0, max_bytes=1024 * 1024, partitions=(
        FetchPartition(topic["topic_id"], 0, 0, -1, part["leader_epoch"]),))


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
        ws = await session.ws_connect(url, headers=signed_headers(key))
        for _ in range(2):  # one stream carries fetch after fetch
            await ws.send_bytes(signed_message(key, request, int(time.time() * 1000)))
            answer = await ws.receive(timeout=10)
            assert answer.type is aiohttp.WSMsgType.BINARY
            [data] = decode_response(answer.data)
            assert data.error is None and data.high_watermark >= 5
            values = [orjson.loads(r.value) for pos, _ in iter_batches(data.records)
                      for r in decode_records(data.records, pos)]
            assert values[:5] == [{"n": n} for n in range(5)]
        await ws.close()

        hostile = {
            "unsigned": request.encode(),
            "signed for another body": signed_message(key, request, int(time.time() * 1000))
            .replace(b'"fetch_offset":0', b'"fetch_offset":3'),
            "stale": signed_message(key, request, int(time.time() * 1000) - 3_600_000),
            "signed garbage": _signed_body(key, b'{"replica_id": "x"}'),
            "not JSON": _signed_body(key, b"\xff\x00"),
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
        await ws.send_bytes(b"x" * (2 * 1024 * 1024))  # over the 1 MiB a fetch request may take
        closed = await ws.receive(timeout=10)
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert closed.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await ws.close()

    # the node stayed up and its followers still replicate: an acks=all write commits
    produce(cluster, TOPIC, [{"value": {"after": "hostile streams"}}], node=leader)
    status, body = call("GET", f"{cluster.url(leader)}/status/ready")
    assert status == 200, body


def _signed_body(key: bytes, body: bytes) -> bytes:
    from kraft.broker.fetch_channel import SIGNED_AS
    now = int(time.time() * 1000)
    return request_signature(key, SIGNED_AS, FETCH_STREAM_PATH, body, now).encode() + b"\n" + body
