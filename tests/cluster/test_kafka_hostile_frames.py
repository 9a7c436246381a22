"""Hostile Kafka request frames against real brokers, plain and over TLS: lengths far
beyond the frame, unknown tagged fields, nulls in every array of every served request.
A broker stays up, serves the next client, and logs no ERROR and no traceback for them."""

from __future__ import annotations

import socket
import ssl
import struct
import sys
from pathlib import Path

import pytest
from certs import Authority
from kafka_wire import closed_by_broker, recv_frame

from kraft.server.local_cluster import LocalCluster, default_first_address, security_toml

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from kafka_request_samples import array_paths, request_frame, served_versions, sized  # noqa: E402

from kraft.kafka.wire.codec import load_request_schema  # noqa: E402

pytestmark = pytest.mark.cluster

REPORTED = {"metadata-v12": "0003000c00000007ffff00ffffffff0f",
            "describe-configs-v4": "0020000400000007ffff00ffffffff0f"}
API_VERSIONS_V3 = bytes.fromhex("0012000300000001ffff00") + b"\x02k\x021\x00"  # name "k", version "1"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=90)
        yield c


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder)
    first = default_first_address() + 4  # beside the plain cluster's addresses
    cert, key = ca.issue("node", "kraft-node", [f"127.0.0.{i}" for i in range(first, first + 4)])
    security = security_toml({"admin": "admin-password"}, tls_cert=str(cert), tls_key=str(key),
                             tls_ca=str(ca.ca_path), tls_client_auth="requested")
    with LocalCluster(nodes=3, extra_toml=security, first_address=first,
                      headers={"Authorization": "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ="}) as c:
        c.tls = ssl.create_default_context(cafile=str(ca.ca_path))
        c.start().wait_ready(timeout_s=90)
        yield c


def _connect(c, node: int = 1) -> socket.socket:
    conf = c.config.node(node)
    s = socket.create_connection((conf.host, conf.kafka_port), timeout=20)
    tls = getattr(c, "tls", None)
    return tls.wrap_socket(s, server_hostname=conf.host) if tls else s


def _still_serves(c, node: int = 1) -> None:
    """The node's process is alive and a new client gets its ApiVersions answer."""
    assert c.procs[node].poll() is None, c.log_tail(node, 40)
    with _connect(c, node) as s:
        s.sendall(sized(API_VERSIONS_V3))
        answer = recv_frame(s)
    assert struct.unpack_from(">i", answer)[0] == 1  # the correlation id


def _no_error_logged(c) -> None:
    for node in c.procs:
        text = c.log_path(node).read_text(errors="replace")
        bad = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]
        assert not bad, bad[:5]


@pytest.mark.parametrize("name", REPORTED)
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_the_reported_frames_are_refused_and_the_broker_stays_up(name, transport, request):
    c = request.getfixturevalue("cluster" if transport == "plain" else "tls_cluster")
    with _connect(c) as s:
        s.sendall(sized(bytes.fromhex(REPORTED[name])))
        assert closed_by_broker(s)
    _still_serves(c)
    _no_error_logged(c)


def _with_unknown_tags(frame: bytes, header_tags_at: int) -> bytes:
    """Tag 99 (3 bytes) added to the header's empty tagged section and the body's last one."""
    assert frame[header_tags_at] == 0 and frame[-1] == 0
    tag = b"\x01\x63\x03abc"
    return frame[:header_tags_at] + tag + frame[header_tags_at + 1:-1] + tag


def test_unknown_tagged_fields_in_header_and_body_are_skipped_and_the_request_served(cluster):
    plain = request_frame(3, 12, correlation_id=41)  # Metadata v12 (topic "s")
    tagged = _with_unknown_tags(plain, 8 + 2 + len("sample"))
    with _connect(cluster) as s:
        for correlation in (41, 41):  # twice: the connection stays open after the first
            s.sendall(sized(tagged))
            assert struct.unpack_from(">i", recv_frame(s))[0] == correlation
    _no_error_logged(cluster)


def _answered_or_closed(s: socket.socket, frame: bytes) -> bool:
    """True when an answer with the frame's correlation id came back, False when the
    broker closed the connection."""
    s.sendall(sized(frame))
    try:
        answer = recv_frame(s)
    except (ConnectionError, OSError):
        return False
    assert answer[:4] == frame[4:8]
    return True


def test_a_null_in_every_array_of_every_served_request(cluster):
    """Nullable arrays reach their handler and are answered; others close the connection
    (one INFO line). Never an ERROR or a traceback."""
    answered = refused = 0
    s = _connect(cluster)
    try:
        for key, version in served_versions():
            for path in array_paths(load_request_schema(key, version)):
                if _answered_or_closed(s, request_frame(key, version, correlation_id=9, null_at=path)):
                    answered += 1
                    continue
                refused += 1
                s.close()
                s = _connect(cluster)
    finally:
        s.close()
    assert answered > 30 and refused > 300
    _still_serves(cluster)
    _no_error_logged(cluster)
