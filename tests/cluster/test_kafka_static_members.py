"""Static members of classic groups (KIP-345) with librdkafka consumers: a member that
restarts with its group.instance.id within its session takes its partitions back and
the other member is not rebalanced; a second process with the same instance id fences
the first (FENCED_INSTANCE_ID); DescribeGroups names the instance ids. On the shared
3-node cluster."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from cluster_client import create_topic

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import KafkaError  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


class Member:
    """One static consumer, polled by its own thread as an application would."""

    def __init__(self, c, group: str, topic: str, instance: str):
        self.assigned: list[set] = []
        self.revoked: list[set] = []
        self.errors: list[KafkaError] = []
        self.consumer = confluent_kafka.Consumer({
            "bootstrap.servers": c.bootstrap_servers, "group.id": group, "group.instance.id": instance,
            "client.id": instance, "session.timeout.ms": 15000, "heartbeat.interval.ms": 500,
            "auto.offset.reset": "earliest", "partition.assignment.strategy": "range",
            "error_cb": self.errors.append})
        self.consumer.subscribe([topic], on_assign=lambda c, ps: self.assigned.append({p.partition for p in ps}),
                                on_revoke=lambda c, ps: self.revoked.append({p.partition for p in ps}))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self):
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is not None and msg.error():
                self.errors.append(msg.error())
                if msg.error().fatal():
                    return

    def owns(self) -> set:
        return self.assigned[-1] if self.assigned else set()

    def close(self):
        self._stop.set()
        self._thread.join(10)
        try:
            self.consumer.close()  # a static member leaves no LeaveGroup behind (KIP-345)
        except confluent_kafka.KafkaException:
            pass


def wait(predicate, what: str, timeout_s: float = 40):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s}s"
        time.sleep(0.2)


def test_a_static_member_restarts_into_its_own_partitions_without_rebalancing_the_other(cluster):
    c = cluster
    topic, group = f"static-{uuid.uuid4().hex[:6]}", f"static-g-{uuid.uuid4().hex[:6]}"
    create_topic(c, topic, partitions=4)
    a, b = Member(c, group, topic, "inst-a"), Member(c, group, topic, "inst-b")
    try:
        wait(lambda: len(a.owns()) == 2 and len(b.owns()) == 2, "both members assigned two partitions each")
        before_a, before_b = a.owns(), b.owns()
        assigned_a, revoked_a = len(a.assigned), len(a.revoked)
        b.close()
        b2 = Member(c, group, topic, "inst-b")  # the same instance, a new process
        try:
            wait(lambda: b2.owns(), "the restarted member assigned")
            assert b2.owns() == before_b  # its own partitions back
            time.sleep(2)  # a rebalance would show on a within a few heartbeats
            assert (len(a.assigned), len(a.revoked), a.owns()) == (assigned_a, revoked_a, before_a)
            members = describe(c, group)
            assert sorted(m.group_instance_id for m in members) == ["inst-a", "inst-b"]
        finally:
            b2.close()
    finally:
        a.close()


def test_a_second_process_with_the_same_instance_id_fences_the_first(cluster):
    c = cluster
    topic, group = f"fence-{uuid.uuid4().hex[:6]}", f"fence-g-{uuid.uuid4().hex[:6]}"
    create_topic(c, topic, partitions=2)
    first = Member(c, group, topic, "inst-x")
    try:
        wait(lambda: first.owns() == {0, 1}, "the first process assigned")
        second = Member(c, group, topic, "inst-x")
        try:
            wait(lambda: second.owns() == {0, 1}, "the second process takes the instance's partitions")
            wait(lambda: any(e.code() == KafkaError.FENCED_INSTANCE_ID or "fenced" in e.str().lower()
                             for e in first.errors), "the first process told it was fenced", timeout_s=20)
        finally:
            second.close()
    finally:
        first.close()


def describe(c, group: str):
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    [future] = admin.describe_consumer_groups([group]).values()
    return future.result(timeout=20).members
