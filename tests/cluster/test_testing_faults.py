"""kraft.testing.Cluster's fault methods, each observed through a real Kafka client
(confluent-kafka) and checked against the cluster's own state."""

import pytest
from confluent_kafka import Consumer, Producer

from kraft.testing import Cluster
from kraft.testing import cluster_state as state

pytestmark = pytest.mark.cluster
CLIENT_BOUND_S = 60


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=3, topic_defaults={"min.insync.replicas": 2}) as c:
        yield c


def produce(c: Cluster, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": c.bootstrap_servers, "enable.idempotence": True,
                  "message.timeout.ms": CLIENT_BOUND_S * 1000})
    failures = []
    for v in values:
        p.produce(topic, v, on_delivery=lambda err, msg: err and failures.append(err))
    assert p.flush(CLIENT_BOUND_S) == 0 and not failures, failures


def consume_all(c: Cluster, topic: str, count: int, group: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: list[bytes] = []
    try:
        for _ in range(CLIENT_BOUND_S * 2):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
            if len(got) >= count:
                break
    finally:
        consumer.close()
    return got


def test_kill_leader_moves_leadership_and_restart_brings_it_back(cluster):
    topic = cluster.new_topic(replication_factor=3)
    produce(cluster, topic, [b"before"])
    old = cluster.kill_leader(topic, 0)
    view = cluster.admin.partition(topic, 0)
    assert view["leader_id"] not in (None, old) and old not in view["isr"]
    produce(cluster, topic, [b"after"])  # the idempotent producer finds the new leader
    cluster.restart(old)
    assert old in cluster.admin.isr(topic, 0)
    assert consume_all(cluster, topic, 2, "g-kill") == [b"before", b"after"]


def test_kill_fences_the_broker(cluster):
    topic = cluster.new_topic(replication_factor=3)
    victim = cluster.admin.leader(topic, 0)
    cluster.kill(victim)
    assert not cluster.running(victim)
    assert state.fenced(state.brokers_seen_by_controller(cluster.local), victim)
    produce(cluster, topic, [b"x"])  # two in-sync replicas left: min.insync.replicas=2 holds
    cluster.restart(victim)
    assert not state.fenced(state.brokers_seen_by_controller(cluster.local), victim)


def test_pause_moves_leadership_and_resume_rejoins(cluster):
    topic = cluster.new_topic(replication_factor=3)
    victim = cluster.admin.leader(topic, 0)
    cluster.pause(victim)
    assert cluster.running(victim)  # stopped, not dead
    assert cluster.admin.leader(topic, 0) != victim
    produce(cluster, topic, [b"during pause"])
    cluster.resume(victim)
    assert victim in cluster.admin.isr(topic, 0)
    assert consume_all(cluster, topic, 1, "g-pause") == [b"during pause"]


@pytest.mark.skipif(not Cluster.network_faults_available()[0], reason=Cluster.network_faults_available()[1])
def test_isolate_from_the_other_nodes_and_heal(cluster):
    topic = cluster.new_topic(replication_factor=3)
    victim = cluster.admin.leader(topic, 0)
    cluster.isolate(victim)
    assert cluster.running(victim)
    view = cluster.admin.partition(topic, 0)
    assert view["leader_id"] != victim and victim not in view["isr"]
    produce(cluster, topic, [b"while isolated"])
    cluster.heal()
    assert victim in cluster.admin.isr(topic, 0)
    assert consume_all(cluster, topic, 1, "g-isolate") == [b"while isolated"]
