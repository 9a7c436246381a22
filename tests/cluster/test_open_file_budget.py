"""A node whose `ulimit -n` is far below what its logs would hold open hosts every
partition, takes a record in each, serves them all back, and does so again after a kill -9
and restart: its log files stay within a budget of its open-file limit, the least recently
used closed and opened again when needed (storage/descriptors.py). Without the budget the
logs alone exhaust the limit and every further open fails with "Too many open files"."""

from __future__ import annotations

import contextlib
import re
import resource
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

NOFILE = 600  # the node's limit; its logs may hold 300 open
TOPICS, PER_TOPIC = 8, 100  # 800 logs, each a .log held open while used (and its indexes)
BOUND_S = 120


@contextlib.contextmanager
def _nofile(limit: int):
    """Processes started within inherit this soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _start(c: LocalCluster) -> None:
    with _nofile(NOFILE):
        c.start_node(1)
    limits = Path(f"/proc/{c.procs[1].pid}/limits").read_text()
    assert re.search(rf"Max open files\s+{NOFILE}\s", limits), limits
    c.wait_ready(timeout_s=BOUND_S)


def _metric(c: LocalCluster, name: str) -> float:
    status, text = http_json("GET", c.url(1) + "/metrics")
    assert status == 200
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def _read_all(c: LocalCluster) -> dict[tuple[str, int], bytes]:
    """Every partition's records from the first, by (topic, partition)."""
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "budget-reader",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(f"budget-{t}", p, 0) for t in range(TOPICS) for p in range(PER_TOPIC)])
    seen: dict[tuple[str, int], bytes] = {}
    try:
        for _ in range(BOUND_S * 2):
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is None:
                    seen[(message.topic(), message.partition())] = message.value()
            if len(seen) == TOPICS * PER_TOPIC:
                break
    finally:
        consumer.close()
    return seen


def test_a_node_with_few_file_descriptors_hosts_serves_and_recovers_every_partition():
    with LocalCluster(nodes=1, topic_defaults={"replication.factor": 1}) as c:
        _start(c)
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
        for future in admin.create_topics([NewTopic(f"budget-{t}", PER_TOPIC, 1) for t in range(TOPICS)],
                                          operation_timeout=60).values():
            future.result()
        producer = Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all", "linger.ms": 5,
                             "message.timeout.ms": BOUND_S * 1000 // 2})
        errors: list[str] = []
        for t in range(TOPICS):
            for p in range(PER_TOPIC):
                producer.produce(f"budget-{t}", f"{t}-{p}".encode(), partition=p,
                                 on_delivery=lambda err, _m: err is not None and errors.append(str(err)))
                producer.poll(0)
        assert producer.flush(BOUND_S) == 0 and not errors, errors[:3]
        expected = {(f"budget-{t}", p): f"{t}-{p}".encode() for t in range(TOPICS) for p in range(PER_TOPIC)}
        assert _read_all(c) == expected
        assert _metric(c, "kraft_log_descriptors_open") <= NOFILE // 2
        assert _metric(c, "kraft_log_descriptors_closed_for_room") > 0
        c.kill(1)
        _start(c)  # a restart opens every log again, within the same budget
        assert _read_all(c) == expected
