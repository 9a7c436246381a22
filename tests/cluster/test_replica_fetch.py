"""Followers replicate with Kafka's Fetch (a replica id, KIP-227 sessions) on the Kafka
listener: what a follower's connection sees (kraft's own broker client,
kafka/client/broker_client.py, as a follower uses it), a follower and a consumer long-polling
one partition at once, and idle partitions' followers kept in sync by sessions that
look at them only now and then."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid

import pytest
from cluster_client import call, create_topic
from consumer_client import produce

from kraft.config.cluster_keys import peer_key
from kraft.config.data_dir import read_identity
from kraft.kafka.client.broker_client import BrokerConnection
from kraft.security.broker_login import broker_password
from kraft.storage.record_batch import decode_records, iter_batches

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from kio.schema.fetch.v17 import request as v17  # noqa: E402
from kio.schema.types import BrokerId  # noqa: E402
from kio.static.primitive import i32, i32Timedelta, i64  # noqa: E402

NOT_A_REPLICA = 99  # a broker id no partition has: the leader's view of real followers is left alone
INVALID_FETCH_SESSION_EPOCH = 71
TOPIC_AUTHORIZATION_FAILED = 29


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def replica_fetch(topic_id: uuid.UUID, offset: int, leader_epoch: int, session_id: int, epoch: int,
                  wait_ms: int = 0, partitions: bool = True) -> v17.FetchRequest:
    return v17.FetchRequest(
        replica_state=v17.ReplicaState(replica_id=BrokerId(NOT_A_REPLICA), replica_epoch=i64(1)),
        max_wait=i32Timedelta.parse(datetime.timedelta(milliseconds=wait_ms)), min_bytes=i32(1),
        max_bytes=i32(1 << 20), session_id=i32(session_id), session_epoch=i32(epoch),
        topics=(v17.FetchTopic(topic_id=topic_id, partitions=(v17.FetchPartition(
            partition=i32(0), current_leader_epoch=i32(leader_epoch), fetch_offset=i64(offset),
            last_fetched_epoch=i32(-1), partition_max_bytes=i32(1 << 20)),)),) if partitions else (),
        forgotten_topics_data=())


def partition_of(cluster, topic: str) -> tuple[uuid.UUID, int, int]:
    """(topic id, leader, leader epoch) of partition 0."""
    status, body = call("GET", f"{cluster.v3(1)}/topics/{topic}")
    assert status == 200, body
    status, part = call("GET", f"{cluster.v3(1)}/topics/{topic}/partitions/0")
    assert status == 200, part
    return uuid.UUID(body["topic_id"]), part["leader_id"], part["leader_epoch"]


def values_of(records: bytes) -> list[bytes]:
    return [r.value for pos, _ in iter_batches(records) for r in decode_records(records, pos)]


def connection_to(cluster, broker_id: int, as_broker: bool = True) -> BrokerConnection:
    """kraft's own broker client; logged in as the brokers are (the credential every node
    derives from the cluster's secret, read here from a data dir), or not at all."""
    node = cluster.config.node(broker_id)
    password = broker_password(peer_key(read_identity(cluster.config.node(1).data_path))) if as_broker else None
    return BrokerConnection(lambda: (node.host, node.kafka_port), "test-follower", None, password)


def test_on_an_open_cluster_only_a_broker_may_fetch_as_a_replica(cluster):
    """Every client may do anything on an open cluster, but pass for a follower (and have
    the leader count writes as replicated): that takes the brokers' login."""
    topic = "replica-fetch-refused"
    create_topic(cluster, topic, partitions=1)
    produce(cluster, topic, [{"value": "r"}])
    topic_id, leader, leader_epoch = partition_of(cluster, topic)

    async def code(as_broker: bool) -> int:
        connection = connection_to(cluster, leader, as_broker)
        try:
            answer = await connection.request(replica_fetch(topic_id, 0, leader_epoch, 0, -1), 30)
            return answer.responses[0].partitions[0].error_code.value
        finally:
            await connection.close()

    assert asyncio.run(code(as_broker=False)) == TOPIC_AUTHORIZATION_FAILED
    assert asyncio.run(code(as_broker=True)) == 0


def test_a_replica_fetch_reads_the_log_in_a_session(cluster):
    """A full fetch opens a session and carries the records; the next, naming the new
    position, carries nothing (no news); a wrong epoch is a session error."""
    topic = "replica-fetched"
    create_topic(cluster, topic, partitions=1)
    produce(cluster, topic, [{"value": {"n": n}} for n in range(5)])
    topic_id, leader, leader_epoch = partition_of(cluster, topic)

    async def scenario():
        connection = connection_to(cluster, leader)
        try:
            full = await connection.request(replica_fetch(topic_id, 0, leader_epoch, 0, 0), 30)
            assert full.error_code.value == 0 and full.session_id != 0
            [part] = full.responses[0].partitions
            assert part.error_code.value == 0 and part.high_watermark == 5
            assert values_of(bytes(part.records)) == [b'{"n":%d}' % n for n in range(5)]
            caught_up = await connection.request(replica_fetch(topic_id, 5, leader_epoch, full.session_id, 1), 30)
            assert caught_up.error_code.value == 0 and caught_up.session_id == full.session_id
            assert caught_up.responses == ()  # nothing new for this follower
            stale = await connection.request(replica_fetch(topic_id, 5, leader_epoch, full.session_id, 1,
                                                           partitions=False), 30)
            assert stale.error_code.value == INVALID_FETCH_SESSION_EPOCH
        finally:
            await connection.close()

    asyncio.run(scenario())


def test_a_follower_and_a_consumer_long_poll_one_partition_at_once(cluster):
    """Both wait on the leader for the same partition; one write wakes both, each with it."""
    topic = "followed-and-consumed"
    create_topic(cluster, topic, partitions=1)
    produce(cluster, topic, [{"value": "before"}])
    topic_id, leader, leader_epoch = partition_of(cluster, topic)
    consumer = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "side-by-side",
                                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 5000})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 60
        first = None
        while first is None and time.monotonic() < deadline:  # joined and read what was there
            message = consumer.poll(1.0)
            first = message if message is not None and message.error() is None else None
        assert first is not None and first.value() == b'"before"'

        async def follower_waits() -> bytes:
            connection = connection_to(cluster, leader)
            try:
                answer = await connection.request(replica_fetch(topic_id, 1, leader_epoch, 0, -1, wait_ms=20_000), 40)
                [part] = answer.responses[0].partitions
                return bytes(part.records)
            finally:
                await connection.close()

        async def both() -> tuple[bytes, bytes | None]:
            waiting = asyncio.create_task(follower_waits())
            await asyncio.sleep(0.5)  # both long polls are waiting now
            await asyncio.to_thread(produce, cluster, topic, [{"value": "after"}])
            records = await asyncio.wait_for(waiting, 40)
            message = None
            until = time.monotonic() + 30
            while message is None and time.monotonic() < until:
                message = await asyncio.to_thread(consumer.poll, 1.0)
            return records, None if message is None else message.value()

        records, consumed = asyncio.run(both())
        assert values_of(records) == [b'"after"'] and consumed == b'"after"'
    finally:
        consumer.close()


def test_followers_of_idle_partitions_stay_in_sync(cluster):
    """With fetch sessions a leader looks at a partition nobody writes only now and then:
    its followers must still count as caught up, past replica.lag.time.max.ms (5 s)."""
    topic = "idle-for-a-while"
    create_topic(cluster, topic, partitions=3)
    produce(cluster, topic, [{"value": {"n": p}, "partition": p} for p in range(3)])

    def in_sync() -> list[int]:
        counts = []
        for p in range(3):
            status, replicas = call("GET", f"{cluster.v3(1)}/topics/{topic}/partitions/{p}/replicas")
            assert status == 200, replicas
            counts.append(sum(1 for r in replicas["data"] if r["is_in_sync"]))
        return counts

    cluster.wait_until(lambda: in_sync() == [3, 3, 3], timeout_s=30, what="every replica in sync after the write")
    time.sleep(2 * 5 + 1)  # two lag windows without a write
    assert in_sync() == [3, 3, 3]
