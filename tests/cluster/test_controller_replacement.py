"""docs/DEPLOY.md's "Replacing a controller's machine", step by step with the `kraft`
commands it names, on real node processes: a controller-and-broker machine dies; its
voter seat goes to a new machine and its broker's replicas move there, so no partition
stays under-replicated; then the dead machine comes back with its old data, and its node
says why it is not admitted and exits non-zero (2: a service manager does not restart it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster
TOPIC = "replacement-orders"


def without_node(text: str, node_id: int) -> str:
    blocks = text.split("\n[[nodes]]\n")
    return "\n[[nodes]]\n".join(b for b in blocks if not b.startswith(f"id = {node_id}\n"))


def kraft(c: LocalCluster, via: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraft", *args, "--bootstrap", c.url(via)],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "COLUMNS": "200"})


def quorum(c: LocalCluster, via: int) -> dict:
    status, body = http_json("GET", c.v3(via) + "/quorum", timeout=10)
    assert status == 200, body
    return body


def replicas(c: LocalCluster, via: int) -> list[list[int]]:
    status, body = http_json("GET", f"{c.v3(via)}/topics/{TOPIC}/partitions", timeout=10)
    assert status == 200, body
    return [p["replica_ids"] for p in body["data"]]


def under_replicated(c: LocalCluster, via: int) -> list:
    status, health = http_json("GET", c.url(via) + "/v1/cluster/health_overview", timeout=10)
    assert status == 200, health
    return health["under_replicated_partitions"]


def observer_caught_up(c: LocalCluster, via: int, node_id: int) -> bool:
    return any(o["node_id"] == node_id and o.get("lag") == 0 for o in quorum(c, via)["observers"])


@pytest.fixture(scope="module")
def cluster():
    """Controllers 1-3 (also brokers) from a file that never names node 4, the new machine."""
    with LocalCluster(nodes=4, controllers=4) as c:
        three = c.config_path.with_name("three-nodes.toml")
        three.write_text(without_node(c.config_path.read_text(), 4))
        c.node_config_paths.update({1: three, 2: three, 3: three})
        c.start([1, 2, 3]).wait_ready([1, 2, 3], timeout_s=90)
        yield c


def test_the_replacement_runbook_leaves_nothing_under_replicated_and_the_old_node_out(cluster):
    c = cluster
    status, body = http_json("POST", c.v3(1) + "/topics", {
        "topic_name": TOPIC, "partitions_count": 3, "replication_factor": 3,
        "configs": [{"name": "min.insync.replicas", "value": "2"}]}, timeout=30)
    assert status == 201, body
    c.wait_until(lambda: not under_replicated(c, 1), 60, "the topic fully replicated")
    dead = next(n for n in (1, 2, 3) if n != c.raft_leader())  # a follower: no election to wait for
    via = next(n for n in (1, 2, 3) if n != dead)
    c.kill(dead)
    c.wait_until(lambda: under_replicated(c, via), 60, "the dead broker's partitions under-replicated")

    # 1. the dead voter out
    done = kraft(c, via, "quorum", "remove-voter", str(dead))
    assert done.returncode == 0, done.stderr
    # 2. the new machine joins as an observer and catches up; 3. it takes the seat
    c.start_node(4)
    c.wait_ready([4], timeout_s=90)
    c.wait_until(lambda: observer_caught_up(c, via, 4), 60, "node 4 an observer with lag 0")
    done = kraft(c, via, "quorum", "add-voter", "4")
    assert done.returncode == 0, done.stderr
    # 4. the dead broker's replicas move to the others (the new machine among them)
    done = kraft(c, via, "broker", "decommission", str(dead))
    assert done.returncode == 0, done.stderr
    c.wait_until(lambda: f"broker {dead}: decommissioned" in kraft(c, via, "broker", "status", str(dead)).stdout,
                 120, f"broker {dead} decommissioned")
    c.wait_until(lambda: not under_replicated(c, via), 60, "no partition under-replicated")
    assert all(dead not in r and len(r) == 3 for r in replicas(c, via)), replicas(c, via)
    assert sorted(v["node_id"] for v in quorum(c, via)["voters"]) == sorted({1, 2, 3, 4} - {dead})

    # the dead machine comes back with its old data: refused, told why, and it stops
    c.start_node(dead)
    deadline = time.monotonic() + 90
    while c.running(dead) and time.monotonic() < deadline:
        time.sleep(0.5)
    log = c.log_path(dead).read_text()
    assert not c.running(dead), f"node {dead} still running, not told it was removed:\n{c.log_tail(dead, 10)}"
    assert c.procs[dead].returncode == 2, log[-2000:]
    assert f"node {dead} is not a voter of the controller quorum" in log, log[-2000:]
    assert f"kraft quorum add-voter {dead}" in log and "Traceback" not in log.split("refuses to start")[-1]
    # the cluster did not notice
    assert not under_replicated(c, via)
