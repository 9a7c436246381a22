"""The Kafka protocol listener with the real clients from the package registries:
kafka-python, confluent-kafka (librdkafka), aiokafka and kcat, on a 3-node cluster.
What one door writes, the other reads (REST and Kafka over the same replicas)."""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import struct
import subprocess
import time

import pytest
from cluster_client import V2_BINARY, call, create_topic
from kafka_wire import (
    closed_by_broker,
    fetch_frame,
    kafka_socket,
    leader_of,
    produce_error_code,
    produce_frame,
    recv_frame,
)


pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
aiokafka = pytest.importorskip("aiokafka", reason="aiokafka is a test extra")


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


def rest_values(c, topic, partition, node=2) -> list[bytes]:
    status, body = call("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/records?offset=0&timeout=0",
                        headers={"Accept": V2_BINARY})
    assert status == 200, body
    return [base64.b64decode(r["value"]) for r in body]


def rest_produce(c, topic, partition, values: list[bytes], node=3) -> None:
    records = [{"value": base64.b64encode(v).decode()} for v in values]
    status, body = call("POST", f"{c.url(node)}/topics/{topic}/partitions/{partition}",
                        {"records": records}, headers={"Content-Type": V2_BINARY})
    assert status == 200 and all(o["error_code"] is None for o in body["offsets"]), body


def all_values(c, topic, partitions) -> list[bytes]:
    return [v for p in range(partitions) for v in rest_values(c, topic, p)]


# -- kafka-python ------------------------------------------------------------------------
def test_kafka_python_produces_and_rest_reads_it_back(cluster):
    create_topic(cluster, "kp-produce", 3)
    producer = kafka.KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all",
                                   request_timeout_ms=15000, max_block_ms=30000)
    try:
        futures = [producer.send("kp-produce", key=f"k{i}".encode(), value=f"v{i}".encode())
                   for i in range(200)]
        metadata = [f.get(timeout=30) for f in futures]
    finally:
        producer.close(timeout=10)
    assert {m.topic for m in metadata} == {"kp-produce"}
    assert len({(m.partition, m.offset) for m in metadata}) == 200  # each stored once
    got = all_values(cluster, "kp-produce", 3)
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(200))


def test_kafka_python_consumer_reads_what_rest_wrote(cluster):
    create_topic(cluster, "kp-consume", 1)
    values = [f"rest-{i}".encode() for i in range(50)] + [bytes(range(256))]
    rest_produce(cluster, "kp-consume", 0, values)
    consumer = kafka.KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers, group_id=None,
                                   auto_offset_reset="earliest", enable_auto_commit=False,
                                   consumer_timeout_ms=10000)
    try:
        consumer.assign([kafka.TopicPartition("kp-consume", 0)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < len(values) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                got.extend((m.offset, m.value) for m in batch)
        assert consumer.end_offsets([kafka.TopicPartition("kp-consume", 0)]) == {
            kafka.TopicPartition("kp-consume", 0): len(values)}
    finally:
        consumer.close()
    assert got == list(enumerate(values))


def test_kafka_python_metadata_auto_creates_a_topic(cluster):
    producer = kafka.KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all")
    try:
        record = producer.send("kp-auto-created", b"first").get(timeout=30)
    finally:
        producer.close(timeout=10)
    status, body = call("GET", cluster.v3(1) + "/topics/kp-auto-created")
    assert status == 200 and body["partitions_count"] == 3, body
    assert rest_values(cluster, "kp-auto-created", record.partition) == [b"first"]


# -- confluent-kafka (librdkafka) --------------------------------------------------------
def test_confluent_kafka_idempotent_acks_all_producer_and_consumer(cluster):
    create_topic(cluster, "ck-idem", 3)
    delivered, failed = [], []

    def report(err, msg):
        (failed if err else delivered).append(err or (msg.partition(), msg.offset(), msg.value()))

    producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all",
                                         "enable.idempotence": True, "linger.ms": 5})
    for i in range(500):
        producer.produce("ck-idem", value=f"m{i}".encode(), key=f"{i % 7}".encode(), on_delivery=report)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failed == [] and len(delivered) == 500
    assert sorted(all_values(cluster, "ck-idem", 3)) == sorted(f"m{i}".encode() for i in range(500))

    consumer = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap_servers,
                                         "group.id": "ck-reader", "enable.auto.commit": False})
    try:
        consumer.assign([confluent_kafka.TopicPartition("ck-idem", p, confluent_kafka.OFFSET_BEGINNING)
                         for p in range(3)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 500 and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                got.append((msg.partition(), msg.offset(), msg.value()))
    finally:
        consumer.close()
    assert sorted(got) == sorted(delivered)


# -- aiokafka ----------------------------------------------------------------------------
def test_aiokafka_producer_and_consumer_in_a_group(cluster):
    create_topic(cluster, "aio", 2)

    async def run():
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all")
        await producer.start()
        try:
            sent = [await producer.send_and_wait("aio", f"a{i}".encode(), partition=i % 2) for i in range(40)]
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer("aio", bootstrap_servers=cluster.bootstrap_servers, group_id="aio-g",
                                             auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            got = []
            async with asyncio.timeout(40):
                while len(got) < 40:
                    for batch in (await consumer.getmany(timeout_ms=1000)).values():
                        got.extend(m.value for m in batch)
            await consumer.commit()
        finally:
            await consumer.stop()
        return sent, got

    sent, got = asyncio.run(run())
    assert sorted((s.partition, s.offset) for s in sent) == [(p, o) for p in range(2) for o in range(20)]
    assert sorted(got) == sorted(f"a{i}".encode() for i in range(40))
    status, body = call("GET", cluster.v3(2) + "/consumer-groups/aio-g/lags")
    assert status == 200, body
    assert sorted((lag["partition_id"], lag["current_offset"]) for lag in body["data"]) == [(0, 20), (1, 20)]


# -- kcat ----------------------------------------------------------------------------------
def kcat(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("kcat") is None,
                    reason="kcat not installed (./dev test installs Debian's kcat when run as root)")
def test_kcat_lists_produces_and_consumes(cluster):
    create_topic(cluster, "kcat-t", 2)
    listing = kcat("-b", cluster.bootstrap_servers, "-L", "-t", "kcat-t")
    assert listing.returncode == 0, listing.stderr
    text = listing.stdout.decode()
    assert "3 brokers:" in text and 'topic "kcat-t" with 2 partitions' in text, text

    lines = b"".join(f"line-{i}\n".encode() for i in range(30))
    put = kcat("-b", cluster.bootstrap_servers, "-P", "-t", "kcat-t", "-p", "1", "-X", "acks=all", stdin=lines)
    assert put.returncode == 0, put.stderr
    assert rest_values(cluster, "kcat-t", 1) == [f"line-{i}".encode() for i in range(30)]

    rest_produce(cluster, "kcat-t", 0, [b"from-rest-1", b"from-rest-2"])
    got = kcat("-b", cluster.bootstrap_servers, "-C", "-t", "kcat-t", "-p", "0", "-o", "beginning", "-e",
               "-f", "%o:%s\n")
    assert got.returncode == 0, got.stderr
    assert got.stdout.decode().splitlines() == ["0:from-rest-1", "1:from-rest-2"]


# -- hostile and malformed input (raw sockets) ------------------------------------------


def api_versions_frame(version: int, correlation_id: int) -> bytes:
    header = struct.pack(">hhih", 18, version, correlation_id, 4) + b"test"
    body = b""
    if version >= 3:  # flexible: header tags, then compact strings (length + 1) and body tags
        body = b"\x00" + b"\x05kcat" + b"\x021" + b"\x00"
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def test_api_versions_lists_what_is_served_and_answers_newer_versions_with_v0(cluster):
    from kio.schema.api_versions.v0.response import ApiVersionsResponse as V0
    from kio.schema.api_versions.v3.response import ApiVersionsResponse as V3
    from kio.serial import entity_reader
    with kafka_socket(cluster) as s:
        s.sendall(api_versions_frame(3, 11))
        frame = recv_frame(s)
        assert struct.unpack_from(">i", frame)[0] == 11
        answer, _ = entity_reader(V3)(frame, 4)
        keys = {k.api_key: (k.min_version, k.max_version) for k in answer.api_keys}
        assert answer.error_code == 0 and {0, 1, 2, 3, 18, 22, 23} <= set(keys), keys
        s.sendall(api_versions_frame(9, 12))  # from a client newer than us
        frame = recv_frame(s)
        answer, _ = entity_reader(V0)(frame, 4)
        assert struct.unpack_from(">i", frame)[0] == 12 and answer.error_code == 35  # UNSUPPORTED_VERSION
        assert {k.api_key for k in answer.api_keys} == set(keys)


@pytest.mark.parametrize("name, payload", [
    ("frame larger than socket.request.max.bytes", struct.pack(">i", 200 * 1024 * 1024)),
    ("negative frame size", struct.pack(">i", -5)),
    ("unknown API key", struct.pack(">ihhih", 10, 999, 0, 1, -1)),
    ("API version not served", struct.pack(">ihhih", 10, 0, 1, 1, -1)),  # Produce v1
    ("metadata body cut short", struct.pack(">ihhih", 13, 3, 9, 1, -1) + b"\xff\xff\xff"),
    ("random bytes", struct.pack(">i", 64) + bytes(range(7, 71))),
])
def test_malformed_frames_close_the_connection_and_the_broker_serves_on(cluster, name, payload):
    with kafka_socket(cluster, 2) as s:
        s.sendall(payload)
        assert closed_by_broker(s), name
    with kafka_socket(cluster, 2) as s:  # the same broker answers the next client
        s.sendall(api_versions_frame(3, 5))
        assert struct.unpack_from(">i", recv_frame(s))[0] == 5


def test_a_frame_cut_off_mid_body_stores_nothing(cluster):
    create_topic(cluster, "cut-frame", 1)
    with kafka_socket(cluster, 3) as s:
        s.sendall(struct.pack(">i", 5000) + b"\x00\x00\x00\x09" + b"x" * 100)
    status, body = call("GET", f"{cluster.url(1)}/topics/cut-frame/partitions/0/offsets")
    assert status == 200 and body["end_offset"] == 0, body
    with kafka_socket(cluster, 3) as s:
        s.sendall(api_versions_frame(0, 6))
        assert struct.unpack_from(">i", recv_frame(s))[0] == 6


# -- consumer groups ---------------------------------------------------------------------
def test_confluent_kafka_group_rebalances_and_commits_are_seen_over_rest(cluster):
    create_topic(cluster, "ck-group", 4)
    rest_produce(cluster, "ck-group", 0, [f"p0-{i}".encode() for i in range(10)])
    rest_produce(cluster, "ck-group", 1, [f"p1-{i}".encode() for i in range(10)])
    conf = {"bootstrap.servers": cluster.bootstrap_servers, "group.id": "ck-g", "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    first = confluent_kafka.Consumer(conf)
    second = None
    try:
        first.subscribe(["ck-group"])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < 20 and time.monotonic() < deadline:
            msg = first.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
        assert sorted(got) == sorted([f"p0-{i}".encode() for i in range(10)] + [f"p1-{i}".encode() for i in range(10)])
        assert len(first.assignment()) == 4  # alone in the group: every partition
        first.commit(asynchronous=False)

        second = confluent_kafka.Consumer(conf)
        second.subscribe(["ck-group"])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:  # both poll: the rebalance needs every member
            first.poll(0.2)
            second.poll(0.2)
            if len(first.assignment()) == 2 and len(second.assignment()) == 2:
                break
        mine = {(tp.topic, tp.partition) for tp in first.assignment()}
        theirs = {(tp.topic, tp.partition) for tp in second.assignment()}
        assert len(mine) == len(theirs) == 2 and not mine & theirs, (mine, theirs)
    finally:
        first.close()
        if second is not None:
            second.close()
    status, body = call("GET", cluster.v3(3) + "/consumer-groups/ck-g/lags")
    assert status == 200, body
    committed = sorted((lag["partition_id"], lag["current_offset"]) for lag in body["data"])
    assert committed == [(0, 10), (1, 10)], body  # partitions 2 and 3 had nothing to commit


def test_kafka_python_group_resumes_from_offsets_committed_over_rest(cluster):
    create_topic(cluster, "kp-group", 1)
    rest_produce(cluster, "kp-group", 0, [f"r{i}".encode() for i in range(8)])
    status, body = call("POST", f"{cluster.url(1)}/consumers/kp-g", {"name": "setter", "format": "binary"},
                        headers={"Content-Type": "application/vnd.kafka.v2+json"})
    assert status == 200, body
    base = body["base_uri"]
    status, body = call("POST", base + "/assignments", {"partitions": [{"topic": "kp-group", "partition": 0}]},
                        headers={"Content-Type": "application/vnd.kafka.v2+json"})
    assert status in (200, 204), body
    status, body = call("POST", base + "/offsets", {"offsets": [{"topic": "kp-group", "partition": 0, "offset": 5}]},
                        headers={"Content-Type": "application/vnd.kafka.v2+json"})
    assert status in (200, 204), body
    call("DELETE", base, headers={"Content-Type": "application/vnd.kafka.v2+json"})
    # the consumer's metadata holds the topic before it subscribes: kafka-python 3.0 can leave
    # a member that joined before that owning nothing for good (docs/TESTING.md)
    consumer = kafka.KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers, group_id="kp-g",
                                   auto_offset_reset="earliest", enable_auto_commit=False, metadata_max_age_ms=1000)
    try:
        assert consumer.partitions_for_topic("kp-group"), "the topic in the consumer's metadata"
        consumer.subscribe(["kp-group"])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < 2 and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                got.extend(m.value for m in batch)
        consumer.commit()
    finally:
        consumer.close()
    # REST Proxy v2 commits name the last record consumed (5): the group resumes after it
    assert got == [b"r6", b"r7"]


# -- compression -------------------------------------------------------------------------------
CODECS = ("gzip", "snappy", "lz4", "zstd")


def stored_codecs(c, topic, partition=0) -> set[str]:
    """The codecs of the batches in every replica's segment files of the partition."""
    from kraft.storage.compression import NAME_OF_CODEC
    from kraft.storage.record_batch import iter_batches
    found = set()
    for segment in c.base_dir.glob(f"node-*/**/{topic}-{partition}/*.log"):
        data = segment.read_bytes()
        found.update(NAME_OF_CODEC[h.compression] for _, h in iter_batches(data))
    return found


def test_confluent_kafka_compressed_batches_are_stored_as_sent_and_read_by_both_doors(cluster):
    for codec in CODECS:
        create_topic(cluster, f"ck-{codec}", 1)
    sent = {codec: [f"{codec}-{i} ".encode() * 20 for i in range(300)] for codec in CODECS}
    for codec in CODECS:
        producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all",
                                             "enable.idempotence": True, "compression.type": codec,
                                             "linger.ms": 20})
        failures = []
        for value in sent[codec]:
            producer.produce(f"ck-{codec}", value=value, partition=0,
                             on_delivery=lambda err, msg: err and failures.append(err))
        assert producer.flush(30) == 0 and not failures, failures
    for codec in CODECS:
        assert stored_codecs(cluster, f"ck-{codec}") == {codec}  # as the producer sent it
        assert rest_values(cluster, f"ck-{codec}", 0) == sent[codec]  # REST opens it
    consumer = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "ck-codecs",
                                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.assign([confluent_kafka.TopicPartition(f"ck-{codec}", 0) for codec in CODECS])
        got: dict[str, list[bytes]] = {codec: [] for codec in CODECS}
        deadline = time.monotonic() + 30
        while sum(map(len, got.values())) < 1200 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got[msg.topic()[3:]].append(msg.value())
    finally:
        consumer.close()
    assert got == sent


def test_kafka_python_gzip_producer_and_a_topic_that_recompresses(cluster):
    create_topic(cluster, "kp-zstd-topic", 1, configs={"compression.type": "zstd"})
    producer = kafka.KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all",
                                   compression_type="gzip", request_timeout_ms=15000)
    try:
        for i in range(100):
            producer.send("kp-zstd-topic", value=f"kp-{i}".encode() * 10, partition=0)
        producer.flush(30)
    finally:
        producer.close(timeout=10)
    rest_produce(cluster, "kp-zstd-topic", 0, [b"from-rest"] * 5)
    assert stored_codecs(cluster, "kp-zstd-topic") == {"zstd"}  # gzip from Kafka, plain from REST: both zstd
    got = rest_values(cluster, "kp-zstd-topic", 0)
    assert got == [f"kp-{i}".encode() * 10 for i in range(100)] + [b"from-rest"] * 5


def test_a_compression_bomb_is_refused_and_nothing_is_stored(cluster):
    from kraft.storage.record import Record
    from kraft.storage.record_batch import encode_batch
    create_topic(cluster, "bomb", 1, configs={"max.message.bytes": str(8 << 20)})
    bomb = encode_batch([Record(None, bytes(16 << 20)) for _ in range(6)], 0, -1, compression=4)  # 96 MiB of zeros
    assert len(bomb) < 64 << 10
    with kafka_socket(cluster, leader_of(cluster, "bomb", 0)) as s:
        s.sendall(produce_frame("bomb", 0, bomb, correlation_id=5))
        answer = recv_frame(s)
    assert struct.unpack_from(">i", answer)[0] == 5
    assert produce_error_code(answer) == 10  # MESSAGE_TOO_LARGE
    assert rest_values(cluster, "bomb", 0) == []


def rss_mb(c, node: int) -> float:
    with open(f"/proc/{c.procs[node].pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def test_a_client_that_never_reads_its_answers_costs_bounded_memory_and_stalls_no_one(cluster):
    create_topic(cluster, "stalled", 1)
    rest_produce(cluster, "stalled", 0, [bytes([i]) * 100_000 for i in range(20)])  # about 2 MB
    node = leader_of(cluster, "stalled", 0)
    before = rss_mb(cluster, node)
    s = kafka_socket(cluster, node)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        sent = 0
        request = fetch_frame("stalled", 0, 1, 4 << 20)
        for i in range(500):  # 500 answers of about 2 MB each: a gigabyte, if the broker queued them
            try:
                sent += s.send(request)
            except BlockingIOError:
                break  # the broker stopped reading this connection: it waits on its write
        time.sleep(2)
        grown = rss_mb(cluster, node) - before
        # everyone else is served meanwhile, through the same broker
        values = [f"other-{i}".encode() for i in range(5)]
        rest_produce(cluster, "stalled", 0, values, node=node)
        consumer = kafka.KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers, consumer_timeout_ms=10000,
                                       max_partition_fetch_bytes=8 << 20, fetch_max_bytes=8 << 20)
        try:
            consumer.assign([kafka.TopicPartition("stalled", 0)])
            consumer.seek(kafka.TopicPartition("stalled", 0), 20)
            got = [m.value for _, m in zip(range(5), consumer)]  # range first: no sixth wait on the consumer
        finally:
            consumer.close()
    finally:
        s.close()
    assert got == values
    assert sent > 0
    assert grown < 100, f"the broker grew by {grown:.0f} MB for one client that does not read"
