"""A node whose event loop is held for longer than a broker session (what a request
that runs seconds on the loop does) keeps its broker registered: its heartbeats go out
from a thread of their own. Real node processes; the loop frozen from outside by
stopping the process's main thread alone (ptrace), the other threads running on."""

from __future__ import annotations

import os
import re
import time

import pytest
from cluster_client import brokers_unfenced

from kraft.server.local_cluster import http_json
from kraft.server.thread_freeze import FreezeUnavailable

pytestmark = pytest.mark.cluster

FROZEN_S = 6.0  # two broker sessions (3 s each)


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def fenced_in_logs(c, nodes) -> set[int]:
    found: set[int] = set()
    for n in nodes:
        for listed in re.findall(r"fencing brokers \[([\d, ]+)\]: session expired", c.log_path(n).read_text()):
            found |= {int(b) for b in listed.split(",")}
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="freezing one thread of a node takes ptrace, which needs root here")
def test_a_broker_whose_loop_is_held_past_its_session_is_not_fenced(cluster):
    c = cluster
    c.wait_until(lambda: brokers_unfenced(c), 30, "all brokers unfenced")
    controller = c.controller_id(via=1)
    node = next(n for n in (3, 2, 1) if n != controller)  # the broker, not the controller
    others = [n for n in (1, 2, 3) if n != node]
    before = fenced_in_logs(c, others)
    seen_fenced = False
    try:
        with c.freeze_loop(node):
            until = time.monotonic() + FROZEN_S
            while time.monotonic() < until:
                status, body = http_json("GET", c.v3(others[0]) + "/brokers", timeout=2.0)
                if status == 200:
                    seen_fenced |= any(b["broker_id"] == node and b.get("fenced") for b in body["data"])
                time.sleep(0.2)
    except FreezeUnavailable as exc:
        pytest.skip(f"this host cannot freeze a thread: {exc}")
    assert not seen_fenced
    assert fenced_in_logs(c, others) == before, "the controller fenced a broker whose loop was held"
