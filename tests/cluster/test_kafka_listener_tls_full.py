"""A TLS listener counts a connection from its accept, as Kafka's acceptor does: a flood of
connections that open TCP and never begin their handshake fills it, and each newcomer takes
the slot of the oldest of them (closed at once), where before a handshake in progress held
memory outside every limit until its deadline. /metrics says how full the listener is and
how many gave way."""

from __future__ import annotations

import base64
import re
import socket
import struct
import time

import pytest
from certs import one_tls_node
from kafka_wire import recv_frame, request_frame

from kraft.server.local_cluster import LocalCluster, default_first_address, http_json

pytestmark = pytest.mark.cluster

CAP, PER_ADDRESS = 30, 10
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
BOUND_S = 60  # far below the handshake deadline below: only the limits can close them in time


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory):
    with one_tls_node(tmp_path_factory.mktemp("pki"), cluster={
            "max.connections": CAP, "max.connections.per.ip": PER_ADDRESS,
            "connections.first.request.timeout.ms": 600_000}) as c:
        yield c


def _sources() -> list[str]:
    first = default_first_address()
    return [f"127.0.0.{first + 30 + i}" for i in range(CAP // PER_ADDRESS + 1)]


def _silent(address: tuple[str, int], source: str) -> socket.socket:
    """A TCP connection that never sends its TLS ClientHello."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(20)
    s.connect(address)
    return s


def _closed_by_broker(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def _metric(c: LocalCluster, name: str) -> float:
    status, text = http_json("GET", c.url(1) + "/metrics", headers=ADMIN, context=c.tls)
    assert status == 200, text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def _api_versions_over_tls(c: LocalCluster, address: tuple[str, int]) -> bool:
    with socket.create_connection(address, timeout=20) as raw, c.tls.wrap_socket(raw, server_hostname=address[0]) as s:
        s.sendall(request_frame(18, 3, 7, client_software_name="t", client_software_version="1"))
        return struct.unpack(">i", recv_frame(s)[:4])[0] == 7


def test_handshakes_never_begun_fill_the_tls_listener_and_give_way_to_newcomers(tls_node):
    c = tls_node
    conf = c.config.node(1)
    address = (conf.host, conf.kafka_port)
    assert _api_versions_over_tls(c, address)  # a client is served before the flood
    c.wait_until(lambda: _metric(c, "kraft_kafka_connections") == 0, BOUND_S, "its connection let go")
    evicted_before = _metric(c, "kraft_kafka_connections_evicted")
    *fill, extra = _sources()
    flood = [_silent(address, source) for source in fill for _ in range(PER_ADDRESS)]
    late = [_silent(address, extra) for _ in range(PER_ADDRESS)]
    try:
        # the flood filled the listener; the late ten each took the slot of one of its oldest
        deadline = time.monotonic() + BOUND_S
        while len(closed := [s for s in flood if _closed_by_broker(s)]) < PER_ADDRESS:
            assert time.monotonic() < deadline, f"{len(closed)} of the flood closed, {PER_ADDRESS} expected"
            time.sleep(0.2)
        assert set(closed) == set(flood[:PER_ADDRESS])  # the oldest, and only as many as came after
        assert not any(_closed_by_broker(s) for s in late)
        assert _metric(c, "kraft_kafka_connections") <= CAP
        assert _metric(c, "kraft_kafka_connections_evicted") - evicted_before >= PER_ADDRESS
        # a TLS client still gets in (its connection takes a silent one's slot) and is served
        assert _api_versions_over_tls(c, address)
    finally:
        for s in flood + late:
            s.close()
