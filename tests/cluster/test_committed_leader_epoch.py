"""A committed offset keeps the leader epoch its client committed with (KIP-320): Kafka
stores the epoch of an OffsetCommit (v6+) or TxnOffsetCommit (v2+) beside the offset and
answers it in OffsetFetch (v5+); a consumer that resumes from it validates its position
against that epoch. librdkafka's own suite (0103_transactions) compares the two.

Real confluent-kafka clients on the shared 3-node cluster; topics and groups named
committed-epoch-*."""

from __future__ import annotations

import time
import uuid

import pytest

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def _topic(cluster, name: str, partitions: int = 1) -> str:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    admin.create_topics([NewTopic(name, partitions, 3)])[name].result(30)
    return name


def _produce(cluster, topic: str, count: int) -> None:
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
    for i in range(count):
        p.produce(topic, f"v{i}".encode(), partition=0)
    assert p.flush(30) == 0


def _consume_one(consumer, deadline_s: float = 30.0):
    """The first record a consumer assigned to a partition reads (None if none in time)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            return msg
    return None


def _consumer(cluster, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def test_a_commit_reads_back_with_the_leader_epoch_it_was_made_with(shared_cluster):
    topic = _topic(shared_cluster, f"committed-epoch-plain-{uuid.uuid4().hex[:8]}")
    _produce(shared_cluster, topic, 5)
    group = f"committed-epoch-plain-{uuid.uuid4().hex[:8]}"
    c = _consumer(shared_cluster, group)
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        msg = _consume_one(c)
        assert msg is not None, "no record read"
        epoch = msg.leader_epoch()
        assert epoch is not None and epoch >= 0  # the epoch the record was read under
        c.commit(offsets=[TopicPartition(topic, 0, 3, leader_epoch=epoch)], asynchronous=False)
        [got] = c.committed([TopicPartition(topic, 0)], timeout=30)
        assert (got.offset, got.leader_epoch) == (3, epoch)
    finally:
        c.close()

    # a new member of the group reads the same epoch back, and resumes at the offset
    c2 = _consumer(shared_cluster, group)
    try:
        [got] = c2.committed([TopicPartition(topic, 0)], timeout=30)
        assert (got.offset, got.leader_epoch) == (3, epoch)
        c2.assign([TopicPartition(topic, 0)])
        msg = _consume_one(c2)
        assert msg is not None and msg.offset() == 3
    finally:
        c2.close()


def test_a_transactions_offsets_read_back_with_their_leader_epoch(shared_cluster):
    topic = _topic(shared_cluster, f"committed-epoch-txn-{uuid.uuid4().hex[:8]}")
    _produce(shared_cluster, topic, 5)
    group = f"committed-epoch-txn-{uuid.uuid4().hex[:8]}"
    c = _consumer(shared_cluster, group)
    p = Producer({"bootstrap.servers": shared_cluster.bootstrap_servers,
                  "transactional.id": f"committed-epoch-{uuid.uuid4().hex[:8]}"})
    try:
        c.subscribe([topic])
        msg = _consume_one(c)
        assert msg is not None, "no record read"
        epoch = msg.leader_epoch()
        assert epoch is not None and epoch >= 0
        p.init_transactions(30)
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(topic, 0, 2, leader_epoch=epoch)],
                                      c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        [got] = c.committed([TopicPartition(topic, 0)], timeout=30)
        assert (got.offset, got.leader_epoch) == (2, epoch)
    finally:
        c.close()


def test_a_commit_without_an_epoch_reads_back_without_one(shared_cluster):
    topic = _topic(shared_cluster, f"committed-epoch-none-{uuid.uuid4().hex[:8]}")
    group = f"committed-epoch-none-{uuid.uuid4().hex[:8]}"
    c = _consumer(shared_cluster, group)
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
        [got] = c.committed([TopicPartition(topic, 0)], timeout=30)
        assert (got.offset, got.leader_epoch) == (1, None)
    finally:
        c.close()
