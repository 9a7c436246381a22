"""Record batches and reads a hostile (or just unlucky) client sends: a consumer below the
log start, a batch of a million tiny records, a small REST read of a partition holding a
huge batch. Each is answered with Kafka's error or a bounded answer, and the node keeps
its leaderships and its log readable."""

from __future__ import annotations

import time

import pytest

from cluster_client import call, create_topic
from cluster_sharing import module_log
from kafka_wire import (fetch_frame, kafka_socket, leader_of, produce_error_code, produce_frame, read_answer,
                        recv_frame)

from kraft.server.local_cluster import LocalCluster

pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka import admin as cadmin  # noqa: E402

pytestmark = pytest.mark.cluster

BELOW_START = "hostile-below-start"
# the records' own timestamp: recent, or time-based retention would take their segments
CREATED_MS = int(time.time() * 1000)
OFFSET_OUT_OF_RANGE = 1


@pytest.fixture(scope="module")
def cluster():
    """A cluster of its own: the batch tests load its leader on purpose."""
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def produce_values(c, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
    for n in range(count):
        producer.produce(topic, value=str(n).encode(), partition=0)
    assert producer.flush(30) == 0


def tracebacks(c, node: int) -> int:
    return module_log(c, node).count("Traceback")


def test_a_consumer_below_the_log_start_is_told_out_of_range_and_resumes_at_the_start(cluster):
    c = cluster
    create_topic(c, BELOW_START, partitions=1)
    produce_values(c, BELOW_START, 20)
    admin = cadmin.AdminClient({"bootstrap.servers": c.bootstrap_servers})
    tp = TopicPartition(BELOW_START, 0, 10)
    assert admin.delete_records([tp])[tp].result(30).low_watermark == 10
    leader = leader_of(c, BELOW_START, 0)
    before = tracebacks(c, leader)

    # on the wire: Kafka's error, with the log start the client resets to
    with kafka_socket(c, leader) as s:
        s.sendall(fetch_frame(BELOW_START, 0, 7, 1 << 20, offset=3))
        answer = read_answer(1, 11, recv_frame(s))
    assert answer.responses, f"no partition answered: error {answer.error_code}"
    part = answer.responses[0].partitions[0]
    assert int(part.error_code.value) == OFFSET_OUT_OF_RANGE
    assert int(part.log_start_offset) == 10

    # a real consumer placed below the start resets to it (auto.offset.reset=earliest)
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "hostile-below-start",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(BELOW_START, 0, 3)])
        got = []
        deadline = time.monotonic() + 60
        while len(got) < 10 and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                got.append(message.offset())
    finally:
        consumer.close()
    assert got == list(range(10, 20))

    # the REST door says the same, as API.md's 40402
    status, body = call("GET", f"{c.url(1)}/topics/{BELOW_START}/partitions/0/records?offset=3")
    assert status == 404 and body["error_code"] == 40402, body
    assert tracebacks(c, leader) == before  # nothing unexpected on the way


# -- a batch of a million tiny records ------------------------------------------------

MILLION = "hostile-million"
LARGE = "hostile-large-batch"
MESSAGE_TOO_LARGE = 10


def tiny_records_batch(count: int) -> bytes:
    from kraft.storage.compression import ZSTD
    from kraft.storage.record import Record
    from kraft.storage.record_batch import encode_batch
    return encode_batch([Record(None, b"", (), CREATED_MS) for _ in range(count)], 0, -1, compression=ZSTD)


def leaders(c, topic: str, partitions: int) -> list[int]:
    return [leader_of(c, topic, p) for p in range(partitions)]


def brokers_fenced(c) -> list[int]:
    status, body = call("GET", f"{c.v3(1)}/brokers")
    assert status == 200, body
    return [b["broker_id"] for b in body["data"] if b.get("fenced")]


def test_batches_of_a_million_tiny_records_are_refused_and_the_leader_keeps_its_leaderships(cluster):
    c = cluster
    create_topic(c, MILLION, partitions=3)
    before = leaders(c, MILLION, 3)
    batch = tiny_records_batch(1_000_000)
    assert len(batch) < 1_048_576  # within max.message.bytes on the wire
    leader = before[0]
    codes = []
    with kafka_socket(c, leader) as s:
        s.settimeout(120)
        for n in range(8):
            s.sendall(produce_frame(MILLION, 0, batch, n))
            codes.append(produce_error_code(recv_frame(s)))
    assert codes == [MESSAGE_TOO_LARGE] * 8
    assert brokers_fenced(c) == []
    assert leaders(c, MILLION, 3) == before


def test_a_small_rest_read_of_a_partition_holding_a_large_batch_is_bounded(cluster):
    c = cluster
    create_topic(c, LARGE, partitions=1)
    batch = tiny_records_batch(140_000)  # under the default bound (1048576 // 7 records)
    leader = leader_of(c, LARGE, 0)
    with kafka_socket(c, leader) as s:
        s.settimeout(120)
        for n in range(4):  # taken, sliced: the node goes on answering heartbeats meanwhile
            s.sendall(produce_frame(LARGE, 0, batch, n))
            assert produce_error_code(recv_frame(s)) == 0
    assert brokers_fenced(c) == []
    for node in (leader, leader % 3 + 1):  # on the leader, and forwarded from another node
        status, body = call("GET", f"{c.url(node)}/topics/{LARGE}/partitions/0/records?offset=0&max_bytes=1000")
        assert status == 200, body
        assert 0 < len(body) <= 1000 // 7 + 1, len(body)
        assert [r["offset"] for r in body] == list(range(len(body)))


# -- a batch at the record bound that the leader must change before storing ------------

RECORD_BOUND = 1048576 // 7  # the default max.message.bytes' bound on records per batch
RECODING = {  # each makes the leader look at every record, or close the batch anew
    "codec": {"compression.type": "gzip"},
    "compacted": {"cleanup.policy": "compact"},
    "append-time": {"message.timestamp.type": "LogAppendTime"},
}
STALL_BOUND_S = 1.0  # what a batch held on the loop whole takes thrice over on any machine
API_VERSIONS = 18


def keyed_records_batch(count: int) -> bytes:
    from kraft.storage.compression import ZSTD
    from kraft.storage.record import Record
    from kraft.storage.record_batch import encode_batch
    return encode_batch([Record(n.to_bytes(3, "big"), b"", (), CREATED_MS) for n in range(count)], 0, -1,
                        compression=ZSTD)


def longest_round_trip_while(c, node: int, busy) -> float:
    """The slowest ApiVersions round trip of another client of ``node`` while ``busy``
    (a thread) runs: how long the node's loop was held."""
    from kafka_wire import request_frame
    longest = 0.0
    with kafka_socket(c, node) as s:
        s.settimeout(60)
        for n in range(100_000):  # bounded: the busy thread ends within its sockets' timeouts
            if not busy.is_alive():
                break
            start = time.monotonic()
            s.sendall(request_frame(API_VERSIONS, 0, n))
            recv_frame(s)
            longest = max(longest, time.monotonic() - start)
    return longest


@pytest.fixture(scope="module")
def bound_batch():
    batch = keyed_records_batch(RECORD_BOUND)
    assert len(batch) < 1_048_576
    return batch


@pytest.mark.parametrize("kind", sorted(RECODING))
def test_a_batch_at_the_record_bound_that_the_leader_recodes_holds_its_loop_only_briefly(cluster, bound_batch, kind):
    import threading
    c = cluster
    topic = f"hostile-bound-{kind}"
    create_topic(c, topic, partitions=1, configs=RECODING[kind])
    leader = leader_of(c, topic, 0)
    codes: list[int] = []

    def produce_three_at_once():  # three clients: a loop held per batch would hold it thrice
        def one(n):
            with kafka_socket(c, leader) as s:
                s.settimeout(120)
                s.sendall(produce_frame(topic, 0, bound_batch, n))
                codes.append(produce_error_code(recv_frame(s)))
        senders = [threading.Thread(target=one, args=(n,)) for n in range(3)]
        for t in senders:
            t.start()
        for t in senders:
            t.join(180)

    busy = threading.Thread(target=produce_three_at_once)
    busy.start()
    longest = longest_round_trip_while(c, leader, busy)
    busy.join(180)
    assert codes == [0, 0, 0]
    assert longest < DEEP_STALL_BOUND_S, f"another client waited {longest:.2f} s"
    assert brokers_fenced(c) == []
    assert leader_of(c, topic, 0) == leader

    status, body = call("GET", f"{c.url(leader)}/topics/{topic}/partitions/0/records?offset={RECORD_BOUND - 1}"
                               "&max_bytes=10")
    assert status == 200 and body[0]["offset"] == RECORD_BOUND - 1, body
    if kind == "append-time":
        assert body[0]["timestamp"] > CREATED_MS, body  # the broker's clock at append, not the client's
    else:
        assert body[0]["timestamp"] == CREATED_MS, body


# -- concurrent REST reads deep inside huge compressed batches -------------------------

DEEP = "hostile-deep-reads"
DEEP_RECORDS = 140_000
DEEP_VALUE = 450  # 140,000 records of 450 zero bytes: about 64 MB opened, a few KB closed
DEEP_READS = 8
RSS_GROWTH_BOUND_MB = 300  # the node-wide opening budget (64 MiB), a few times over
# eight deep reads held on the loop one after another hold it for seconds on any machine
DEEP_STALL_BOUND_S = 3.0


def rss_mb(c, node: int) -> float:
    with open(f"/proc/{c.procs[node].pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def zeros_batch(count: int, size: int) -> bytes:
    from kraft.storage.compression import ZSTD
    from kraft.storage.record import Record
    from kraft.storage.record_batch import encode_batch
    return encode_batch([Record(None, bytes(size), (), CREATED_MS) for _ in range(count)], 0, -1, compression=ZSTD)


def test_concurrent_rest_reads_deep_inside_huge_batches_stay_within_the_node_s_budget(cluster):
    from concurrent.futures import ThreadPoolExecutor

    from kafka_wire import request_frame
    c = cluster
    create_topic(c, DEEP, partitions=1)
    batch = zeros_batch(DEEP_RECORDS, DEEP_VALUE)
    leader = leader_of(c, DEEP, 0)
    with kafka_socket(c, leader) as s:
        s.settimeout(120)
        for n in range(2):
            s.sendall(produce_frame(DEEP, 0, batch, n))
            assert produce_error_code(recv_frame(s)) == 0
    before = rss_mb(c, leader)

    def deep_read(n: int):  # near the end of the first or the second batch
        offset = (n % 2) * DEEP_RECORDS + DEEP_RECORDS - 1 - n
        return call("GET", f"{c.url(leader)}/topics/{DEEP}/partitions/0/records?offset={offset}&max_bytes=1000",
                    timeout=120), offset

    peak, longest = before, 0.0
    with ThreadPoolExecutor(DEEP_READS) as pool, kafka_socket(c, leader) as probe:
        probe.settimeout(60)
        reads = [pool.submit(deep_read, n) for n in range(DEEP_READS)]
        for n in range(100_000):  # bounded: the reads end within their own timeouts
            if all(r.done() for r in reads):
                break
            peak = max(peak, rss_mb(c, leader))
            start = time.monotonic()  # another client meanwhile: the node's loop is not held
            probe.sendall(request_frame(API_VERSIONS, 0, n))
            recv_frame(probe)
            longest = max(longest, time.monotonic() - start)
            time.sleep(0.02)
        answers = [r.result() for r in reads]
    for (status, body), offset in answers:
        if status == 200:
            assert body[0]["offset"] == offset and body[0]["value"] is not None, body[:1]
        else:  # no room to open it for too long: retriable, as API.md's 429
            assert status == 429 and body["error_code"] == 429, body
    assert any(status == 200 for (status, _), _ in answers)
    assert peak - before < RSS_GROWTH_BOUND_MB, f"the node grew by {peak - before:.0f} MB"
    assert longest < DEEP_STALL_BOUND_S, f"another client waited {longest:.2f} s"
    assert brokers_fenced(c) == []
