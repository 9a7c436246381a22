"""A voter whose data dir was wiped loses no committed metadata (issue 61), on real node
processes. Raft's safety rests on every voter keeping what it acknowledged: a voter
back with an empty log grants any candidate its vote. So: A leads and commits topic X
with C while B is paused (B never gets X); C is killed and wiped; A goes down; B comes
back and C starts again with an empty log. With C's vote B would lead without X, and X
would be gone from the cluster. C votes for no one until it has caught up from a leader:
B cannot be elected; once A is back, A leads, C catches up and votes again, and X is on
every node."""

from __future__ import annotations

import shutil
import time

import pytest

from kraft.config.data_dir import format_data_dir, read_identity
from kraft.server.launcher import prepare_data_dirs
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster
# long enough for several of B's elections (timeouts 0.4-1.4 s), were C's vote granted
NO_LEADER_WATCH_S = 8.0


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=90)
        yield c


def quorum_of(c, node_id) -> dict | None:
    try:
        status, body = http_json("GET", c.v3(node_id) + "/quorum", timeout=3.0)
    except OSError:
        return None
    return body if status == 200 else None


def topics_of(c, node_id) -> set[str]:
    status, body = http_json("GET", c.v3(node_id) + "/topics", timeout=10)
    assert status == 200, body
    return {t["topic_name"] for t in body["data"]}


@pytest.mark.parametrize("formatted_by", ["kraft up", "hand"])
def test_a_wiped_voter_cannot_elect_a_leader_that_lacks_committed_metadata(cluster, formatted_by):
    c = cluster
    c.wait_until(lambda: c.raft_leader() is not None, 60, "a Raft leader")
    a = c.raft_leader()
    b, wiped = [n for n in (1, 2, 3) if n != a]
    topic = f"committed-without-b-{formatted_by.replace(' ', '-')}"
    c.pause(b)
    try:
        status, body = http_json("POST", c.v3(a) + "/topics",
                                 {"topic_name": topic, "partitions_count": 1, "replication_factor": 2}, timeout=30)
        assert status == 201, body  # committed by A and C
        identity = read_identity(c.config.node(wiped).data_path)
        c.kill(wiped)
        shutil.rmtree(c.config.node(wiped).data_path)
        c.kill(a)
    finally:
        c.resume(b)
    if formatted_by == "kraft up":
        prepare_data_dirs(c.config)  # as `kraft up` formats an empty dir beside formatted ones
    else:  # formatted by hand with the cluster's id: only the running controllers can tell
        assert identity is not None
        format_data_dir(c.config.node(wiped).data_path, identity.cluster_id, wiped, identity.raft_password)
    c.start_node(wiped)
    c.wait_until(lambda: quorum_of(c, wiped) is not None, 60, f"node {wiped}'s HTTP port")
    watched_until = time.monotonic() + NO_LEADER_WATCH_S
    while time.monotonic() < watched_until:
        for node_id in (b, wiped):
            seen = quorum_of(c, node_id)
            # (B, just resumed, may still name A until its election timer runs out)
            assert seen is None or seen["leader_id"] not in (b, wiped), \
                f"node {node_id} sees leader {seen['leader_id']} elected without node {a}, which holds {topic}"
        time.sleep(0.2)
    seen = quorum_of(c, wiped)
    assert seen is not None and seen["answered_by_voter"] is False, seen  # catching up, not voting
    c.start_node(a)
    c.wait_ready(timeout_s=90)
    for node_id in (1, 2, 3):
        c.wait_until(lambda: topic in topics_of(c, node_id), 30, f"{topic} on node {node_id}")
    c.wait_until(lambda: (quorum_of(c, wiped) or {}).get("answered_by_voter") is True, 30,
                 f"node {wiped} voting again once caught up")
    assert not (c.config.node(wiped).data_path / "__cluster_metadata" / "catch-up-first").exists()
    # the quorum takes writes again. Placing three replicas also needs the controller to
    # count three unfenced brokers: a broker whose heartbeats lapsed while the voters
    # changed is fenced until its next one, which answers 42206 meanwhile
    answers = []

    def created() -> bool:
        status, body = http_json("POST", c.v3(wiped) + "/topics",
                                 {"topic_name": topic + "-after", "partitions_count": 1, "replication_factor": 3},
                                 timeout=30)
        answers.append((status, body))
        assert status == 201 or "available brokers" in str(body), body
        return status == 201
    c.wait_until(created, 60, "an RF-3 topic created")
    assert answers[-1][0] == 201, answers
