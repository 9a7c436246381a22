"""A node bounds the client connections it holds: slow headers and idle connections are
closed, and past the connection limit a new client gets a 429 instead of a descriptor.

Clients connect from 127.0.0.1 or from other 127.0.0.x source addresses, none of them one
of the cluster's node addresses, so the limits count them. One address may hold a quarter
of the limit (KRAFT_HTTP_MAX_CONNECTIONS_PER_IP's default).
"""

from __future__ import annotations

import socket
import time

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

HEADER_MS, IDLE_MS, LIMIT = 2000, 3000, 200
PER_ADDRESS = LIMIT // 4
SOURCES = [f"127.0.0.{211 + i}" for i in range(5)]  # client addresses away from every cluster's


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3, env={"KRAFT_HTTP_HEADER_TIMEOUT_MS": str(HEADER_MS),
                              "KRAFT_HTTP_IDLE_TIMEOUT_MS": str(IDLE_MS),
                              "KRAFT_HTTP_MAX_CONNECTIONS": str(LIMIT)}) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        yield c


def client_socket(cluster, node=1, source="127.0.0.1") -> socket.socket:
    host, port = cluster.url(node).removeprefix("http://").split(":")
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10.0)  # the accept queue may be full for a moment
    s.connect((host, int(port)))
    s.settimeout(1.0)
    return s


def closed_by_server(s: socket.socket) -> bool:
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_slow_headers_are_cut(cluster):
    s = client_socket(cluster)
    started = time.monotonic()
    request = b"GET /status/ready HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    closed = False
    try:
        for byte in request:  # one byte every 0.1 s: 20 s to finish, never done
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.1)
            if closed_by_server(s):
                closed = True
                break
    finally:
        s.close()
    elapsed = time.monotonic() - started
    assert closed, "the node held a connection whose headers never finished"
    assert elapsed < HEADER_MS / 1000 + 5


def test_idle_connections_are_closed_but_busy_keepalive_is_not(cluster):
    idle = client_socket(cluster)
    busy = client_socket(cluster)
    deadline = time.monotonic() + IDLE_MS / 1000 + 5
    idle_closed = False
    try:
        while time.monotonic() < deadline and not idle_closed:
            busy.sendall(b"GET /status/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            busy.settimeout(5)
            answer = busy.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            idle.settimeout(1.0)
            idle_closed = closed_by_server(idle)
        assert idle_closed, "an idle connection was held past the idle timeout"
        # the connection in use every second outlived the idle timeout
        busy.sendall(b"GET /status/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        assert busy.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        idle.close()
        busy.close()


def _first_answers(held: list[socket.socket]) -> list[bytes]:
    """What each connection was sent unasked (a 429), or b"" for none."""
    time.sleep(1.0)  # well inside the idle timeout: none is closed for idling
    answers = []
    for s in held:
        s.settimeout(0.2)
        try:
            answers.append(s.recv(4096))
        except (TimeoutError, ConnectionResetError):
            answers.append(b"")
    return answers


def test_one_address_cannot_lock_out_the_others(cluster):
    held = [client_socket(cluster, node=3, source=SOURCES[0]) for _ in range(LIMIT + 10)]
    try:
        answers = _first_answers(held)
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 429")]
        assert len(refused) == LIMIT + 10 - PER_ADDRESS, (len(refused), {a[:40] for a in answers})
        assert b"connections from your address" in refused[0]
        # a client from another address is served meanwhile
        status, _ = http_json("GET", cluster.url(3) + "/status/ready")
        assert status == 200
    finally:
        for s in held:
            s.close()


def test_past_the_connection_limit_a_client_gets_429(cluster):
    # from five addresses, each within its share: the node-wide limit refuses the last 50
    held = [client_socket(cluster, node=2, source=SOURCES[i % 5]) for i in range(LIMIT + 50)]
    try:
        answers = _first_answers(held)
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 429")]
        assert len(refused) == 50, (len(refused), {a[:40] for a in answers})
        assert all(b'"error_code":429' in a for a in refused)
        # internal traffic is not counted: node 2 keeps heartbeating and stays unfenced
        status, body = http_json("GET", cluster.v3(1) + "/brokers")
        assert status == 200 and not any(b.get("fenced") for b in body["data"]), body
    finally:
        for s in held:
            s.close()
    time.sleep(1)
    assert http_json("GET", cluster.url(2) + "/status/ready")[0] == 200
