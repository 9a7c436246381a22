"""What a connection gets before it logs in on a SASL listener: small frames
(sasl.server.max.receive.size), nothing decoded but SASL's own requests (ApiVersions,
SaslHandshake, SaslAuthenticate), and a deadline to log in by
(sasl.server.authentication.timeout.ms)."""

from __future__ import annotations

import base64
import socket
import struct
import time

import pytest
from kafka_wire import closed_by_broker, kafka_socket, recv_frame, request_frame, sasl_plain

from kraft.server.local_cluster import LocalCluster, security_toml

pytestmark = pytest.mark.cluster

LOGIN_DEADLINE_MS = 4000
BEFORE_LOGIN_MAX = 524288  # Kafka's sasl.server.max.receive.size
USERS = {"admin": "admin-password"}
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=1, extra_toml=security_toml(USERS, **{"sasl.enabled.mechanisms": ["PLAIN"]}),
                      headers=ADMIN_HTTP, topic_defaults={"replication.factor": 1},
                      cluster={"sasl.server.authentication.timeout.ms": LOGIN_DEADLINE_MS}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def _api_versions(correlation_id: int, padded_to: int = 0) -> bytes:
    """ApiVersions v3, its frame padded with trailing bytes (which a broker ignores)."""
    frame = request_frame(18, 3, correlation_id, client_software_name="t", client_software_version="1")
    padding = max(0, padded_to - (len(frame) - 4))
    return struct.pack(">i", len(frame) - 4 + padding) + frame[4:] + b"\0" * padding


def _closing_reason(cluster, s: socket.socket) -> str:
    """The reason the broker logged for closing this socket's connection (waits for it)."""
    host, port = s.getsockname()
    marker = f"closing a Kafka connection from {host}:{port}: "
    found: list[str] = []

    def logged() -> bool:
        found[:] = [line for line in cluster.log_path(1).read_text(errors="replace").splitlines() if marker in line]
        return bool(found)
    cluster.wait_until(logged, 30, f"the broker's reason for closing {host}:{port}")
    return found[0].split(marker, 1)[1]


def _answered(s: socket.socket) -> bool:
    try:
        recv_frame(s)
        return True
    except (ConnectionError, OSError):
        return False


def test_a_frame_over_the_login_budget_closes_the_connection(cluster):
    s = kafka_socket(cluster)
    try:
        s.sendall(_api_versions(1))
        assert _answered(s)  # a small frame is served before the login
        s.sendall(_api_versions(2, padded_to=BEFORE_LOGIN_MAX + 1))
        assert not _answered(s)
        assert _closing_reason(cluster, s) == f"frame of {BEFORE_LOGIN_MAX + 1} bytes (limit {BEFORE_LOGIN_MAX})"
    finally:
        s.close()
    s = kafka_socket(cluster)
    try:
        sasl_plain(s, "admin", USERS["admin"])
        s.sendall(_api_versions(3, padded_to=2 * BEFORE_LOGIN_MAX))  # once logged in: the usual limit
        assert _answered(s)
    finally:
        s.close()


def test_a_request_before_login_is_refused_from_its_header(cluster):
    # Metadata v12 whose topic array claims 2^32 - 2 entries: refused unread, not decoded
    s = kafka_socket(cluster)
    try:
        s.sendall(struct.pack(">i", 16) + bytes.fromhex("0003000c00000007ffff00ffffffff0f"))
        assert not _answered(s)
        assert _closing_reason(cluster, s).startswith("API key 3 without a current SASL authentication")
    finally:
        s.close()
    # a Metadata header whose body never comes: refused without waiting for it
    s = kafka_socket(cluster)
    try:
        s.sendall(struct.pack(">i", 400_000) + bytes.fromhex("0003000c00000008"))
        assert not _answered(s)
        assert _closing_reason(cluster, s).startswith("API key 3 without a current SASL authentication")
    finally:
        s.close()


def test_a_connection_that_does_not_log_in_is_closed_at_the_deadline(cluster):
    silent = kafka_socket(cluster)  # its deadline runs while the chatty one talks
    chatty = kafka_socket(cluster)  # answered, and still closed: only a login counts
    try:
        answers = 0
        for correlation_id in range(1, 600):  # bounded: the deadline ends it long before
            try:
                chatty.sendall(_api_versions(correlation_id))
            except OSError:
                break
            if not _answered(chatty):
                break
            answers += 1
            time.sleep(0.05)  # a client that keeps talking, but never logs in
        assert answers >= 1
        assert _closing_reason(cluster, chatty) == f"not authenticated within {LOGIN_DEADLINE_MS / 1000:g} s"
        silent.settimeout(60)
        assert closed_by_broker(silent)
        assert _closing_reason(cluster, silent) == f"not authenticated within {LOGIN_DEADLINE_MS / 1000:g} s"
    finally:
        silent.close()
        chatty.close()
