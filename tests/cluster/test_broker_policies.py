"""The broker's write rules, held once for both doors (kraft/broker/client_writes.py).

One suite, run through REST and through the Kafka protocol: what a client may not
write (an internal topic, a record over max.message.bytes) is refused with each door's
code and nothing is stored; what the topic's configs change (LogAppendTime, the
stored codec) changes it the same way, whichever door the write came through. The
stored batch is read back raw, over Kafka Fetch, so the test sees what the log holds.
Plus real Kafka clients on __consumer_offsets: confluent-kafka gets the broker's
INVALID_TOPIC_EXCEPTION; kafka-python refuses before sending, as it does with Kafka.
"""

from __future__ import annotations

import base64
import time

import pytest
from cluster_client import call, create_topic
from kafka_wire import fetch_frame, kafka_socket, leader_of, produce_error_code, produce_frame, recv_frame

from kraft.server.local_cluster import LocalCluster
from kraft.storage.record import Record
from kraft.storage.record_batch import BatchHeader, decode_all, encode_batch

pytestmark = pytest.mark.cluster

GZIP = 1
# Each refusal: (REST error_code, Kafka error code).
INTERNAL_TOPIC = (42206, 17)  # INVALID_TOPIC_EXCEPTION
TOO_LARGE = (413, 10)  # MESSAGE_TOO_LARGE
DOORS = ("rest", "kafka")


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def write(c, door: str, topic: str, partition: int, value: bytes, timestamp_ms: int | None = None) -> int | None:
    """Write one record through a door; None when stored, else the door's error code.
    The time is now unless given: a record from 1970 is past any retention.ms, and the
    log's retention would take it before the test reads it back."""
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    if door == "rest":
        record = {"partition_id": partition, "value": {"type": "BINARY", "data": base64.b64encode(value).decode()},
                  "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp_ms / 1000)) + ".000Z"}
        status, body = call("POST", f"{c.v3(1)}/topics/{topic}/records", record)
        return None if status == 200 and body.get("error_code") == 200 else body["error_code"]
    batch = encode_batch([Record(b"k", value, (), timestamp_ms)], 0, -1)
    with kafka_socket(c, _leader_or_any(c, topic, partition)) as s:
        s.sendall(produce_frame(topic, partition, batch, correlation_id=1))
        code = produce_error_code(recv_frame(s))
    return None if code == 0 else code


def _leader_or_any(c, topic: str, partition: int) -> int:
    status, body = call("GET", f"{c.url(1)}/topics/{topic}/partitions/{partition}")
    return body["leader"] if status == 200 else 1


def stored_batches(c, topic: str, partition: int) -> list[bytes]:
    """The partition's batches as the log holds them, over Kafka Fetch."""
    from kio.schema.fetch.v11.response import FetchResponse
    from kio.serial import entity_reader
    with kafka_socket(c, leader_of(c, topic, partition)) as s:
        s.sendall(fetch_frame(topic, partition, correlation_id=2, max_bytes=1 << 20))
        frame = recv_frame(s)
    answer, _ = entity_reader(FetchResponse)(frame, 4)
    part = answer.responses[0].partitions[0]
    assert part.error_code.value == 0, part
    data, out = part.records or b"", []
    while data:
        size = BatchHeader.parse(data).size
        out.append(data[:size])
        data = data[size:]
    return out


def end_offset(c, topic: str, partition: int) -> int:
    status, body = call("GET", f"{c.url(1)}/topics/{topic}/partitions/{partition}/offsets")
    assert status == 200, body
    return body["end_offset"]


def offsets_topic(c) -> str:
    """__consumer_offsets exists once a group has been used: use one over REST."""
    name = "__consumer_offsets"
    status, _ = call("GET", f"{c.v3(1)}/topics/{name}")
    if status != 200:  # creating a consumer makes its group's coordinator, and the topic
        status, body = call("POST", f"{c.url(1)}/consumers/policy-seed-group", {"name": "seed", "format": "binary"},
                            headers={"Content-Type": "application/vnd.kafka.v2+json"})
        assert status == 200, body
        c.wait_until(lambda: call("GET", f"{c.v3(1)}/topics/{name}")[0] == 200, 30, "offsets topic created")
    return name


@pytest.mark.parametrize("door", DOORS)
def test_no_client_writes_an_internal_topic(cluster, door):
    topic = offsets_topic(cluster)
    before = end_offset(cluster, topic, 0)
    assert write(cluster, door, topic, 0, b"evil") == INTERNAL_TOPIC[DOORS.index(door)]
    assert end_offset(cluster, topic, 0) == before


@pytest.mark.parametrize("door", DOORS)
def test_a_record_over_max_message_bytes_is_refused_and_not_stored(cluster, door):
    topic = create_topic(cluster, f"small-{door}", 1, {"max.message.bytes": 1000})
    assert write(cluster, door, topic, 0, b"x" * 2000) == TOO_LARGE[DOORS.index(door)]
    assert write(cluster, door, topic, 0, b"x" * 100) is None
    assert end_offset(cluster, topic, 0) == 1


@pytest.mark.parametrize("door", DOORS)
def test_log_append_time_stamps_the_brokers_clock(cluster, door):
    topic = create_topic(cluster, f"lat-{door}", 1, {"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    assert write(cluster, door, topic, 0, b"v", timestamp_ms=1_000) is None
    [batch] = stored_batches(cluster, topic, 0)
    [record] = decode_all(batch)
    assert before - 5_000 <= record.timestamp_ms <= int(time.time() * 1000) + 5_000


@pytest.mark.parametrize("stamped", [True, False])
def test_a_kafka_client_is_told_the_log_append_time(cluster, stamped):
    """As Kafka answers a Produce to a LogAppendTime topic with the time the broker
    stamped, which clients report as the record's timestamp; a CreateTime topic's
    answer leaves the producer's own time."""
    confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
    topic = create_topic(cluster, f"lat-client-{stamped}", 1,
                         {"message.timestamp.type": "LogAppendTime" if stamped else "CreateTime"})
    created = int(time.time() * 1000) - 60_000  # the producer's time: a minute ago
    delivered = []
    producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
    producer.produce(topic, b"v", partition=0, timestamp=created,
                     on_delivery=lambda err, msg: delivered.append((err, msg.timestamp())))
    assert producer.flush(30) == 0
    [(err, (kind, reported))] = delivered
    [batch] = stored_batches(cluster, topic, 0)
    [record] = decode_all(batch)
    assert err is None and reported == record.timestamp_ms
    if stamped:
        assert kind == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME and reported > created
    else:
        assert kind == confluent_kafka.TIMESTAMP_CREATE_TIME and reported == created


@pytest.mark.parametrize("door", DOORS)
def test_the_topics_codec_is_the_stored_codec(cluster, door):
    topic = create_topic(cluster, f"gzip-{door}", 1, {"compression.type": "gzip"})
    assert write(cluster, door, topic, 0, b"compress me " * 50) is None
    [batch] = stored_batches(cluster, topic, 0)
    assert BatchHeader.parse(batch).compression == GZIP
    assert [r.value for r in decode_all(batch)] == [b"compress me " * 50]


@pytest.mark.parametrize("door", DOORS)
def test_a_write_right_after_create_waits_for_the_log_to_open(cluster, door):
    """The image names the leader a moment before its log is open: no NOT_LEADER then."""
    for i in range(5):
        topic = f"fresh-{door}-{i}"
        status, body = call("POST", f"{cluster.v3(1)}/topics",
                            {"topic_name": topic, "partitions_count": 1, "replication_factor": 3})
        assert status == 201, body
        # known to every node's image (the leader's too, which may lag node 1's): from then
        # on a write must wait for the leader's log to open, never be refused
        cluster.wait_until(lambda: all(call("GET", f"{cluster.url(n)}/topics/{topic}/partitions/0")[0] == 200
                                       for n in (1, 2, 3)), 10, "partition known everywhere")
        assert write(cluster, door, topic, 0, b"first") is None


def test_kafka_clients_get_kafkas_error_writing_the_offsets_topic(cluster):
    confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
    kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra")
    topic = offsets_topic(cluster)
    before = end_offset(cluster, topic, 0)

    reports = []
    producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all",
                                         "message.send.max.retries": 0})
    producer.produce(topic, key=b"evilkey", value=b"v", partition=0,
                     on_delivery=lambda err, msg: reports.append(err))
    producer.flush(30)
    assert len(reports) == 1 and reports[0] is not None
    assert reports[0].code() == confluent_kafka.KafkaError.TOPIC_EXCEPTION, reports[0]

    # kafka-python stops before the wire: Metadata marks the topic internal (as Kafka
    # does), and its producer sends nothing to an internal topic
    kp = kafka.KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all", retries=0)
    try:
        with pytest.raises(ValueError, match="did not assign a partition"):
            kp.send(topic, key=b"evilkey", value=b"v", partition=0).get(timeout=30)
    finally:
        kp.close(5)
    assert end_offset(cluster, topic, 0) == before


@pytest.mark.parametrize("door", DOORS)
def test_after_a_leader_move_writes_reach_the_new_leader_and_only_it(cluster, door):
    """Leadership moves (the replica order rotated, then preferred-leader election):
    REST through the old leader's node is forwarded; a Kafka client at the old leader
    gets NOT_LEADER_OR_FOLLOWER (6) and goes to the new one. Nothing is stored twice."""
    topic = create_topic(cluster, f"moving-{door}", 1)
    old = leader_of(cluster, topic, 0)
    assert write(cluster, door, topic, 0, b"before") is None
    status, body = call("GET", f"{cluster.url(1)}/topics/{topic}/partitions/0")
    replicas = [r["broker"] if isinstance(r, dict) else r for r in body["replicas"]]
    new = next(r for r in replicas if r != old)
    rotated = [new] + [r for r in replicas if r != new]
    status, body = call("POST", f"{cluster.v3(1)}/topics/{topic}/partitions/0/reassignment", {"replicas": rotated})
    assert status in (200, 202), body
    # Every node, the old leader included, must have seen the move: a write the old
    # leader took before it heard would be answered "outcome unknown", not 6.
    cluster.wait_until(lambda: all(
        call("GET", f"{cluster.url(n)}/topics/{topic}/partitions/0")[1].get("leader") == rotated[0]
        for n in cluster.hosts), 30, "every node saw the leadership move")
    if door == "kafka":
        with kafka_socket(cluster, old) as s:
            stale = encode_batch([Record(b"k", b"stale", (), int(time.time() * 1000))], 0, -1)
            s.sendall(produce_frame(topic, 0, stale, 3))
            assert produce_error_code(recv_frame(s)) == 6
    else:
        record = {"partition_id": 0, "value": {"type": "BINARY", "data": base64.b64encode(b"via-old").decode()}}
        status, body = call("POST", f"{cluster.v3(old)}/topics/{topic}/records", record)
        assert status == 200 and body["error_code"] == 200, body
    assert write(cluster, door, topic, 0, b"after") is None
    values = [r.value for b in stored_batches(cluster, topic, 0) for r in decode_all(b)]
    assert values == ([b"before", b"after"] if door == "kafka" else [b"before", b"via-old", b"after"])
