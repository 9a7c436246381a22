"""KIP-848 consumer groups (ConsumerGroupHeartbeat) with real confluent-kafka consumers
(`group.protocol=consumer`) on a 3-node cluster whose groups time members out fast:
partitions shared without ever being owned twice, a leaver's and a crashed member's
partitions moving, a coordinator killed -9 under a live group, and the errors Kafka
answers on the wire."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import pytest
from cluster_client import call, create_topic
from kafka_wire import kafka_socket, wire_call

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka.admin import AdminClient  # noqa: E402

SESSION_MS, HEARTBEAT_MS = 3000, 300
PARTITIONS = 6


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, groups={"group.consumer.session.timeout.ms": SESSION_MS,
                                       "group.consumer.heartbeat.interval.ms": HEARTBEAT_MS}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def consumer_conf(c, group: str, name: str) -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "group.id": group, "group.protocol": "consumer",
            "auto.offset.reset": "earliest", "enable.auto.commit": False, "client.id": name}


def produce(c, topic: str, values: list[str]) -> None:
    failed = []
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all", "linger.ms": 5,
                                         "message.timeout.ms": 60_000})
    for v in values:
        producer.produce(topic, value=v.encode(), key=v.encode(),
                         on_delivery=lambda err, msg: failed.append(err) if err else None)
        producer.poll(0)
    assert producer.flush(60) == 0 and not failed, failed


class Owners:
    """Who owns which partition, as the consumers' rebalance callbacks say; a partition
    given to a member while another still owns it is recorded as a violation."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner: dict[int, str] = {}
        self.violations: list[str] = []
        self.given: list[tuple[str, frozenset[int]]] = []  # every assignment, in order

    def assigned(self, name: str, partitions) -> None:
        with self.lock:
            self.given.append((name, frozenset(tp.partition for tp in partitions)))
            for tp in partitions:
                holder = self.owner.get(tp.partition)
                if holder is not None and holder != name:
                    self.violations.append(f"partition {tp.partition} given to {name} while {holder} owns it")
                self.owner[tp.partition] = name

    def revoked(self, name: str, partitions) -> None:
        with self.lock:
            for tp in partitions:
                if self.owner.get(tp.partition) == name:
                    del self.owner[tp.partition]


class Member:
    """One consumer polled by its own thread; every record is committed (synchronously)
    before the next poll, so a partition that moves resumes right after it."""

    def __init__(self, c, group: str, name: str, topic: str, owners: Owners, consumed: list):
        self.name = name
        self.consumer = confluent_kafka.Consumer(consumer_conf(c, group, name))
        self.consumer.subscribe([topic], on_assign=lambda _c, ps: owners.assigned(name, ps),
                                on_revoke=lambda _c, ps: owners.revoked(name, ps),
                                on_lost=lambda _c, ps: owners.revoked(name, ps))
        self.owned: frozenset[int] = frozenset()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(consumed,), name=name, daemon=True)
        self._thread.start()

    def _run(self, consumed: list) -> None:
        while not self._stop.is_set():
            msg = self.consumer.poll(0.1)
            self.owned = frozenset(tp.partition for tp in self.consumer.assignment())
            if msg is None:
                continue
            if msg.error():
                self.errors.append(str(msg.error()))
                continue
            consumed.append(msg.value().decode())
            self._commit(msg)

    def _commit(self, msg) -> None:
        """A commit racing an epoch bump gets STALE_MEMBER_EPOCH (as from Kafka): retried
        until the client has its new epoch. The partition cannot move meanwhile: its
        revocation waits for this thread's next poll."""
        for _ in range(50):
            try:
                self.consumer.commit(message=msg, asynchronous=False)
                return
            except confluent_kafka.KafkaException as exc:
                if exc.args[0].code() != confluent_kafka.KafkaError.STALE_MEMBER_EPOCH:
                    self.errors.append(str(exc))
                    return
                time.sleep(0.05)
        self.errors.append(f"commit of {msg.partition()}/{msg.offset()} still stale after 50 tries")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()  # leaves the group (epoch -1)


def wait_for(what, check, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (result := check()):
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def describe(c, group: str):
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    return admin.describe_consumer_groups([group])[group].result(15)


def described_by_new_coordinator(c, group: str, old: int):
    try:
        d = describe(c, group)
    except confluent_kafka.KafkaException:  # the client is still finding the new coordinator
        return None
    return d if d.coordinator.id != old and d.state == confluent_kafka.ConsumerGroupState.STABLE else None


def group_epoch(c, group: str, node: int) -> int:
    status, body = call("GET", c.v3(node) + f"/consumer-groups/{group}")
    assert status == 200, body
    return body["generation_id"]


def assignment_of(description) -> dict[str, set[int]]:
    return {m.member_id: {tp.partition for tp in m.assignment.topic_partitions} for m in description.members}


def test_three_consumers_share_six_partitions_each_record_once_and_a_leaver_hands_over(cluster):
    c, topic, group = cluster, "kip848-share", "kip848-share-g"
    create_topic(c, topic, PARTITIONS)
    owners, consumed = Owners(), []
    produce(c, topic, [f"a{i}" for i in range(150)])
    members = []
    try:
        for i in range(3):  # joining one by one: partitions move twice
            members.append(Member(c, group, f"m{i}", topic, owners, consumed))
            wait_for(f"{i + 1} members to own every partition",
                     lambda: sum(len(m.owned) for m in members) == PARTITIONS and all(m.owned for m in members))
        produce(c, topic, [f"b{i}" for i in range(150)])
        wait_for("all 300 records", lambda: len(set(consumed)) >= 300)
        assert sorted(len(m.owned) for m in members) == [2, 2, 2]
        assert Counter(consumed) == Counter({v: 1 for v in consumed}) and len(consumed) == 300
        assert owners.violations == []

        d = describe(c, group)
        assert d.type == confluent_kafka.ConsumerGroupType.CONSUMER
        assert d.state == confluent_kafka.ConsumerGroupState.STABLE
        given = assignment_of(d)
        assert sorted(len(ps) for ps in given.values()) == [2, 2, 2]
        assert set().union(*given.values()) == set(range(PARTITIONS))
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})  # kept until the answer is in
        listed = admin.list_consumer_groups(types={confluent_kafka.ConsumerGroupType.CONSUMER}).result(15)
        assert group in {g.group_id for g in listed.valid}, (listed.valid, listed.errors)
        status, body = call("GET", c.v3(1) + f"/consumer-groups/{group}")
        assert status == 200 and body["type"] == "CONSUMER" and body["state"] == "STABLE", body
        status, body = call("GET", c.v3(2) + f"/consumer-groups/{group}/lags")
        assert status == 200 and {row["lag"] for row in body["data"]} == {0}, body

        members.pop(0).close()  # leaves: its partitions move to the others
        wait_for("two members to own every partition",
                 lambda: sorted(len(m.owned) for m in members) == [3, 3])
        produce(c, topic, [f"c{i}" for i in range(60)])
        wait_for("all 360 records", lambda: len(set(consumed)) >= 360)
        assert len(consumed) == 360 and owners.violations == []
        assert len(describe(c, group).members) == 2
    finally:
        for m in members:
            m.close()


def test_a_regex_subscription_takes_the_topics_created_later(cluster):
    """The regex goes to the coordinator, which matches it against the topics as they come."""
    c, group = cluster, "kip848-regex-g"
    create_topic(c, "kip848-re-a", 2)
    create_topic(c, "kip848-other", 2)
    consumer = confluent_kafka.Consumer({**consumer_conf(c, group, "re"), "topic.metadata.refresh.interval.ms": 1000})
    try:
        consumer.subscribe(["^kip848-re-.*"])

        def owned():
            consumer.poll(0.1)
            return sorted((tp.topic, tp.partition) for tp in consumer.assignment())

        wait_for("the matching topic", lambda: owned() == [("kip848-re-a", 0), ("kip848-re-a", 1)])
        create_topic(c, "kip848-re-b", 1)
        wait_for("the new matching topic",
                 lambda: owned() == [("kip848-re-a", 0), ("kip848-re-a", 1), ("kip848-re-b", 0)])
        d = describe(c, group)
        assert {tp.topic for tp in d.members[0].assignment.topic_partitions} == {"kip848-re-a", "kip848-re-b"}
    finally:
        consumer.close()


def test_a_static_member_that_restarts_gets_its_partitions_back_without_moving_the_others(cluster):
    """group.instance.id: closing leaves with epoch -2, so the instance's partitions wait
    for it (up to the session timeout); restarted, it gets them back and the other member
    sees no revocation."""
    c, topic, group = cluster, "kip848-static", "kip848-static-g"
    create_topic(c, topic, PARTITIONS)
    owners, consumed = Owners(), []
    other = Member(c, group, "other", topic, owners, consumed)
    static = confluent_kafka.Consumer({**consumer_conf(c, group, "static"), "group.instance.id": "i-1"})
    try:
        static.subscribe([topic])

        def owned_by_static():
            static.poll(0.1)
            return frozenset(tp.partition for tp in static.assignment())

        first = wait_for("the static member's share", lambda: len(owned_by_static()) == 3 and owned_by_static())
        wait_for("the other member's share", lambda: len(other.owned) == 3)
        kept, given_before = other.owned, len(owners.given)
        static.close()
        time.sleep(1.0)  # many heartbeats of the other member, well inside the session timeout
        static = confluent_kafka.Consumer({**consumer_conf(c, group, "static"), "group.instance.id": "i-1"})
        static.subscribe([topic])
        assert wait_for("the same partitions back", lambda: owned_by_static() == first and first)
        assert other.owned == kept and owners.violations == []
        assert [g for g in owners.given[given_before:] if g[1]] == []  # nothing new for the other member
        assert len(describe(c, group).members) == 2
    finally:
        static.close()
        other.close()


CRASHING_MEMBER = """
import sys, confluent_kafka
conf = {"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "group.protocol": "consumer",
        "auto.offset.reset": "earliest", "client.id": "doomed"}
consumer = confluent_kafka.Consumer(conf)
consumer.subscribe([sys.argv[3]])
told = False
while True:
    consumer.poll(0.1)
    if consumer.assignment() and not told:
        print("assigned", flush=True)
        told = True
"""


def test_a_member_killed_without_leaving_loses_its_partitions_after_the_session_timeout(cluster):
    c, topic, group = cluster, "kip848-crash", "kip848-crash-g"
    create_topic(c, topic, PARTITIONS)
    owners, consumed = Owners(), []
    survivor = Member(c, group, "survivor", topic, owners, consumed)
    doomed = subprocess.Popen([sys.executable, "-c", CRASHING_MEMBER, c.bootstrap_servers, group, topic],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert doomed.stdout.readline().strip() == "assigned"
        wait_for("the partitions shared by both", lambda: len(survivor.owned) == 3)
        os.kill(doomed.pid, signal.SIGKILL)  # no leave: only the session timeout tells
        doomed.wait(10)
        wait_for("the survivor to own every partition", lambda: len(survivor.owned) == PARTITIONS,
                 timeout_s=SESSION_MS / 1000 + 20)
        assert len(describe(c, group).members) == 1
        assert owners.violations == []
    finally:
        if doomed.poll() is None:
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        survivor.close()


def coordinator(c, group: str) -> int:
    return describe(c, group).coordinator.id


def heartbeat(s, group: str, member_id: str, epoch: int, **fields):
    from kio.schema.consumer_group_heartbeat.v1.request import ConsumerGroupHeartbeatRequest
    request = ConsumerGroupHeartbeatRequest(group_id=group, member_id=member_id, member_epoch=epoch,
                                            topic_partitions=fields.pop("topic_partitions", None), **fields)
    return wire_call(s, request)


def joined(s, group: str, topic: str, member_id: str):
    return heartbeat(s, group, member_id, 0, rebalance_timeout=datetime.timedelta(seconds=30),
                     subscribed_topic_names=(topic,), topic_partitions=())


def code(answer) -> int:
    return int(answer.error_code.value)


def test_the_wire_answers_kafkas_errors(cluster):
    """FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID, UNSUPPORTED_ASSIGNOR, GROUP_ID_NOT_FOUND for a
    classic group that cannot convert, INCONSISTENT_GROUP_PROTOCOL for a JoinGroup into a
    consumer group without a consumer subscription,
    STALE_MEMBER_EPOCH for a commit with an old epoch, and group types in ListGroups."""
    from kio.schema.consumer_group_describe.v1.request import ConsumerGroupDescribeRequest
    from kio.schema.join_group.v9.request import JoinGroupRequestProtocol, JoinGroupRequest
    from kio.schema.offset_commit.v9.request import OffsetCommitRequest, OffsetCommitRequestPartition, \
        OffsetCommitRequestTopic
    from kio.schema.delete_groups.v2.request import DeleteGroupsRequest
    from kio.schema.describe_groups.v5.request import DescribeGroupsRequest as DescribeGroupsRequestV5
    from kio.schema.describe_groups.v6.request import DescribeGroupsRequest as DescribeGroupsRequestV6
    from kio.schema.list_groups.v5.request import ListGroupsRequest
    from kio.schema.offset_fetch.v9.request import OffsetFetchRequest, OffsetFetchRequestGroup, \
        OffsetFetchRequestTopics

    c, topic, group = cluster, "kip848-wire", "kip848-wire-g"
    create_topic(c, topic, 2)
    describe_wait = wait_for("the group's coordinator", lambda: _coordinator_socket(c, group, topic))
    s, member = describe_wait
    with s:
        first = joined(s, group, topic, member)
        assert code(first) == 0 and first.member_epoch > 0, first
        epoch = first.member_epoch
        assert code(heartbeat(s, group, member, epoch + 5)) == 110  # FENCED_MEMBER_EPOCH
        assert code(heartbeat(s, group, "nobody", 3)) == 25  # UNKNOWN_MEMBER_ID
        unsupported = heartbeat(s, group, uuid.uuid4().hex, 0, rebalance_timeout=datetime.timedelta(seconds=30),
                                subscribed_topic_names=(topic,), server_assignor="sticky", topic_partitions=())
        assert code(unsupported) == 112  # UNSUPPORTED_ASSIGNOR
        stale = OffsetCommitRequest(group_id=group, generation_id_or_member_epoch=epoch - 1, member_id=member,
                                    group_instance_id=None, topics=(OffsetCommitRequestTopic(
                                        name=topic, partitions=(OffsetCommitRequestPartition(
                                            partition_index=0, committed_offset=0, committed_leader_epoch=-1,
                                            committed_metadata=""),)),))
        assert int(wire_call(s, stale).topics[0].partitions[0].error_code.value) == 113  # STALE_MEMBER_EPOCH
        current = OffsetCommitRequest(group_id=group, generation_id_or_member_epoch=epoch, member_id=member,
                                      group_instance_id=None, topics=stale.topics)
        assert int(wire_call(s, current).topics[0].partitions[0].error_code.value) == 0
        fetch = OffsetFetchRequest(require_stable=True, groups=(OffsetFetchRequestGroup(
            group_id=group, member_id=member, member_epoch=epoch - 1,
            topics=(OffsetFetchRequestTopics(name=topic, partition_indexes=(0,)),)),))
        assert code(wire_call(s, fetch).groups[0]) == 113  # STALE_MEMBER_EPOCH
        fetched = wire_call(s, OffsetFetchRequest(require_stable=True, groups=(OffsetFetchRequestGroup(
            group_id=group, member_id=member, member_epoch=epoch, topics=fetch.groups[0].topics),))).groups[0]
        assert code(fetched) == 0 and fetched.topics[0].partitions[0].committed_offset == 0
        join = JoinGroupRequest(group_id=group, session_timeout=datetime.timedelta(seconds=10),
                                rebalance_timeout=datetime.timedelta(seconds=10), member_id="",
                                group_instance_id=None, protocol_type="consumer", reason=None,
                                protocols=(JoinGroupRequestProtocol(name="range", metadata=b""),))
        assert code(wire_call(s, join)) == 23  # INCONSISTENT_GROUP_PROTOCOL: no subscription in its metadata
        v6 = wire_call(s, DescribeGroupsRequestV6(groups=(group,), include_authorized_operations=False)).groups[0]
        assert (code(v6), v6.group_state) == (69, "Dead"), v6  # GROUP_ID_NOT_FOUND: not a classic group
        v5 = wire_call(s, DescribeGroupsRequestV5(groups=(group,), include_authorized_operations=False)).groups[0]
        assert (code(v5), v5.group_state) == (0, "Dead"), v5
        groups = wire_call(s, ListGroupsRequest(states_filter=(), types_filter=("consumer",))).groups
        assert group in {g.group_id for g in groups}
        assert {g.group_type for g in groups if g.group_id == group} == {"consumer"}
        left = heartbeat(s, group, member, -1)
        assert code(left) == 0 and left.member_epoch == -1
        assert code(heartbeat(s, group, member, epoch)) == 25  # gone
        empty = wire_call(s, ConsumerGroupDescribeRequest(group_ids=(group,), include_authorized_operations=False))
        assert (code(empty.groups[0]), empty.groups[0].group_state) == (0, "Empty"), empty
        deleted = wire_call(s, DeleteGroupsRequest(groups_names=(group,)))
        assert int(deleted.results[0].error_code.value) == 0
        gone = wire_call(s, ConsumerGroupDescribeRequest(group_ids=(group,), include_authorized_operations=False))
        assert code(gone.groups[0]) == 69

    # a classic group whose member is not a consumer (Kafka Connect's protocol type): it
    # cannot convert, so a consumer-protocol member is refused
    classic = "kip848-wire-classic"
    s, member = wait_for("the classic group's coordinator", lambda: _coordinator_socket(c, classic, topic))
    with s:
        worker = JoinGroupRequest(group_id=classic, session_timeout=datetime.timedelta(seconds=10),
                                  rebalance_timeout=datetime.timedelta(seconds=10), member_id="",
                                  group_instance_id=None, protocol_type="connect", reason=None,
                                  protocols=(JoinGroupRequestProtocol(name="sessioned", metadata=b"w"),))
        assert code(wire_call(s, worker)) == 0
        assert code(joined(s, classic, topic, member)) == 69  # GROUP_ID_NOT_FOUND
        described = wire_call(s, ConsumerGroupDescribeRequest(group_ids=(classic,),
                                                               include_authorized_operations=False))
        assert code(described.groups[0]) == 69  # not a consumer group


def _coordinator_socket(c, group: str, topic: str):
    """A socket to the group's coordinator, and a fresh member id (None while no node
    coordinates it yet)."""
    from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
    with kafka_socket(c, 1) as s:
        answer = wire_call(s, FindCoordinatorRequest(key_type=0, coordinator_keys=(group,)))
    found = answer.coordinators[0]
    if int(found.error_code.value) != 0:
        return None
    return kafka_socket(c, int(found.node_id)), uuid.uuid4().hex


def test_a_group_moves_between_the_classic_and_the_consumer_protocol_keeping_its_offsets(cluster):
    """Kafka 4's conversions of an empty group: classic consumers commit and leave, a
    KIP-848 consumer of the same group resumes from their offsets, and after it leaves a
    classic consumer resumes from its."""
    c, topic, group = cluster, "kip848-convert", "kip848-convert-g"
    create_topic(c, topic, 2)
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})

    def consume(protocol: str, count: int) -> list[str]:
        consumer = confluent_kafka.Consumer({**consumer_conf(c, group, protocol), "group.protocol": protocol})
        got: list[str] = []
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + 30
            while len(got) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.1)
                if msg is not None and not msg.error():
                    got.append(msg.value().decode())
                    consumer.commit(message=msg, asynchronous=False)
            listed = admin.list_consumer_groups().result(15).valid
            kind = {g.group_id: g.type for g in listed}.get(group)
            assert kind == (confluent_kafka.ConsumerGroupType.CONSUMER if protocol == "consumer"
                            else confluent_kafka.ConsumerGroupType.CLASSIC), (protocol, kind)
        finally:
            consumer.close()
        return got

    produce(c, topic, [f"a{i}" for i in range(10)])
    assert sorted(consume("classic", 10)) == sorted(f"a{i}" for i in range(10))
    produce(c, topic, [f"b{i}" for i in range(10)])
    assert sorted(consume("consumer", 10)) == sorted(f"b{i}" for i in range(10))
    produce(c, topic, [f"c{i}" for i in range(10)])
    assert sorted(consume("classic", 10)) == sorted(f"c{i}" for i in range(10))
    emptied = {g.group_id: g.type for g in admin.list_consumer_groups().result(15).valid}
    assert emptied.get(group) == confluent_kafka.ConsumerGroupType.CLASSIC  # converted, not a stale consumer group


class ClassicMember:
    """A kafka-python consumer (the classic protocol, eager range assignor) polled by its
    own thread; what each poll returned is committed before the next poll."""

    def __init__(self, c, group: str, topic: str, consumed: list):
        import kafka
        self.consumer = kafka.KafkaConsumer(
            topic, bootstrap_servers=c.bootstrap_servers, group_id=group, client_id="classic",
            enable_auto_commit=False, auto_offset_reset="earliest", heartbeat_interval_ms=300,
            session_timeout_ms=6000, max_poll_interval_ms=20_000, request_timeout_ms=30_000)
        # its first join (in poll) assigns as the leader: with the topic's metadata known
        # first, or kafka-python's assignor gives nothing until its next metadata refresh
        wait_for("kafka-python to see the topic", lambda: len(self.consumer.partitions_for_topic(topic) or ()) > 0)
        self.owned: frozenset[int] = frozenset()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(consumed,), name="classic", daemon=True)
        self._thread.start()

    def _run(self, consumed: list) -> None:
        import kafka.errors
        while not self._stop.is_set():
            batches = self.consumer.poll(timeout_ms=100)
            self.owned = frozenset(tp.partition for tp in self.consumer.assignment())
            got = [r.value.decode() for records in batches.values() for r in records]
            if not got:
                continue
            try:
                self.consumer.commit()
            except kafka.errors.KafkaError as exc:
                self.errors.append(repr(exc))
            consumed.extend(got)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()  # LeaveGroup


def group_view(c, group: str) -> dict:
    status, body = call("GET", c.v3(1) + f"/consumer-groups/{group}")
    assert status == 200, body
    return body


def test_classic_and_kip848_consumers_share_a_group_through_upgrade_and_downgrade(cluster):
    """A kafka-python (classic) consumer's group converts when a confluent-kafka KIP-848
    consumer joins, more join, the mixed group consumes every record once, and when the
    last KIP-848 consumer leaves the group converts back; offsets of both kinds count."""
    c, topic, group = cluster, "kip848-mixed", "kip848-mixed-g"
    create_topic(c, topic, PARTITIONS)
    owners, consumed = Owners(), []
    produce(c, topic, [f"a{i}" for i in range(60)])
    classic = ClassicMember(c, group, topic, consumed)
    members: list[Member] = []
    try:
        wait_for("the classic consumer to own every partition", lambda: len(classic.owned) == PARTITIONS)
        wait_for("the first 60 records", lambda: len(set(consumed)) >= 60)
        assert group_view(c, group)["type"] == "CLASSIC"

        for i in range(2):  # the first converts the group, the second joins the mixed group
            members.append(Member(c, group, f"k{i}", topic, owners, consumed))
            wait_for(f"{i + 2} members to share the partitions", lambda: all(m.owned for m in [classic, *members])
                     and sum(len(m.owned) for m in [classic, *members]) == PARTITIONS)
        view = group_view(c, group)
        assert (view["type"], view["is_mixed_consumer_group"]) == ("CONSUMER", True), view
        produce(c, topic, [f"b{i}" for i in range(60)])
        wait_for("120 records", lambda: len(set(consumed)) >= 120)
        from kio.schema.consumer_group_describe.v1.request import ConsumerGroupDescribeRequest
        s, _ = wait_for("the group's coordinator", lambda: _coordinator_socket(c, group, topic))
        with s:
            described = wire_call(s, ConsumerGroupDescribeRequest(group_ids=(group,),
                                                                   include_authorized_operations=False)).groups[0]
        assert sorted(int(m.member_type) for m in described.members) == [0, 1, 1]  # 0: classic, 1: KIP-848
        assert {m.client_id for m in described.members if int(m.member_type) == 0} == {"classic"}
        status, lags = call("GET", c.v3(2) + f"/consumer-groups/{group}/lags")
        assert status == 200 and {row["lag"] for row in lags["data"]} == {0}, lags
        assert len(lags["data"]) == PARTITIONS

        # another classic consumer joins the consumer group itself, then leaves (LeaveGroup)
        second = ClassicMember(c, group, topic, consumed)
        try:
            wait_for("four members to share the partitions", lambda: all(m.owned for m in [classic, second, *members])
                     and sum(len(m.owned) for m in [classic, second, *members]) == PARTITIONS)
            produce(c, topic, [f"x{i}" for i in range(30)])
            wait_for("150 records", lambda: len(set(consumed)) >= 150)
        finally:
            second.close()
        assert second.errors == []
        status, consumers = call("GET", c.v3(1) + f"/consumer-groups/{group}/consumers")
        assert status == 200 and len(consumers["data"]) == 3, consumers  # its LeaveGroup removed it at once
        members.pop(0).close()  # a KIP-848 member leaves: the mixed group carries on
        wait_for("two members to share the partitions",
                 lambda: sum(len(m.owned) for m in [classic, *members]) == PARTITIONS
                 and all(m.owned for m in [classic, *members]))
        members.pop(0).close()  # the last one: back to a classic group, the classic member keeps consuming
        wait_for("a classic group again", lambda: group_view(c, group)["type"] == "CLASSIC")
        wait_for("the classic consumer to own every partition", lambda: len(classic.owned) == PARTITIONS)
        produce(c, topic, [f"c{i}" for i in range(30)])
        wait_for("180 records", lambda: len(set(consumed)) >= 180)
        assert Counter(consumed) == Counter({v: 1 for v in consumed}) and len(consumed) == 180
        assert owners.violations == [] and classic.errors == []
        status, lags = call("GET", c.v3(3) + f"/consumer-groups/{group}/lags")
        assert status == 200 and {row["lag"] for row in lags["data"]} == {0}, lags
    finally:
        for m in members:
            m.close()
        classic.close()


def test_the_group_carries_on_when_its_coordinator_is_killed(cluster):
    """kill -9 of the coordinator's node: a new coordinator loads the group from the
    offsets topic; the members keep their ids and partitions and consume what follows.
    Runs last: the cluster keeps two nodes."""
    c, topic, group = cluster, "kip848-failover", "kip848-failover-g"
    create_topic(c, topic, PARTITIONS)
    owners, consumed = Owners(), []
    produce(c, topic, [f"a{i}" for i in range(60)])
    members = [Member(c, group, f"f{i}", topic, owners, consumed) for i in range(2)]
    try:
        wait_for("both members to share every partition", lambda: sorted(len(m.owned) for m in members) == [3, 3])
        wait_for("the first 60 records", lambda: len(set(consumed)) >= 60)
        before = describe(c, group)
        victim = before.coordinator.id
        epoch = group_epoch(c, group, victim)
        c.kill(victim)
        produce(c, topic, [f"b{i}" for i in range(60)])
        wait_for("the records produced after the kill", lambda: len(set(consumed)) >= 120, timeout_s=60)
        after = wait_for("a new coordinator", lambda: described_by_new_coordinator(c, group, victim))
        assert set(assignment_of(after)) == set(assignment_of(before))  # the same members, not new ones
        assert group_epoch(c, group, after.coordinator.id) >= epoch  # loaded, not started over
        assert set().union(*assignment_of(after).values()) == set(range(PARTITIONS))
        assert owners.violations == []
    finally:
        for m in members:
            m.close()


@pytest.mark.soak
def test_churning_members_under_steady_production_consume_every_record_once():
    """Soak: for about a minute members leave and new ones join every few seconds while
    a producer writes; every record is consumed exactly once and no partition is ever
    given to a member while another owns it."""
    with LocalCluster(nodes=3, groups={"group.consumer.session.timeout.ms": SESSION_MS,
                                       "group.consumer.heartbeat.interval.ms": HEARTBEAT_MS}) as c:
        c.start().wait_ready(timeout_s=60)
        topic, group = "kip848-churn", "kip848-churn-g"
        create_topic(c, topic, PARTITIONS)
        owners, consumed, produced = Owners(), [], []
        members = [Member(c, group, f"s{i}", topic, owners, consumed) for i in range(3)]
        try:
            for round_ in range(15):
                batch = [f"r{round_}-{i}" for i in range(100)]
                produce(c, topic, batch)
                produced.extend(batch)
                members.pop(0).close()
                members.append(Member(c, group, f"s{round_ + 3}", topic, owners, consumed))
                time.sleep(3)
            wait_for("every record", lambda: len(set(consumed)) >= len(produced), timeout_s=60)
            assert sorted(consumed) == sorted(produced)
            assert owners.violations == []
        finally:
            for m in members:
                m.close()


