"""What one address can take of a broker's Kafka listener: a share of its connections
(max.connections.per.ip), and of its request byte budget only the bytes it really sent.

The hostile connections leave from their own loopback source addresses; the real client
connects from 127.0.0.1 (the kernel's choice on loopback), another address.
"""

from __future__ import annotations

import resource
import select
import socket
import struct
import time

import pytest
from kafka_wire import closed_by_broker, recv_frame, request_frame

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402

ATTACKER = "127.0.0.201"
DRIBBLER = "127.0.0.202"
PER_ADDRESS = 250  # max.connections.per.ip's default
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster():
    # the idle share is held past connections.first.request.timeout.ms's default on a busy machine
    with LocalCluster(nodes=1, topic_defaults={"replication.factor": 1},
                      cluster={"connections.first.request.timeout.ms": 600_000}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def _kafka_address(c) -> tuple[str, int]:
    conf = c.config.node(1)
    return conf.host, conf.kafka_port


def _connect_from(source: str, address: tuple[str, int]) -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(20)  # the accept queue may be full for a moment
    s.connect(address)
    return s


def _closed_by_broker_within(sockets: list[socket.socket], wait_s: float) -> set[socket.socket]:
    """The sockets the broker closed (EOF or reset), waiting up to wait_s for all of them."""
    poller = select.poll()  # select() takes no descriptor above 1023
    by_fd = {s.fileno(): s for s in sockets}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + wait_s
    while len(closed) < len(sockets):
        ready = poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
        if not ready:
            break
        for fd, _ in ready:
            poller.unregister(fd)
            if closed_by_broker(by_fd[fd]):
                closed.add(by_fd[fd])
    return closed


def _raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < needed:
        pytest.skip(f"this test opens {needed} sockets; the hard limit is {hard}")


def test_one_address_cannot_take_the_listener(cluster):
    _raise_open_file_limit(4096)
    address = _kafka_address(cluster)
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):  # more than the whole listener's max.connections (1000)
            idle.append(_connect_from(ATTACKER, address))
        # everything over this address's share is closed at once; its share stays open
        closed = _closed_by_broker_within(idle[PER_ADDRESS:], wait_s=30)
        assert len(closed) == 1100 - PER_ADDRESS
        assert not _closed_by_broker_within(idle[:PER_ADDRESS], wait_s=0)
        # a real client from another address is served meanwhile
        admin = cadmin.AdminClient({"bootstrap.servers": "%s:%d" % address})
        assert admin.list_topics(timeout=30).brokers
        producer = confluent_kafka.Producer({"bootstrap.servers": "%s:%d" % address, "message.timeout.ms": 30000})
        errors: list = []
        producer.produce("conn-limits", b"served", on_delivery=lambda err, msg: errors.append(err))
        producer.flush(60)
        assert errors == [None]
    finally:
        for s in idle:
            s.close()


def _api_versions(correlation_id: int) -> bytes:
    return request_frame(18, 3, correlation_id, client_software_name="t", client_software_version="1")


def test_declared_but_unsent_bytes_hold_up_no_one(cluster):
    """Three frames that declare the whole byte budget (100 + 100 + 56 MiB) and send a trickle."""
    address = _kafka_address(cluster)
    stalled = []
    try:
        for declared in (100 * MiB, 100 * MiB, 56 * MiB):
            s = _connect_from(DRIBBLER, address)
            body = _api_versions(1)[4:]  # a real header, then far fewer bytes than declared
            s.sendall(struct.pack(">i", declared) + body + b"\0" * 1000)
            stalled.append(s)
        for s in stalled:
            s.sendall(b"\0" * 10)  # still dribbling
        other = socket.create_connection(address, timeout=20)  # from 127.0.0.1
        try:
            for correlation_id in range(1, 4):
                other.sendall(_api_versions(correlation_id))
                assert struct.unpack(">i", recv_frame(other)[:4])[0] == correlation_id
        finally:
            other.close()
        # answered while the stalled frames are still being waited for (their deadline is 30 s)
        for s in stalled:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
            s.setblocking(True)
        # a frame that stops arriving ends its connection once its deadline passes
        assert _closed_by_broker_within(stalled, wait_s=90) == set(stalled)
    finally:
        for s in stalled:
            s.close()
