"""Stopping a node with Kafka clients connected is clean: the connections are cut, the
node exits 0, and its log holds no error for them (an operator reads ERROR as a fault)."""

from __future__ import annotations

import socket

import pytest

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster


def test_a_node_stopped_with_open_kafka_connections_exits_without_logged_errors():
    with LocalCluster(1) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        host, port = c.bootstrap_servers.split(",")[0].rsplit(":", 1)
        idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(20)]
        half = socket.create_connection((host, int(port)), timeout=5)
        half.sendall(b"\x00\x00\x00\x40\x00\x12")  # a request's first bytes, the rest never comes
        try:
            assert c.stop(1) == 0
            for s in idle + [half]:
                assert s.recv(1) == b""  # the node closed it
        finally:
            for s in idle + [half]:
                s.close()
        errors = [line for line in c.log_path(1).read_text().splitlines() if " ERROR " in line]
        assert not errors, errors
