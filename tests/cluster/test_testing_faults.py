"""kraft.testing.Cluster's fault methods, each observed through a real Kafka client
(confluent-kafka) and checked against the cluster's own state."""

import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from kraft.testing import AdminError, Cluster, SessionExpiryRefused
from kraft.testing import cluster_state as state

pytestmark = pytest.mark.cluster
CLIENT_BOUND_S = 60


@pytest.fixture(scope="module")
def cluster():
    # leaders stay where the faults put them: only elect_leader moves them back
    with Cluster(nodes=3, topic_defaults={"min.insync.replicas": 2},
                 cluster={"auto.leader.rebalance.enable": False}) as c:
        yield c


def produce(c: Cluster, topic: str, values: list[bytes], bootstrap: str | None = None) -> None:
    p = Producer({"bootstrap.servers": bootstrap or c.bootstrap_servers, "enable.idempotence": True,
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
    # a client that asks the isolated node gets its stale metadata (itself the leader), as
    # from a cut-off Kafka broker: this one knows only the nodes still in the cluster
    reachable = ",".join(f"{n.host}:{n.kafka_port}" for n in cluster.local.config.nodes if n.id != victim)
    produce(cluster, topic, [b"while isolated"], bootstrap=reachable)
    cluster.heal()
    assert victim in cluster.admin.isr(topic, 0)
    assert consume_all(cluster, topic, 1, "g-isolate") == [b"while isolated"]


def client_leader(c: Cluster, topic: str, partition: int) -> int:
    """The partition's leader as a Kafka client's metadata shows it."""
    metadata = AdminClient(c.client_config()).list_topics(topic, timeout=CLIENT_BOUND_S)
    return metadata.topics[topic].partitions[partition].leader


def test_elect_leader_preferred_moves_leadership_back_to_the_first_replica(cluster):
    topic = cluster.new_topic(replication_factor=3)
    preferred = state.replicas_of(cluster.admin.partition(topic, 0))[0]
    assert cluster.kill_leader(topic, 0) == preferred
    cluster.restart(preferred)
    assert cluster.admin.leader(topic, 0) != preferred  # no automatic rebalance on this cluster
    produce(cluster, topic, [b"led elsewhere"])
    assert cluster.elect_leader(topic, 0) == preferred
    assert cluster.admin.leader(topic, 0) == preferred
    assert client_leader(cluster, topic, 0) == preferred
    produce(cluster, topic, [b"led by the preferred"])
    assert consume_all(cluster, topic, 2, "g-elect") == [b"led elsewhere", b"led by the preferred"]
    assert cluster.elect_leader(topic, 0) == preferred  # not needed: done already


def test_elect_leader_unclean_gives_a_leaderless_partition_an_out_of_sync_leader(cluster):
    topic = cluster.new_topic(replication_factor=2, configs={"min.insync.replicas": "1"})
    leader = cluster.admin.leader(topic, 0)
    follower = next(r for r in state.replicas_of(cluster.admin.partition(topic, 0)) if r != leader)
    cluster.kill(follower)  # the ISR shrinks to the leader alone
    produce(cluster, topic, [b"only the leader has this"])
    # two of three nodes down: the quorum fences nothing until the follower is back
    cluster.kill(leader, wait=False)
    cluster.restart(follower, wait_in_sync=False)
    cluster.local.wait_until(lambda: cluster.admin.partition(topic, 0)["leader_id"] in (None, -1),
                             CLIENT_BOUND_S, "the partition without a leader")  # no clean leader left
    assert cluster.elect_leader(topic, 0, "unclean") == follower
    assert client_leader(cluster, topic, 0) == follower
    produce(cluster, topic, [b"after the unclean election"])  # the client writes to the new leader
    cluster.restart(leader)


def test_elect_leader_refuses_an_unknown_kind(cluster):
    with pytest.raises(ValueError, match="preferred, unclean"):
        cluster.elect_leader("any", 0, "random")


def test_expire_session_rebalances_the_consumer_out(cluster):
    topic = cluster.new_topic(partitions=2, replication_factor=3)
    group = f"g-expire-{topic}"
    lost: list = []
    consumer = Consumer({**cluster.client_config(), "group.id": group, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 45000})  # its own session would not end during the test
    consumer.subscribe([topic], on_lost=lambda _c, parts: lost.extend(parts))
    try:
        poll_until(consumer, lambda: consumer.memberid() and consumer.assignment())
        member = consumer.memberid()
        cluster.expire_session(group, member)
        assert member not in member_ids(cluster, group)
        # the consumer hears it at its next heartbeat: its partitions are lost (not revoked:
        # the group moved on without it), and it joins again
        poll_until(consumer, lambda: lost and consumer.assignment(),
                   lambda: f"lost {lost}, assigned {consumer.assignment()}")
        assert sorted(p.partition for p in lost) == [0, 1]
        assert consumer.memberid() in member_ids(cluster, group)
    finally:
        consumer.close()


def member_ids(cluster, group: str) -> set[str]:
    """The group's members; none once the group is gone (a group left empty without committed
    offsets is dropped, as Kafka's is, until its consumer joins again)."""
    try:
        return {m["consumer_id"] for m in cluster.admin.group_members(group)}
    except AdminError as refused:
        if refused.code != 404:
            raise
        return set()


def poll_until(consumer: Consumer, reached, show=lambda: "", bound_s: float = CLIENT_BOUND_S):
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        consumer.poll(0.2)
        if result := reached():
            return result
    raise AssertionError(f"not reached within {bound_s} s: {show()}")


def test_expire_session_of_an_unknown_member_is_refused_with_kafkas_code(cluster):
    with pytest.raises(SessionExpiryRefused, match=r"\b25\b"):  # UNKNOWN_MEMBER_ID
        cluster.expire_session(f"g-nobody-{cluster.new_topic()}", "no-such-member")
