"""Hundreds of partitions on real node processes: what must hold at any size.

A node killed and started again is back in every ISR; a cluster stopped and started
whole takes acks=all writes on every partition again; and the leaders' ISR changes
leave many to a request, not one each (Kafka's AlterPartitionManager). The waits are
bounded by what the cluster must reach, on a busy two-core machine.
"""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

TOPICS, PER_TOPIC = 4, 100  # 400 partitions, RF 3: every node is a replica of each
BOUND_S = 240.0  # what the cluster must reach; two cores shared with the rest of the suite


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3, topic_defaults={"min.insync.replicas": 2}) as c:
        c.start()
        c.wait_ready(timeout_s=120)
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
        futures = admin.create_topics([NewTopic(f"scale-{i}", PER_TOPIC, 3) for i in range(TOPICS)],
                                      operation_timeout=60)
        for future in futures.values():
            future.result()
        c.wait_until(lambda: not missing_from_isrs(c), BOUND_S, "every ISR whole after creation", 1.0)
        yield c


def partitions(c: LocalCluster) -> dict[tuple[str, int], tuple[int, list[int]]]:
    """(topic, partition) -> (leader, ISR), as the cluster's metadata says now."""
    meta = AdminClient({"bootstrap.servers": c.bootstrap_servers}).list_topics(timeout=20).topics
    return {(t, p.id): (p.leader, list(p.isrs)) for t in (f"scale-{i}" for i in range(TOPICS))
            if t in meta for p in meta[t].partitions.values()}


def missing_from_isrs(c: LocalCluster, node: int | None = None) -> int:
    """Partitions whose ISR lacks `node` (None: lacks any of the three)."""
    seen = partitions(c)
    if len(seen) < TOPICS * PER_TOPIC:
        return TOPICS * PER_TOPIC
    return sum(1 for _, isr in seen.values() if (node not in isr if node else len(isr) < 3))


def write_everywhere(c: LocalCluster) -> tuple[int, list[str]]:
    """One acks=all record to every partition: (delivered, errors)."""
    producer = Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all", "linger.ms": 5,
                         "message.timeout.ms": int(BOUND_S * 1000 / 2)})
    delivered, errors = [0], []

    def done(err, _msg):
        if err is None:
            delivered[0] += 1
        else:
            errors.append(str(err))
    for t in range(TOPICS):
        for p in range(PER_TOPIC):
            producer.produce(f"scale-{t}", b"x", partition=p, on_delivery=done)
            producer.poll(0)
    producer.flush(BOUND_S)
    return delivered[0], errors


def isr_counters(c: LocalCluster) -> tuple[float, float]:
    """(AlterPartition requests, ISR changes in them) summed over the running nodes."""
    requests = changes = 0.0
    for n in c.hosts:
        if not c.running(n):
            continue
        text = _metrics(c, n)
        requests += _value(text, "kraft_isr_change_requests_total")
        changes += _value(text, "kraft_isr_changes_sent_total")
    return requests, changes


def _metrics(c: LocalCluster, node: int) -> str:
    with urllib.request.urlopen(c.url(node) + "/metrics", timeout=10) as answer:
        return answer.read().decode()


def _value(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_node_killed_and_started_again_is_back_in_every_isr_in_few_requests(cluster):
    c = cluster
    c.wait_until(lambda: not missing_from_isrs(c), BOUND_S, "every ISR whole", 1.0)
    delivered, errors = write_everywhere(c)
    assert (delivered, errors) == (TOPICS * PER_TOPIC, [])
    leaders: dict[int, int] = {}
    for leader, _ in partitions(c).values():
        leaders[leader] = leaders.get(leader, 0) + 1
    node = max(leaders, key=lambda n: leaders[n])
    c.kill(node)
    # fenced: the others lead everything and have taken it out of every ISR
    c.wait_until(lambda: missing_from_isrs(c, node) == TOPICS * PER_TOPIC, BOUND_S, f"node {node} out of every ISR",
                 1.0)
    before = isr_counters(c)
    c.start_node(node)
    c.wait_ready([node], timeout_s=BOUND_S)
    c.wait_until(lambda: missing_from_isrs(c, node) == 0, BOUND_S, f"node {node} back in every ISR", 1.0)
    requests, changes = (a - b for a, b in zip(isr_counters(c), before))
    # 400 partitions took it back: one request per controller round carries them, not one each
    assert changes >= TOPICS * PER_TOPIC and requests * 10 <= changes, (requests, changes)
    delivered, errors = write_everywhere(c)
    assert (delivered, errors) == (TOPICS * PER_TOPIC, [])


def test_a_cluster_stopped_and_started_whole_takes_acks_all_writes_everywhere(cluster):
    c = cluster
    c.wait_until(lambda: not missing_from_isrs(c), BOUND_S, "every ISR whole", 1.0)
    c.stop_all(timeout_s=120)
    c.start()
    c.wait_ready(timeout_s=BOUND_S)
    # what `kraft up` waits for: every partition at its min.insync.replicas again
    c.wait_until(lambda: c.get(1, "/status/ready?acks=all", 10.0)[0] == 200, BOUND_S, "acks=all writable", 1.0)
    started = time.monotonic()
    delivered, errors = write_everywhere(c)
    assert (delivered, errors) == (TOPICS * PER_TOPIC, []), f"after {time.monotonic() - started:.0f} s"
    c.wait_until(lambda: not missing_from_isrs(c), BOUND_S, "every ISR whole again", 1.0)
