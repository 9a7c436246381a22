"""KIP-392, fetching from the closest replica, against real processes and clients: with
`replica.selector.class` = RackAwareReplicaSelector a consumer whose `client.rack` is a
follower's rack reads every record from that follower (its bytes out count them, the
leader's do not); without a selector (Kafka's default) the leader serves. On the wire:
the leader's preferred_read_replica answer, the follower's own answers (records within
its high watermark, OFFSET_OUT_OF_RANGE past its log, NOT_LEADER_OR_FOLLOWER to a
request older than v11)."""

from __future__ import annotations

import datetime
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kraft.config.cluster import RACK_AWARE_REPLICA_SELECTOR
from kraft.server.local_cluster import LocalCluster, http_json

from kafka_wire import entity_frame, kafka_socket, read_answer, recv_frame, wire_call

pytestmark = pytest.mark.cluster

NOT_LEADER_OR_FOLLOWER = 6

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
RACKS = {1: "r1", 2: "r2", 3: "r3"}
RECORDS, VALUE_SIZE = 300, 200
BYTES_OUT = "kafka_server_brokertopicmetrics_bytesout_total"
NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE = 6, 1


@pytest.fixture(scope="module")
def selector_cluster():
    with LocalCluster(nodes=3, racks=RACKS, cluster={"replica.selector.class": RACK_AWARE_REPLICA_SELECTOR}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def create_and_fill(c, topic: str, followers_serve: bool = True) -> tuple[int, list[int]]:
    """A 1-partition topic on all three brokers, RECORDS records produced with acks=all;
    (leader, followers). followers_serve: wait until each follower answers a consumer's
    fetch with the high watermark that covers them (a cluster with the selector)."""
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic, "partitions_count": 1,
                                                          "replication_factor": 3})
    assert status == 201, body
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "linger.ms": 5})
    for i in range(RECORDS):
        producer.produce(topic, f"{i:06d}".encode().ljust(VALUE_SIZE, b"."), partition=0)
    assert producer.flush(30) == 0
    status, body = http_json("GET", c.v3(1) + f"/topics/{topic}/partitions/0")
    assert status == 200, body
    leader = body["leader_id"]
    followers = [n for n in c.hosts if n != leader]
    # every follower has the records and has heard of the high watermark that covers them
    if followers_serve:
        c.wait_until(lambda: all(fetch(c, n, topic, RACKS[n]).high_watermark == RECORDS for n in followers), 30,
                     "followers at the high watermark")
    return leader, followers


def fetch(c, node: int, topic: str, rack: str, offset: int = 0, max_bytes: int = 1 << 20):
    """One Fetch v12 (no session, no wait) for partition 0 to `node`; its partition answer."""
    with kafka_socket(c, node) as s:
        return wire_call(s, fetch_request(topic, rack, offset, max_bytes)).responses[0].partitions[0]


def fetch_request(topic: str, rack: str, offset: int = 0, max_bytes: int = 1 << 20, session_id: int = 0,
                  session_epoch: int = -1, wait_ms: int = 0, partitions: bool = True):
    from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
    return FetchRequest(
        replica_id=-1, max_wait=datetime.timedelta(milliseconds=wait_ms), min_bytes=1 if wait_ms else 0,
        max_bytes=max_bytes, isolation_level=0, session_id=session_id, session_epoch=session_epoch, rack_id=rack,
        forgotten_topics_data=(), topics=(FetchTopic(topic=topic, partitions=(FetchPartition(
            partition=0, current_leader_epoch=-1, fetch_offset=offset, last_fetched_epoch=-1,
            log_start_offset=-1, partition_max_bytes=max_bytes),)),) if partitions else ())


def bytes_out(c) -> dict[int, float]:
    out = {}
    for node in c.hosts:
        status, text = c.get(node, "/metrics")
        assert status == 200
        out[node] = next(s.value for family in text_string_to_metric_families(text)
                         for s in family.samples if s.name == BYTES_OUT)
    return out


def consume_all(c, topic: str, rack: str) -> list[bytes]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": f"g-{topic}",
                                         "client.rack": rack, "enable.auto.commit": False,
                                         "auto.offset.reset": "earliest"})
    got: list[bytes] = []
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 60
        while len(got) < RECORDS and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append(msg.value())
    finally:
        consumer.close()
    return got


def expected_values() -> list[bytes]:
    return [f"{i:06d}".encode().ljust(VALUE_SIZE, b".") for i in range(RECORDS)]


def test_a_consumer_in_a_followers_rack_reads_everything_from_that_follower(selector_cluster):
    c = selector_cluster
    leader, followers = create_and_fill(c, "near")
    near = followers[0]
    before = bytes_out(c)
    assert consume_all(c, "near", RACKS[near]) == expected_values()
    served = {node: bytes_out(c)[node] - before[node] for node in c.hosts}
    assert served[near] >= RECORDS * VALUE_SIZE, served  # every record came from the follower
    assert served[leader] == 0, served  # the leader sent it there, with no records
    assert served[followers[1]] == 0, served


def test_the_leader_names_the_follower_in_the_consumers_rack_on_the_wire(selector_cluster):
    c = selector_cluster
    leader, followers = create_and_fill(c, "wire-near")
    for follower in followers:
        answer = fetch(c, leader, "wire-near", RACKS[follower])
        assert (int(answer.error_code.value), answer.preferred_read_replica) == (0, follower)
        assert not answer.records and answer.high_watermark == RECORDS
    for rack in (RACKS[leader], "", "elsewhere"):  # the leader's own rack, no rack, a rack with no replica
        answer = fetch(c, leader, "wire-near", rack)
        assert answer.preferred_read_replica == -1 and answer.records, rack
    # the follower serves a v11+ consumer from its own log, within its high watermark
    answer = fetch(c, followers[0], "wire-near", RACKS[followers[0]])
    assert int(answer.error_code.value) == 0 and answer.records and answer.high_watermark == RECORDS
    assert answer.preferred_read_replica == -1
    # past the follower's log: out of range (the client goes back to the leader)
    answer = fetch(c, followers[0], "wire-near", RACKS[followers[0]], offset=RECORDS + 10)
    assert int(answer.error_code.value) == OFFSET_OUT_OF_RANGE


def test_a_fetch_session_on_a_follower_carries_on_and_its_long_poll_wakes_for_new_records(selector_cluster):
    c = selector_cluster
    leader, followers = create_and_fill(c, "follower-session")
    rack = RACKS[followers[0]]
    with kafka_socket(c, followers[0]) as s:
        full = wire_call(s, fetch_request("follower-session", rack, session_epoch=0))
        assert full.session_id != 0 and full.responses[0].partitions[0].records
        # at the end: an incremental answer leaves the partition out (nothing new)
        nothing_new = wire_call(s, fetch_request("follower-session", rack, offset=RECORDS,
                                                 session_id=full.session_id, session_epoch=1), 2)
        assert int(nothing_new.error_code.value) == 0 and nothing_new.responses == ()
        # the session's position, unnamed: the follower waits until the record is there
        # and below the HW its leader tells it (a follower that never woke would leave the
        # socket's 10 s timeout to end the test, well before the 20 s wait)
        s.sendall(entity_frame(fetch_request("follower-session", rack, session_id=full.session_id,
                                             session_epoch=2, wait_ms=20_000, partitions=False), 3))
        producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
        producer.produce("follower-session", b"late", partition=0)
        assert producer.flush(30) == 0
        answer = read_answer(1, 12, recv_frame(s))
        part = answer.responses[0].partitions[0]
        assert int(part.error_code.value) == 0 and part.records and part.high_watermark == RECORDS + 1


@pytest.mark.parametrize("replicas", [3, 1])
def test_a_long_poll_on_the_leader_wakes_once_a_record_is_readable(selector_cluster, replicas):
    """A consumer's long poll at the leader ends when a produced record becomes
    readable: with 3 replicas when the high watermark covers it (the append alone is no
    news to a consumer), with 1 at the append itself. One that never woke would leave
    the socket's 10 s timeout to end the test, well before the 20 s wait."""
    c = selector_cluster
    topic = f"leader-long-poll-{replicas}"
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic, "partitions_count": 1,
                                                          "replication_factor": replicas})
    assert status == 201, body
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
    producer.produce(topic, b"first", partition=0)
    assert producer.flush(30) == 0
    status, body = http_json("GET", c.v3(1) + f"/topics/{topic}/partitions/0")
    assert status == 200, body
    leader = body["leader_id"]
    with kafka_socket(c, leader) as s:
        s.sendall(entity_frame(fetch_request(topic, RACKS[leader], offset=1, wait_ms=20_000), 1))
        producer.produce(topic, b"second", partition=0)
        assert producer.flush(30) == 0
        part = read_answer(1, 12, recv_frame(s)).responses[0].partitions[0]
        assert int(part.error_code.value) == 0 and part.records and part.high_watermark == 2


def test_a_fetch_older_than_v11_is_answered_by_the_leader_only(selector_cluster):
    from kio.schema.fetch.v10.request import FetchPartition, FetchRequest, FetchTopic
    c = selector_cluster
    leader, followers = create_and_fill(c, "old-fetch")
    request = FetchRequest(
        replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1 << 20, isolation_level=0,
        session_id=0, session_epoch=-1, forgotten_topics_data=(), topics=(FetchTopic(
            topic="old-fetch", partitions=(FetchPartition(partition=0, current_leader_epoch=-1, fetch_offset=0,
                                                          log_start_offset=-1, partition_max_bytes=1 << 20),)),))
    with kafka_socket(c, followers[0]) as s:
        assert int(wire_call(s, request).responses[0].partitions[0].error_code.value) == NOT_LEADER_OR_FOLLOWER
    with kafka_socket(c, leader) as s:
        assert wire_call(s, request).responses[0].partitions[0].records


def test_the_selector_is_a_static_broker_config(selector_cluster):
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigEntry, AlterConfigOpType
    c = selector_cluster
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    entry = admin.describe_configs([resource])[resource].result(30)["replica.selector.class"]
    assert (entry.value, entry.is_read_only) == (RACK_AWARE_REPLICA_SELECTOR, True)
    assert entry.source == confluent_kafka.admin.ConfigSource.STATIC_BROKER_CONFIG.value
    change = ConfigResource(ConfigResource.Type.BROKER, "1", incremental_configs=[
        ConfigEntry("replica.selector.class", "x", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(confluent_kafka.KafkaException):  # as Kafka: not a dynamic broker config
        admin.incremental_alter_configs([change])[change].result(30)


def test_without_a_selector_the_leader_serves_every_consumer():
    with LocalCluster(nodes=3, racks=RACKS) as c:
        c.start().wait_ready(timeout_s=60)
        leader, followers = create_and_fill(c, "far", followers_serve=False)
        # without a selector no consumer is sent to a follower: one that comes anyway has
        # stale metadata, and is sent back to the leader
        assert [int(fetch(c, n, "far", RACKS[n]).error_code) for n in followers] == [NOT_LEADER_OR_FOLLOWER] * 2
        before = bytes_out(c)
        assert consume_all(c, "far", RACKS[followers[0]]) == expected_values()
        served = {node: bytes_out(c)[node] - before[node] for node in c.hosts}
        assert served[leader] >= RECORDS * VALUE_SIZE, served
        assert served[followers[0]] == 0 and served[followers[1]] == 0, served
        from confluent_kafka.admin import AdminClient, ConfigResource
        resource = ConfigResource(ConfigResource.Type.BROKER, "2")
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
        entry = admin.describe_configs([resource])[resource].result(30)["replica.selector.class"]
        assert (entry.value, entry.source) == (None, confluent_kafka.admin.ConfigSource.DEFAULT_CONFIG.value)
