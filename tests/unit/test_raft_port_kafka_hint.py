"""A Kafka client given a controller's Raft port (Kafka's habit of 9092 once led there)
sees only a closed connection: the node's log names the mistake and where to go."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from kraft.quorum import raft_transport
from kraft.quorum.raft import RaftQuorum
from kraft.quorum.raft_frames import kafka_request_shape

HOST = "127.0.0.1"
# ApiVersions v3 as librdkafka sends it first (size, key 18, version 3, correlation id,
# client id "x", then its flexible body)
BODY = bytes.fromhex("0012" "0003" "00000001" "0001" "78" "00" "0278" "0278" "00")
API_VERSIONS = len(BODY).to_bytes(4, "big") + BODY


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def test_the_shape_of_a_kafka_request_and_not_of_a_controllers_frame():
    assert kafka_request_shape(API_VERSIONS[:8])
    fernet_frame = (120).to_bytes(4, "little") + b"gAAAAABl"  # size, then a Fernet token's text
    assert not kafka_request_shape(fernet_frame)
    assert not kafka_request_shape((256 << 8).to_bytes(4, "little") + b"gAAAAABl")  # a BE-small size
    assert not kafka_request_shape(b"GET / HT")


async def test_a_kafka_client_at_the_raft_port_is_named_in_the_nodes_log(tmp_path, caplog):
    raft_transport.KAFKA_CLIENTS._seen.clear()  # one warning a minute per address: start afresh
    port = free_port()
    quorum = RaftQuorum(1, {1: f"{HOST}:{port}"}, tmp_path, "a-raft-password", source_host=None)
    quorum.start()
    try:
        with caplog.at_level(logging.WARNING, logger="kraft.quorum.raft_transport"):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(API_VERSIONS)
            await writer.drain()
            closed = await asyncio.wait_for(reader.read(), 30)  # the port hangs up
            writer.close()
            assert closed == b""
            for _ in range(600):
                if "connected to this node's Raft port" in caplog.text:
                    break
                await asyncio.sleep(0.05)
        assert f"a Kafka client at {HOST} connected to this node's Raft port" in caplog.text, caplog.text
        assert "kafka_port" in caplog.text
    finally:
        quorum.stop()


@pytest.fixture(autouse=True)
def _fresh_hints():
    yield
    raft_transport.KAFKA_CLIENTS._seen.clear()
