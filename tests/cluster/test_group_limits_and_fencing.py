"""Group size limits (group.max.size, group.consumer.max.size) with real confluent-kafka
consumers, and a replaced static member's old id fenced on the wire inside a KIP-848
group (a classic member among KIP-848 ones), on a 1-node cluster with small limits."""

from __future__ import annotations

import datetime
import struct
import time
import uuid

import pytest
from kafka_wire import kafka_socket, wire_call

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import KafkaError  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

GROUP_MAX_SIZE_REACHED, FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID = 81, 82, 25


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=1, groups={"group.max.size": 1, "group.consumer.max.size": 3,
                                       "group.consumer.heartbeat.interval.ms": 500}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def create_topic(c, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def poll_until(consumer, done, what: str, timeout_s: float = 30) -> list:
    """Poll (as an application does) until done(errors) holds; the errors seen."""
    errors: list = []
    deadline = time.monotonic() + timeout_s
    while not done(errors):
        assert time.monotonic() < deadline, f"{what} not within {timeout_s}s; errors {errors}"
        msg = consumer.poll(0.2)
        if msg is not None and msg.error():
            errors.append(msg.error())
    return errors


def consumer(c, group: str, name: str, kip848: bool = False):
    conf = {"bootstrap.servers": c.bootstrap_servers, "group.id": group, "client.id": name,
            "auto.offset.reset": "earliest"}
    if kip848:  # its session and heartbeat interval are the broker's
        return confluent_kafka.Consumer({**conf, "group.protocol": "consumer"})
    return confluent_kafka.Consumer({**conf, "session.timeout.ms": 10_000, "heartbeat.interval.ms": 500})


def test_a_classic_group_at_its_limit_refuses_the_next_consumer_and_keeps_its_member(cluster):
    c = cluster
    topic, group = f"limit-{uuid.uuid4().hex[:6]}", f"limit-g-{uuid.uuid4().hex[:6]}"
    create_topic(c, topic, 2)
    first, second = consumer(c, group, "first"), consumer(c, group, "second")
    try:
        first.subscribe([topic])
        poll_until(first, lambda _: len(first.assignment()) == 2, "the first consumer's assignment")
        second.subscribe([topic])
        errors = poll_until(second, lambda seen: seen, "the second consumer's error")
        assert errors[0].code() == KafkaError.GROUP_MAX_SIZE_REACHED, errors
        assert second.assignment() == []
        first.poll(1.0)  # its heartbeats go on: the refused join moved nothing
        assert len(first.assignment()) == 2
    finally:
        second.close()
        first.close()


def test_a_consumer_group_at_its_limit_refuses_the_next_kip848_consumer(cluster):
    c = cluster
    topic, group = f"limit848-{uuid.uuid4().hex[:6]}", f"limit848-g-{uuid.uuid4().hex[:6]}"
    create_topic(c, topic, 3)
    members = [consumer(c, group, f"m{i}", kip848=True) for i in range(4)]
    for m in members[:3]:
        m.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while not all(m.assignment() for m in members[:3]):  # one partition each
            assert time.monotonic() < deadline, "three members assigned within 30s"
            for m in members[:3]:
                m.poll(0.1)
        members[3].subscribe([topic])
        errors = poll_until(members[3], lambda seen: seen, "the fourth consumer's error")
        # librdkafka makes it fatal: "Fatal error: Broker: Consumer group has reached maximum size"
        assert errors[0].code() == KafkaError._FATAL and "maximum size" in errors[0].str(), errors
        assert members[3].assignment() == []
    finally:
        for m in members:
            m.close()


def subscription(topic: str) -> bytes:
    """A consumer protocol subscription, version 0: the topic, no user data."""
    name = topic.encode()
    return struct.pack(">hih", 0, 1, len(name)) + name + struct.pack(">i", -1)


def test_a_replaced_static_classic_member_of_a_kip848_group_is_fenced_not_unknown(cluster):
    from kio.schema.consumer_group_heartbeat.v1.request import ConsumerGroupHeartbeatRequest
    from kio.schema.heartbeat.v4.request import HeartbeatRequest
    from kio.schema.join_group.v9.request import JoinGroupRequest, JoinGroupRequestProtocol
    from kio.schema.leave_group.v5.request import LeaveGroupRequest, MemberIdentity
    from kio.schema.sync_group.v5.request import SyncGroupRequest

    c = cluster
    topic, group = f"fence-{uuid.uuid4().hex[:6]}", f"fence-g-{uuid.uuid4().hex[:6]}"
    create_topic(c, topic, 2)
    with kafka_socket(c, 1) as s:
        joined = wire_call(s, ConsumerGroupHeartbeatRequest(
            group_id=group, member_id=uuid.uuid4().hex, member_epoch=0, instance_id=None, rack_id=None,
            rebalance_timeout=datetime.timedelta(seconds=30), subscribed_topic_names=(topic,), server_assignor=None,
            topic_partitions=()))
        assert int(joined.error_code.value) == 0, joined  # a KIP-848 member: the group is a consumer group

        def classic_join(member_id: str):
            return wire_call(s, JoinGroupRequest(
                group_id=group, session_timeout=datetime.timedelta(seconds=10),
                rebalance_timeout=datetime.timedelta(seconds=10), member_id=member_id, group_instance_id="box",
                protocol_type="consumer", reason=None,
                protocols=(JoinGroupRequestProtocol(name="range", metadata=subscription(topic)),)))

        first = classic_join("")
        assert int(first.error_code.value) == 0, first
        back = classic_join("")  # the process restarted: its instance id, no member id
        assert int(back.error_code.value) == 0 and back.member_id != first.member_id, back
        old, generation = first.member_id, int(first.generation_id)
        beat = wire_call(s, HeartbeatRequest(group_id=group, generation_id=generation, member_id=old,
                                             group_instance_id="box"))
        assert int(beat.error_code.value) == FENCED_INSTANCE_ID, beat
        synced = wire_call(s, SyncGroupRequest(group_id=group, generation_id=generation, member_id=old,
                                               group_instance_id="box", protocol_type="consumer",
                                               protocol_name="range", assignments=()))
        assert int(synced.error_code.value) == FENCED_INSTANCE_ID, synced
        left = wire_call(s, LeaveGroupRequest(group_id=group, members=(
            MemberIdentity(member_id=old, group_instance_id="box", reason=None),)))
        assert int(left.members[0].error_code.value) == FENCED_INSTANCE_ID, left
        unknown = wire_call(s, HeartbeatRequest(group_id=group, generation_id=generation, member_id=old,
                                                group_instance_id=None))
        assert int(unknown.error_code.value) == UNKNOWN_MEMBER_ID, unknown
        current = wire_call(s, HeartbeatRequest(group_id=group, generation_id=int(back.generation_id),
                                                member_id=back.member_id, group_instance_id="box"))
        assert int(current.error_code.value) in (0, 27), current  # the new process carries on (27: rejoin)
