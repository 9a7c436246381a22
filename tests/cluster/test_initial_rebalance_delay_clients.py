"""group.initial.rebalance.delay.ms with real confluent-kafka consumers and REST consumer
instances: two members that start together form the group's first generation together
(one rebalance), as against Kafka with its default of 3 s. Nodes in this process
(InProcessCluster)."""

from __future__ import annotations

import time

import pytest
from cluster_client import create_topic
from consumer_client import Consumer
from inproc_cluster import InProcessCluster

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

DELAY_MS = 3_000
TOPIC = "delayed-first-rebalance"
PARTITIONS = 4
POLLS = 120  # 0.25 s each per consumer: a bound far above the 3 s delay


@pytest.fixture(scope="module")
def cluster():
    # few offsets partitions: quick to create, and to close at the end
    groups = {"group.initial.rebalance.delay.ms": DELAY_MS, "offsets.topic.num.partitions": 3}
    with InProcessCluster(nodes=3, groups=groups) as c:
        c.start().wait_ready(timeout_s=40)
        create_topic(c, TOPIC, PARTITIONS)
        yield c


class Member:
    """A consumer that records every assignment its rebalance callback is given."""

    def __init__(self, c, group: str, name: str):
        self.assignments: list[list[int]] = []
        self.consumer = confluent_kafka.Consumer({
            "bootstrap.servers": c.bootstrap_servers, "group.id": group, "client.id": name,
            "partition.assignment.strategy": "range", "session.timeout.ms": 10_000,
            "enable.auto.commit": False})
        self.consumer.subscribe([TOPIC], on_assign=self._assigned)

    def _assigned(self, consumer, partitions) -> None:
        self.assignments.append(sorted(p.partition for p in partitions))


def test_two_consumers_started_within_the_delay_get_one_rebalance(cluster):
    first = Member(cluster, "delay-group", "first")
    try:
        first.consumer.poll(0.25)  # its JoinGroup is in: the group is waiting
        second = Member(cluster, "delay-group", "second")
        try:
            for _ in range(POLLS):
                if first.assignments and second.assignments:
                    break
                first.consumer.poll(0.25)
                second.consumer.poll(0.25)
            # without the delay `first` would have owned all four partitions, then been
            # revoked and given two when `second` joined: two assignments, not one
            assert len(first.assignments) == 1 and len(second.assignments) == 1, (
                first.assignments, second.assignments)
            assert sorted(first.assignments[0] + second.assignments[0]) == list(range(PARTITIONS))
            assert len(first.assignments[0]) == len(second.assignments[0]) == PARTITIONS // 2
            # and no second rebalance follows: both keep their share
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                first.consumer.poll(0.1)
                second.consumer.poll(0.1)
            assert len(first.assignments) == 1 and len(second.assignments) == 1
        finally:
            second.consumer.close()
    finally:
        first.consumer.close()


def test_rest_instances_subscribing_within_the_delay_share_the_first_generation(cluster):
    first = Consumer.create(cluster, "delay-rest", "first")
    second = Consumer.create(cluster, "delay-rest", "second", node=2)
    try:
        first.subscribe([TOPIC])
        # without the delay the proxy's join would have given it every partition at once
        alone = first.assignment()
        second.subscribe([TOPIC])
        for _ in range(POLLS):  # records calls, as a REST client polls
            first.records(timeout_ms=200)
            second.records(timeout_ms=200)
            if first.assignment() and second.assignment():
                break
        assert alone == set(), alone  # the group waits for more members
        everything = {(TOPIC, p) for p in range(PARTITIONS)}
        assert first.assignment() | second.assignment() == everything
        assert len(first.assignment()) == len(second.assignment()) == PARTITIONS // 2
    finally:
        first.delete()
        second.delete()
