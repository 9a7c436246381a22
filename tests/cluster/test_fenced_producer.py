"""A transactional producer fenced by a newer one with the same transactional.id learns it
from its next produce: Kafka answers that Produce INVALID_PRODUCER_EPOCH (its partition
leaders map the coordinator's PRODUCER_FENCED to it, which producers expect there), and
librdkafka then raises a fatal _FENCED error, so the old instance stops instead of aborting
and carrying on beside the new one. librdkafka's own suite checks it (0103_transactions,
"produce after fence").

Real confluent-kafka producers on the shared 3-node cluster; topics named fenced-producer-*."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def test_a_producer_fenced_mid_transaction_gets_a_fatal_fenced_error_and_writes_nothing(shared_cluster):
    bootstrap = shared_cluster.bootstrap_servers
    topic = f"fenced-producer-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept until its answer: a dropped client fails it
    admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(30)
    conf = {"bootstrap.servers": bootstrap, "transactional.id": f"fenced-{uuid.uuid4().hex[:8]}"}
    old = Producer(conf)
    new = Producer(conf)
    old.init_transactions(30)
    old.begin_transaction()
    old.produce(topic, b"before the fence", partition=0)
    assert old.flush(30) == 0

    new.init_transactions(30)  # bumps the epoch: the old instance's transaction is aborted

    old.produce(topic, b"after the fence", partition=0)
    with pytest.raises(KafkaException) as refused:
        old.flush(30)  # the refused produce's fatal error surfaces here, or at the commit
        old.commit_transaction(30)
    error = refused.value.args[0]
    assert error.fatal() and error.code() == KafkaError._FENCED and not error.txn_requires_abort()
    with pytest.raises(KafkaException) as again:  # the instance stays fenced
        old.commit_transaction(30)
    assert again.value.args[0].fatal()

    # nothing of the old instance is readable by a read_committed consumer
    new.begin_transaction()
    new.produce(topic, b"from the new instance", partition=0)
    new.commit_transaction(30)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"fenced-{uuid.uuid4().hex[:8]}",
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        values = []
        for _ in range(30):
            msg = c.poll(1.0)
            if msg is not None and msg.error() is None:
                values.append(msg.value())
            if values:
                break
        assert values == [b"from the new instance"]
    finally:
        c.close()
