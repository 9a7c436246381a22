"""kraft.testing's group reads while nodes of the cluster are killed and restarted (issue
#61), for a group of two live Kafka consumers with the default assignors (range,
roundrobin). As in Kafka the group lives in its offsets partition, so wherever its
coordinator moves the group is there with its members: REST reads (admin.group_members)
find it at every moment, never 404, and the members keep their partitions without
rejoining. A node just restarted serves REST before its metadata has caught up: it finds
the group too, once it has.

The consumers are librdkafka's (confluent-kafka): kafka-python 3.0's own rebalance bug
(a join answered while no poll waits for it is never taken: no heartbeat, no error) would
stall these tests for its 45 s session timeout now and then, whatever the broker."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer

from kraft.testing import AdminError, Cluster

pytestmark = pytest.mark.cluster

CLIENT_BOUND_S = 60


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=3) as c:
        yield c


class Member:
    """One consumer of the group, polled by its own thread as an application would; what it
    owns and its member id are read after each poll."""

    def __init__(self, cluster: Cluster, topic: str, group: str, name: str):
        self.consumer = Consumer({**cluster.client_config(), "group.id": group, "client.id": name,
                                  "enable.auto.commit": False, "partition.assignment.strategy": "range,roundrobin"})
        self.consumer.subscribe([topic])
        self.owned: frozenset[int] = frozenset()
        self.member_id = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.consumer.poll(0.1)
            self.owned = frozenset(tp.partition for tp in self.consumer.assignment())
            self.member_id = self.consumer.memberid() or ""

    def close(self) -> None:
        self._stop.set()
        self._thread.join(CLIENT_BOUND_S)
        assert not self._thread.is_alive(), "a consumer did not stop polling"
        self.consumer.close()


def member_ids(cluster: Cluster, group: str) -> set[str]:
    return {m["consumer_id"] for m in cluster.admin.group_members(group)}


class GroupReader:
    """Reads the group's members through kraft.testing's admin over and over, on its own
    thread, and keeps what each read answered (the member ids, or the error)."""

    def __init__(self, cluster: Cluster, group: str):
        self.seen: list[set[str] | Exception] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cluster, group), daemon=True)
        self._thread.start()

    def _run(self, cluster: Cluster, group: str) -> None:
        while not self._stop.is_set():
            try:
                self.seen.append(member_ids(cluster, group))
            except (AdminError, OSError) as failed:  # kept, to be shown: a read must never fail
                self.seen.append(failed)
            self._stop.wait(0.05)  # a read every 50 ms or so: enough to see any gap, light on 2 cores

    def stop(self) -> list[set[str] | Exception]:
        self._stop.set()
        self._thread.join(CLIENT_BOUND_S)
        assert not self._thread.is_alive(), "a group read did not end"
        return self.seen


def wait_for(reached, show, bound_s: float = CLIENT_BOUND_S) -> None:
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if reached():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached within {bound_s} s: {show()}")


def balanced_group(cluster: Cluster, topic: str, group: str) -> tuple[list[Member], set[str]]:
    """Two members of the group, one partition each, as the group lists them: (the
    members, their member ids)."""
    members = [Member(cluster, topic, group, f"c{i}") for i in range(2)]
    wait_for(lambda: sorted(m.owned for m in members) == [{0}, {1}]
             and member_ids(cluster, group) == {m.member_id for m in members},
             lambda: [(m.member_id, set(m.owned)) for m in members])
    return members, {m.member_id for m in members}


def assert_every_read_found(seen: list, ids: set[str]) -> None:
    assert seen and all(answer == ids for answer in seen), [a for a in seen if a != ids][:5]


def test_group_reads_find_the_group_and_its_members_while_its_coordinator_is_killed_and_restarted(cluster):
    topic = cluster.new_topic(partitions=2, replication_factor=3)
    group = f"g-failover-{topic}"
    members, ids = balanced_group(cluster, topic, group)
    try:
        before = [m.owned for m in members]
        reader = GroupReader(cluster, group)
        try:
            coordinator = cluster.admin.group_coordinator(group)
            cluster.kill(coordinator)  # the group's offsets partition has another leader now
            assert cluster.admin.group_coordinator(group) != coordinator
            cluster.restart(coordinator)  # and may get its leadership back (the preferred replica)
        finally:
            seen = reader.stop()
        assert_every_read_found(seen, ids)
        # the members carried on in their generation, with the partitions they had
        assert {m.member_id for m in members} == ids and [m.owned for m in members] == before
        assert member_ids(cluster, group) == ids
    finally:
        for m in members:
            m.close()


def test_group_reads_through_a_node_just_restarted_find_the_group(cluster):
    # the first node is the one kraft.testing's admin reads through: once its process runs
    # again, it serves REST before its metadata has caught up with the cluster's
    reading_node = cluster.node_ids[0]
    topic = cluster.new_topic(partitions=2, replication_factor=3)
    group = f"g-restart-{topic}"
    members, ids = balanced_group(cluster, topic, group)
    try:
        reader = GroupReader(cluster, group)
        try:
            cluster.kill(reading_node)
            cluster.restart(reading_node)
        finally:
            seen = reader.stop()
        assert_every_read_found(seen, ids)
    finally:
        for m in members:
            m.close()
