"""A REST read of a partition of tiny records, with default parameters: the answer is
bounded in records (record_codec.MAX_RECORDS_PER_ANSWER), not only in stored bytes, so a
megabyte of 10-byte records is not a hundred thousand JSON objects built on the loop; a
reader pages on from the last offset + 1 and loses nothing, and the node keeps serving
other requests (and its brokers stay unfenced) while several such reads run at once."""

from __future__ import annotations

import threading
import time

import pytest
from cluster_client import V2_JSON, brokers_unfenced, call, create_topic
from consumer_client import Consumer

from kraft.api.record_codec import MAX_RECORDS_PER_ANSWER

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

TOPIC = "rest-tiny-records"
TINY = 100_000  # ~1 MiB stored: the default max_bytes' worth
BOUND_S = 120.0


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    create_topic(shared_cluster, TOPIC, partitions=1)
    producer = confluent_kafka.Producer({"bootstrap.servers": shared_cluster.bootstrap_servers, "linger.ms": 200,
                                         "batch.num.messages": 10_000, "queue.buffering.max.messages": 200_000})
    for _ in range(TINY):
        producer.produce(TOPIC, b"1", partition=0)
    assert producer.flush(60) == 0
    return shared_cluster


def leader(c) -> int:
    status, body = call("GET", f"{c.url(1)}/topics/{TOPIC}/partitions/0")
    assert status == 200, body
    return body["leader"]


def read(c, node: int, offset: int) -> list[dict]:
    """One read with the default max_bytes and timeout."""
    status, body = call("GET", f"{c.url(node)}/topics/{TOPIC}/partitions/0/records?offset={offset}",
                        headers={"Accept": V2_JSON}, timeout=BOUND_S)
    assert status == 200, body
    return body


def test_a_read_of_tiny_records_is_bounded_and_pages_on_to_the_end(cluster):
    offset, pages = 0, 0
    while offset < TINY:
        page = read(cluster, leader(cluster), offset)
        assert 0 < len(page) <= MAX_RECORDS_PER_ANSWER
        assert [r["offset"] for r in page] == list(range(offset, offset + len(page)))  # nothing skipped
        offset, pages = offset + len(page), pages + 1
    assert offset == TINY and pages >= TINY // MAX_RECORDS_PER_ANSWER


def test_reads_at_once_through_every_node_leave_other_requests_served(cluster):
    answers: list[int] = []
    readers = [threading.Thread(target=lambda n=n: answers.append(len(read(cluster, n, 0))))
               for n in (1, 2, 3, 1, 2, 3)]  # forwarded to the leader from the others
    for t in readers:
        t.start()
    canaries = 0
    try:
        while any(t.is_alive() for t in readers):  # served meanwhile, and no broker fenced
            status, body = call("GET", f"{cluster.url(leader(cluster))}/topics/{TOPIC}/partitions/0/offsets")
            assert status == 200 and body["end_offset"] == TINY, body
            assert brokers_unfenced(cluster)
            canaries += 1
    finally:
        for t in readers:
            t.join(BOUND_S)
    assert canaries > 0 and answers == [MAX_RECORDS_PER_ANSWER] * len(readers)


def test_a_consumer_instance_gets_bounded_answers_and_every_record_once(cluster):
    consumer = Consumer.create(cluster, "rest-tiny-readers", "tiny-1", config={"auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([TOPIC])
        seen: list[int] = []
        deadline = time.monotonic() + BOUND_S
        while len(seen) < TINY and time.monotonic() < deadline:  # the first polls may come before the join
            page = consumer.records(timeout_ms=1000)
            assert len(page) <= MAX_RECORDS_PER_ANSWER
            seen.extend(r["offset"] for r in page)
        assert seen == list(range(TINY))
    finally:
        consumer.delete()
