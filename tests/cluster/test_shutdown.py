"""SIGTERM ends a node in seconds, also when every node is stopping at once (the
controller's in-flight calls and other nodes' long polls must not hold it up)."""

from __future__ import annotations

import signal
import time

import pytest

from cluster_client import create_topic
from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster
EXIT_BOUND_S = 20  # the test harness kills after this; before the fix a node took ~60 s


def test_all_nodes_stopped_at_once_exit_cleanly_and_soon():
    with LocalCluster(3) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        for i in range(3):
            create_topic(c, f"stop-{i}", partitions=3)
        started = time.monotonic()
        for proc in c.procs.values():
            proc.send_signal(signal.SIGTERM)
        took = {}
        for node_id, proc in c.procs.items():
            proc.wait(timeout=EXIT_BOUND_S + 5)
            took[node_id] = time.monotonic() - started
            assert proc.returncode == 0, (node_id, c.log_path(node_id).read_text()[-2000:])
        assert max(took.values()) < EXIT_BOUND_S, took
