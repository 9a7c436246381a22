"""CreateTopics and CreatePartitions with the client's own replica assignment: the checks
Kafka makes (INVALID_REPLICA_ASSIGNMENT), and what the partitions look like."""

from __future__ import annotations

import pytest
from test_controller_logic import DEFAULTS, Cluster

from kraft.controller import broker_control as bc
from kraft.controller.topic_control import CreateTopic, create_partitions, create_topic
from kraft.errors import InvalidReplicaAssignment


def create(c: Cluster, name: str, assignments):
    return c.run(create_topic(c.image, CreateTopic(name, assignments=tuple(assignments)), DEFAULTS, f"id-{name}"))


def test_the_replicas_are_the_clients_and_the_first_leads():
    c = Cluster(brokers=(1, 2, 3))
    answer = create(c, "t", [(0, (3, 1)), (1, (2, 3)), (2, (1, 2))])
    assert (answer["partitions_count"], answer["replication_factor"]) == (3, 2)
    parts = c.image.topic("t").partitions
    assert [p.replicas for p in parts] == [(3, 1), (2, 3), (1, 2)]
    assert [p.leader for p in parts] == [3, 2, 1] and all(p.isr == p.replicas for p in parts)


def test_a_fenced_broker_is_a_replica_out_of_sync_and_does_not_lead():
    c = Cluster(brokers=(1, 2, 3))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [3]))
    create(c, "t", [(0, (3, 1))])
    p = c.part("t")
    assert p.replicas == (3, 1) and p.isr == (1,) and p.leader == 1


@pytest.mark.parametrize("assignments, why", [
    ([(0, (1, 9))], "not registered"),
    ([(0, (1, 1))], "twice"),
    ([(0, ())], "no broker"),
    ([(0, (1, 2)), (2, (2, 3))], "without gaps"),
    ([(1, (1, 2))], "without gaps"),
    ([(0, (1, 2)), (0, (2, 3))], "assigned twice"),
    ([(0, (1, 2)), (1, (2,))], "where the others have 2"),
])
def test_impossible_assignments_are_refused(assignments, why):
    c = Cluster(brokers=(1, 2, 3))
    with pytest.raises(InvalidReplicaAssignment, match=why):
        create(c, "t", assignments)
    assert c.image.topic("t") is None


def test_an_assignment_of_fenced_brokers_only_cannot_lead():
    c = Cluster(brokers=(1, 2, 3))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [2, 3]))
    with pytest.raises(InvalidReplicaAssignment, match="can lead"):
        create(c, "t", [(0, (2, 3))])


def test_new_partitions_go_where_the_client_says_with_the_topics_replication_factor():
    c = Cluster(brokers=(1, 2, 3))
    c.create("t", partitions=1, rf=2)
    c.run(create_partitions(c.image, "t", 3, [(2, 3), (3, 1)]))
    assert [p.replicas for p in c.image.topic("t").partitions[1:]] == [(2, 3), (3, 1)]
    with pytest.raises(InvalidReplicaAssignment, match="assignments were given"):
        create_partitions(c.image, "t", 5, [(1, 2)])
    with pytest.raises(InvalidReplicaAssignment, match="where the others have 2"):
        create_partitions(c.image, "t", 4, [(1, 2, 3)])
