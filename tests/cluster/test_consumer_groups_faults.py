"""Consumer groups when the coordinator's node dies: committed offsets survive kill -9.

Its own cluster (the kill ruins a shared one). A user's view: the instance that lived on
the dead coordinator answers 50003 (retriable) for a moment and then 40403; the user
recreates it through another node and it resumes exactly at the group's committed
offsets: nothing skipped, and only what was consumed after the last commit comes again.
"""

from __future__ import annotations

import time

import pytest
from cluster_client import V2_JSON, assert_envelope, call, create_topic
from consumer_client import GROUPS, Consumer, coordinator_of, http, produce_keyed

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

GROUP = "resumers"
TOPIC = "resume"
PARTITIONS = 3


def log_contents(c, node, topic, partition):
    """Every record of a partition, read by offset: [(offset, key)]."""
    out, offset = [], 0
    for _ in range(100):  # bounded: a few hundred records at most
        status, body = call("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/records"
                                   f"?offset={offset}&timeout=0", headers={"Accept": V2_JSON})
        assert status == 200, body
        if not body:
            return out
        out += [(r["offset"], r["key"]) for r in body]
        offset = body[-1]["offset"] + 1
    raise AssertionError(f"{topic}-{partition} did not end")


def by_partition(records):
    out = {p: [] for p in range(PARTITIONS)}
    for r in records:
        out[r["partition"]].append((r["offset"], r["key"]))
    return out


def test_commit_kill_9_the_coordinator_and_resume_through_another_node():
    with LocalCluster(3, first_address=70, groups=GROUPS) as c:
        c.start()
        c.wait_ready(timeout_s=40)
        create_topic(c, TOPIC, PARTITIONS)
        placed = produce_keyed(c, TOPIC, [f"k{i:03d}" for i in range(45)])
        assert {p for p, _ in placed.values()} == set(range(PARTITIONS)), placed

        r = Consumer.create(c, GROUP, "r", {"auto.offset.reset": "earliest"})
        r.subscribe([TOPIC])
        assert r.assignment() == {(TOPIC, p) for p in range(PARTITIONS)}
        consumed = []
        for _ in range(4):  # max_bytes=1: one batch (= one record here) per partition per poll
            consumed += r.records(timeout_ms=500, max_bytes=1)
        assert 8 <= len(consumed) <= 12, consumed
        r.commit()  # empty body: the current positions
        committed = {p: 0 for p in range(PARTITIONS)}
        for rec in consumed:
            committed[rec["partition"]] = max(committed[rec["partition"]], rec["offset"] + 1)
        assert r.committed() == {(TOPIC, p): o for p, o in committed.items()}
        uncommitted = []
        for _ in range(2):  # consumed but never committed: these must come again
            uncommitted += r.records(timeout_ms=500, max_bytes=1)
        assert uncommitted, "nothing read after the commit"

        dead = coordinator_of(c, GROUP)
        survivor = min(n for n in (1, 2, 3) if n != dead)
        c.kill(dead)

        # the instance lived on the dead node: retriable for a moment, then 40403, never else
        seen, deadline = [], time.monotonic() + 40
        while time.monotonic() < deadline:
            status, body = http("GET", r.url(survivor, "/assignments"), timeout=15)
            seen.append(status)
            if status == 404:
                assert_envelope(status, body, 40403)
                break
            assert (status, body["error_code"]) == (500, 50003), (status, body)  # retriable
            time.sleep(0.2)
        assert seen[-1] == 404, f"the dead coordinator's instance never answered 40403: {seen[-10:]}"

        again = Consumer.create(c, GROUP, "r", {"auto.offset.reset": "earliest"}, node=survivor)
        assert coordinator_of(c, GROUP, survivor) != dead
        again.subscribe([TOPIC])
        assert again.committed() == {(TOPIC, p): o for p, o in committed.items()}, \
            "the new coordinator lost committed offsets"
        more = produce_keyed(c, TOPIC, [f"after{i}" for i in range(9)], node=survivor)
        logs = {p: log_contents(c, survivor, TOPIC, p) for p in range(PARTITIONS)}
        assert {k for p in logs for _, k in logs[p]} >= set(placed) | set(more)
        expected = {p: [(o, k) for o, k in logs[p] if o >= committed[p]] for p in range(PARTITIONS)}
        total = sum(map(len, expected.values()))

        delivered = []
        deadline = time.monotonic() + 30
        while len(delivered) < total and time.monotonic() < deadline:
            delivered += again.records(timeout_ms=300)
        delivered += again.records(timeout_ms=300)  # and nothing beyond
        assert by_partition(delivered) == expected, (
            f"committed {committed}; re-delivered uncommitted "
            f"{sorted((x['partition'], x['offset']) for x in uncommitted)}")

        # a commit through the new coordinator, then the dead node comes back: nothing regresses
        again.commit()
        final = {(TOPIC, p): len(logs[p]) for p in range(PARTITIONS)}
        assert again.committed() == final
        c.start_node(dead)
        c.wait_ready([dead], timeout_s=40)
        # leadership returns to the preferred replica: the old node coordinates again, loading
        # the commits it missed from its (caught-up) log
        c.wait_until(lambda: coordinator_of(c, GROUP, survivor) == dead, 30,
                     f"node {dead} coordinating {GROUP} again")
        status, body = call("POST", f"{c.url(dead)}/consumers/{GROUP}", {"name": "late", "format": "json",
                            "auto.offset.reset": "none"}, headers={"Content-Type": "application/json"},
                            retry_s=30)
        assert status == 200, body
        late = Consumer(c, GROUP, "late", node=dead)
        late.ok("POST", "/assignments", {"partitions": [{"topic": TOPIC, "partition": p}
                                                        for p in range(PARTITIONS)]})
        assert late.committed() == final, "a committed offset went back after the old coordinator returned"
        assert late.records(timeout_ms=300) == []  # "none" + committed at the end: nothing, no error
