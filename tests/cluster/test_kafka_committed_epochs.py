"""A group member's commit carries the leader epoch of the record it consumed (KIP-320),
kept with the offset and read back (explicit commits and transactions:
test_committed_leader_epoch.py). librdkafka on the shared 3-node cluster."""

from __future__ import annotations

import uuid

import pytest
from cluster_client import create_topic

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import TopicPartition  # noqa: E402


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def test_a_group_member_commits_the_leader_epoch_of_what_it_consumed(cluster):
    c = cluster
    topic, group = f"epochs-m-{uuid.uuid4().hex[:6]}", f"epochs-mg-{uuid.uuid4().hex[:6]}"
    create_topic(c, topic, partitions=1)
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
    for i in range(3):
        producer.produce(topic, f"v{i}".encode(), partition=0)
    assert producer.flush(20) == 0
    consumer = confluent_kafka.Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": group,
                                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        last = None
        for _ in range(100):  # bounded: 100 polls of up to 0.5 s
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                last = msg
                if msg.offset() == 2:
                    break
        assert last is not None and last.offset() == 2 and last.leader_epoch() is not None
        consumer.commit(message=last, asynchronous=False)
        [tp] = consumer.committed([TopicPartition(topic, 0)], timeout=20)
    finally:
        consumer.close()
    assert (tp.offset, tp.leader_epoch) == (3, last.leader_epoch())
