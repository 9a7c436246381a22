"""A partition leader killed with SIGKILL while confluent-kafka (librdkafka) produces with
acks=all and idempotence: the client fails over on its own (NOT_LEADER_OR_FOLLOWER,
metadata refresh, the new leader) and every message it was told was delivered is in
the log exactly once; none is written twice by its retries."""

from __future__ import annotations

import base64
import collections
import time

import pytest
from cluster_client import V2_BINARY, call, create_topic

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

MESSAGES = 3000
KILL_AFTER = 1000
PARTITIONS = 3


def leader(c, topic: str, partition: int, via: int) -> int:
    status, body = call("GET", f"{c.url(via)}/topics/{topic}/partitions/{partition}")
    assert status == 200, body
    return body["leader"]


def read_all(c, topic: str, partition: int, via: int) -> list[bytes]:
    out: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = call("GET", f"{c.url(via)}/topics/{topic}/partitions/{partition}/records"
                                   f"?offset={len(out)}&timeout=0&max_bytes=1000000",
                            headers={"Accept": V2_BINARY})
        assert status == 200, body
        if not body:
            return out
        out.extend(base64.b64decode(r["value"]) for r in body)
    raise AssertionError(f"{topic}-{partition} not read to its end in 60 s")


def test_kill_9_of_a_leader_during_an_idempotent_acks_all_run_loses_and_duplicates_nothing():
    with LocalCluster(nodes=3, topic_defaults={"min.insync.replicas": 2}) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "failover", PARTITIONS)
        victim = leader(c, "failover", 0, via=1)
        producer = confluent_kafka.Producer({
            "bootstrap.servers": c.bootstrap_servers, "acks": "all", "enable.idempotence": True,
            "linger.ms": 5, "message.timeout.ms": 90000, "request.timeout.ms": 10000,
            "topic.metadata.refresh.interval.ms": 1000})
        delivered: list[bytes] = []
        failed: list[str] = []

        def on_delivery(err, msg):
            if err is None:
                delivered.append(msg.value())
            else:
                failed.append(str(err))

        killed_at = None
        for i in range(MESSAGES):
            producer.produce("failover", value=f"m-{i}".encode(), partition=i % PARTITIONS, on_delivery=on_delivery)
            producer.poll(0)
            if i % 50 == 0:
                time.sleep(0.02)  # a steady stream, so the kill lands mid-run
            if killed_at is None and len(delivered) >= KILL_AFTER:
                c.kill(victim)
                killed_at = i
        remaining = producer.flush(120)
        assert killed_at is not None, "the run ended before the kill"
        print(f"killed node {victim} after message {killed_at}; delivered {len(delivered)}")
        assert remaining == 0, f"{remaining} messages still in flight after 120 s"

        reader = next(n for n in (1, 2, 3) if n != victim)
        stored = collections.Counter(v for p in range(PARTITIONS) for v in read_all(c, "failover", p, reader))
        twice = [v for v, n in stored.items() if n > 1]
        lost = [v for v in delivered if v not in stored]
        assert not twice, f"{len(twice)} messages stored more than once, e.g. {twice[:5]}"
        assert not lost, f"{len(lost)} delivered messages missing, e.g. {lost[:5]}"
        assert len(delivered) + len(failed) == MESSAGES
        # with two of three replicas alive and min.insync.replicas=2, librdkafka's retries
        # get every message through
        assert not failed, failed[:5]
        assert leader(c, "failover", 0, via=reader) != victim
