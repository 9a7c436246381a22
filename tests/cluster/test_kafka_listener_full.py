"""A Kafka listener filled with connections that never send a request still lets a new
client in, and never drops a client it has served; a connection that sends nothing is
closed after connections.first.request.timeout.ms, not connections.max.idle.ms.

Each cluster here gets small limits of its own (max.connections 40, 10 per address), so a
flood of a few dozen silent connections from four loopback addresses fills its listener,
as 4 x 250 would fill one with the defaults. Clients connect from 127.0.0.1 (the kernel's
choice on loopback), an address of their own.
"""

from __future__ import annotations

import select
import socket
import struct
import time

import pytest
from kafka_wire import recv_frame, request_frame

from kraft.server.local_cluster import LocalCluster, default_first_address

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

CAP, PER_ADDRESS = 40, 10
FIRST_REQUEST_DEADLINE_MS = 2000


def _flood_sources(offset: int) -> list[str]:
    """Four loopback addresses of the flood's (each test its own, so that one test's
    connections, let go as the broker sees them close, never count against the next's)."""
    first = default_first_address()
    return [f"127.0.0.{first + offset + i}" for i in range(CAP // PER_ADDRESS)]


@pytest.fixture(scope="module")
def full_cluster():
    """Silent connections are only ever closed for newcomers here: their deadline is far off."""
    with LocalCluster(nodes=1, topic_defaults={"replication.factor": 1}, cluster={
            "max.connections": CAP, "max.connections.per.ip": PER_ADDRESS,
            "connections.first.request.timeout.ms": 600_000}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


@pytest.fixture(scope="module")
def deadline_cluster():
    with LocalCluster(nodes=1, topic_defaults={"replication.factor": 1},
                      cluster={"connections.first.request.timeout.ms": FIRST_REQUEST_DEADLINE_MS}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def _address(c) -> tuple[str, int]:
    conf = c.config.node(1)
    return conf.host, conf.kafka_port


def _connect(address: tuple[str, int], source: str | None = None) -> socket.socket:
    s = socket.socket()
    if source is not None:
        s.bind((source, 0))
    s.settimeout(20)
    s.connect(address)
    return s


def _served(s: socket.socket, correlation_id: int) -> bool:
    """An ApiVersions on this connection is answered (False: the broker closed it)."""
    try:
        s.sendall(request_frame(18, 3, correlation_id, client_software_name="t", client_software_version="1"))
        return struct.unpack(">i", recv_frame(s)[:4])[0] == correlation_id
    except OSError:
        return False


def _served_client(address: tuple[str, int], wait_s: float = 30) -> socket.socket:
    """A connection that has been served, once the listener has room (an earlier test's
    connections are let go as the broker sees them close)."""
    deadline = time.monotonic() + wait_s
    while True:
        s = _connect(address)
        if _served(s, 1):
            return s
        s.close()
        assert time.monotonic() < deadline, "the listener never had room for a client"
        time.sleep(0.2)


def _closed(s: socket.socket, wait_s: float) -> bool:
    """Whether the broker closes this silent connection within wait_s."""
    s.settimeout(wait_s)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _wait_for_a_close(sockets: list[socket.socket], wait_s: float) -> socket.socket | None:
    ready, _, _ = select.select(sockets, [], [], wait_s)
    return next((s for s in ready if _closed(s, 1)), None)


def test_a_full_listener_of_served_clients_refuses_newcomers(full_cluster):
    """Only unserved connections give way: a listener full of served ones closes the newcomer."""
    address = _address(full_cluster)
    clients: list[socket.socket] = []
    try:
        for source in _flood_sources(40):
            for _ in range(PER_ADDRESS):
                clients.append(_connect(address, source))
                assert _served(clients[-1], 1)
        newcomer = _connect(address)
        clients.append(newcomer)
        assert _closed(newcomer, 30)
        assert all(_served(s, 2) for s in clients[:-1])
    finally:
        for s in clients:
            s.close()


def test_silent_connections_give_way_to_new_clients_never_served_ones(full_cluster):
    address = _address(full_cluster)
    served = _served_client(address)  # a client served before the flood
    flood: list[socket.socket] = []
    try:
        for source in _flood_sources(30):
            flood += [_connect(address, source) for _ in range(PER_ADDRESS)]
        # with the served client, one more than the listener holds: the flood's own last
        # connection already took the oldest silent one's slot, so the listener is full
        assert _wait_for_a_close(flood, 30) is flood[0]
        # a new client gets in (each of its connections takes a silent one's slot) and is served
        newcomer = _connect(address)
        flood.append(newcomer)
        assert _served(newcomer, 1)
        producer = confluent_kafka.Producer({"bootstrap.servers": "%s:%d" % address, "message.timeout.ms": 30000})
        delivered: list = []
        producer.produce("listener-full", b"served", on_delivery=lambda err, msg: delivered.append(err))
        producer.flush(60)
        del producer  # its connections close
        assert delivered == [None]
        # the client served before the flood was never the one closed
        assert _served(served, 2)
        assert _served(newcomer, 2)
    finally:
        for s in [served, *flood]:
            s.close()


def test_a_connection_that_sends_nothing_is_closed_after_the_first_request_deadline(deadline_cluster):
    address = _address(deadline_cluster)
    served = _connect(address)
    silent = _connect(address, _flood_sources(30)[0])
    try:
        assert _served(served, 1)
        assert _closed(silent, 60)  # 2 s, where connections.max.idle.ms would wait 600
        assert _served(served, 2)  # a served client has only the idle timeout to mind
    finally:
        served.close()
        silent.close()
