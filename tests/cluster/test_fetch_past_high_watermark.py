"""A consumer positioned on records written but not yet replicated (past the high watermark,
within the log) waits for them, as against Kafka, instead of being told OFFSET_OUT_OF_RANGE
and reset (aiokafka's test_consumer_compressed_returns_older_msgs and
test_consumer_seek_to_end met this with acks=1 producers)."""

from __future__ import annotations

import time

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
TOPIC = "past-hw"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def leader(c) -> int:
    status, body = http_json("GET", c.v3(1) + f"/topics/{TOPIC}/partitions/0")
    assert status == 200, body
    return body["leader_id"]


def test_a_consumer_at_an_offset_past_the_high_watermark_waits_for_it(cluster):
    c = cluster
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": TOPIC, "partitions_count": 1,
                                                          "replication_factor": 3})
    assert status == 201, body
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
    producer.produce(TOPIC, b"r0", partition=0)
    assert producer.flush(30) == 0
    # a follower that is not the active controller (pausing that would stall metadata)
    follower = next(n for n in c.hosts if n not in (leader(c), c.raft_leader()))
    c.pause(follower)  # still in the ISR for replica.lag.time.max.ms: the HW stays at 1
    try:
        fast = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": 1})
        for value in (b"r1", b"r2", b"r3"):
            fast.produce(TOPIC, value, partition=0)
        assert fast.flush(30) == 0  # the log now ends at 4, the high watermark is 1
        consumer = confluent_kafka.Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "past-hw",
                                             "enable.auto.commit": False, "auto.offset.reset": "error"})
        consumer.assign([confluent_kafka.TopicPartition(TOPIC, 0, 3)])
        msg = consumer.poll(1.5)  # nothing readable yet, and no error either
        assert msg is None or (msg.error() is None and msg.value() == b"r3"), msg and msg.error()
    finally:
        c.resume(follower)
    try:
        got = [] if msg is None else [msg.value()]
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append(msg.value())
        assert got == [b"r3"]  # from where it was put, not reset
    finally:
        consumer.close()
