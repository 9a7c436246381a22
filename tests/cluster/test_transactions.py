"""Transactions as confluent-kafka's transactional producer and consumers use them, and
what REST consumers see of them (KIP-98, KIP-447): commit and abort across topics and
partitions, read_committed against read_uncommitted, an open transaction invisible
until it commits, fencing by a second producer with the same transactional id, and
consume-transform-produce with send_offsets_to_transaction. Real node processes,
real clients."""

from __future__ import annotations

import time
import uuid

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
from confluent_kafka import KafkaError, KafkaException, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from kraft.server.local_cluster import LocalCluster  # noqa: E402
from tests.cluster.consumer_client import V2, Consumer, call  # noqa: E402

pytestmark = pytest.mark.cluster

TXN_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def create_topics(c, *names, partitions=3):
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    futures = admin.create_topics([NewTopic(n, partitions, 3) for n in names])
    for future in futures.values():
        future.result(30)


def producer(c, tid, **extra):
    p = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "transactional.id": tid,
                                  "transaction.timeout.ms": TXN_TIMEOUT_MS, "message.timeout.ms": 15000, **extra})
    p.init_transactions(30)
    return p


def read_all(c, topics, isolation, expect_partitions, group=None, timeout_s=30.0) -> list[tuple[str, int, int, bytes]]:
    """Every record a fresh consumer at `isolation` reads until each partition's end:
    (topic, partition, offset, value)."""
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": c.bootstrap_servers, "group.id": group or f"reader-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest", "isolation.level": isolation, "enable.partition.eof": True,
        "enable.auto.commit": False})
    try:
        consumer.subscribe(list(topics))
        got, ended = [], set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(ended) < expect_partitions:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    ended.add((msg.topic(), msg.partition()))
                    continue
                raise KafkaException(msg.error())
            got.append((msg.topic(), msg.partition(), msg.offset(), msg.value()))
        assert len(ended) == expect_partitions, f"only {sorted(ended)} reached their end in {timeout_s}s"
        return got
    finally:
        consumer.close()


def values(records) -> list[bytes]:
    return sorted(r[3] for r in records)


def test_read_committed_sees_committed_transactions_whole_and_aborted_ones_never(cluster):
    create_topics(cluster, "tx-orders", "tx-audit")
    p = producer(cluster, "tx-commit-abort")
    p.begin_transaction()
    committed = [b"order-%d" % i for i in range(12)] + [b"audit-%d" % i for i in range(4)]
    for i, value in enumerate(committed):  # every partition of both topics
        p.produce("tx-orders" if value.startswith(b"order") else "tx-audit", value, partition=i % 3)
    p.commit_transaction(30)
    p.begin_transaction()
    aborted = [b"aborted-%d" % i for i in range(6)]
    for i, value in enumerate(aborted):
        p.produce("tx-orders", value, partition=i % 3)
    p.flush(15)  # in the logs, then thrown away
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce("tx-audit", b"after-the-abort", partition=0)
    p.commit_transaction(30)

    read = read_all(cluster, ["tx-orders", "tx-audit"], "read_committed", 6)
    assert values(read) == sorted(committed + [b"after-the-abort"])
    everything = read_all(cluster, ["tx-orders", "tx-audit"], "read_uncommitted", 6)
    assert values(everything) == sorted(committed + aborted + [b"after-the-abort"])
    # markers take offsets but are never handed out as records
    orders_0 = sorted(r[2] for r in everything if r[:2] == ("tx-orders", 0))
    assert len(orders_0) < orders_0[-1] + 1, orders_0


def test_an_open_transaction_is_invisible_to_read_committed_until_it_commits(cluster):
    create_topics(cluster, "tx-open", partitions=1)
    p = producer(cluster, "tx-open-1")
    p.begin_transaction()
    p.produce("tx-open", b"pending")
    p.flush(15)
    # a plain producer's record after the open transaction waits behind it too (the LSO)
    plain = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers})
    plain.produce("tx-open", b"plain-after")
    plain.flush(15)
    assert read_all(cluster, ["tx-open"], "read_committed", 1, timeout_s=15) == []
    assert values(read_all(cluster, ["tx-open"], "read_uncommitted", 1)) == [b"pending", b"plain-after"]
    p.commit_transaction(30)
    assert values(read_all(cluster, ["tx-open"], "read_committed", 1)) == [b"pending", b"plain-after"]


def test_a_second_producer_with_the_same_transactional_id_fences_the_first(cluster):
    create_topics(cluster, "tx-fence", partitions=2)
    first = producer(cluster, "tx-fenced-id")
    first.begin_transaction()
    first.produce("tx-fence", b"from-the-zombie", partition=0)
    first.flush(15)
    second = producer(cluster, "tx-fenced-id")  # aborts the first's open transaction
    second.begin_transaction()
    second.produce("tx-fence", b"from-the-new-instance", partition=1)
    second.commit_transaction(30)
    with pytest.raises(KafkaException) as raised:
        first.produce("tx-fence", b"zombie-again", partition=0)
        first.commit_transaction(15)
    assert raised.value.args[0].fatal() or raised.value.args[0].txn_requires_abort(), raised.value
    assert values(read_all(cluster, ["tx-fence"], "read_committed", 2)) == [b"from-the-new-instance"]


def _transform_round(consumer, out, records: int, commit: bool) -> list[bytes]:
    """Consume `records` input records, produce their transformed values, send the
    consumer's positions to the transaction, then commit or abort."""
    taken: list = []
    deadline = time.monotonic() + 30
    while len(taken) < records and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            taken.append(msg)
    assert len(taken) == records, f"consumed {len(taken)} of {records}"
    out.begin_transaction()
    produced = []
    for msg in taken:
        value = msg.value().upper()
        out.produce("tx-output", value, partition=msg.partition())
        produced.append(value)
    out.send_offsets_to_transaction(consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30)
    if commit:
        out.commit_transaction(30)
    else:
        out.abort_transaction(30)
    return produced


def test_consume_transform_produce_commits_the_output_and_the_group_offsets_together(cluster):
    create_topics(cluster, "tx-input", "tx-output", partitions=1)
    plain = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for i in range(20):
        plain.produce("tx-input", b"in-%02d" % i)
    plain.flush(15)
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": cluster.bootstrap_servers, "group.id": "tx-transformer",
        "auto.offset.reset": "earliest", "enable.auto.commit": False, "isolation.level": "read_committed"})
    out = producer(cluster, "tx-transformer-out")
    try:
        consumer.assign([TopicPartition("tx-input", 0)])
        first = _transform_round(consumer, out, 10, commit=True)
        committed = consumer.committed([TopicPartition("tx-input", 0)], 15)
        assert committed[0].offset == 10  # the group's offset moved with the transaction
        _transform_round(consumer, out, 5, commit=False)
        committed = consumer.committed([TopicPartition("tx-input", 0)], 15)
        assert committed[0].offset == 10  # an abort leaves the group's offset where it was
    finally:
        consumer.close()
    assert values(read_all(cluster, ["tx-output"], "read_committed", 1)) == sorted(first)


def test_rest_consumers_read_at_their_isolation_level_and_never_see_markers(cluster):
    create_topics(cluster, "tx-rest", partitions=1)
    p = producer(cluster, "tx-rest-1")
    p.begin_transaction()
    p.produce("tx-rest", b'{"n": 1}')
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce("tx-rest", b'{"n": 2}')
    p.flush(15)
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce("tx-rest", b'{"n": 3}')
    p.commit_transaction(30)

    def consumed(isolation, expected):
        """What the consumer reads once it has `expected` records, and one poll more."""
        consumer = Consumer.create(cluster, f"tx-rest-{isolation}", "c1",
                                   {"isolation.level": isolation, "auto.offset.reset": "earliest"})
        try:
            consumer.subscribe(["tx-rest"])
            got: list = []
            deadline = time.monotonic() + 30
            while len(got) < expected and time.monotonic() < deadline:
                got.extend(consumer.records(timeout_ms=500))
            got.extend(consumer.records(timeout_ms=500))  # nothing more may come
            return got
        finally:
            consumer.delete()

    committed = consumed("read_committed", 2)
    assert [r["value"] for r in committed] == [{"n": 1}, {"n": 3}]
    everything = consumed("read_uncommitted", 3)
    assert [r["value"] for r in everything] == [{"n": 1}, {"n": 2}, {"n": 3}]
    # the markers (after each transaction) own offsets nobody is shown
    assert [r["offset"] for r in everything] == [0, 2, 4]
    status, by_offset = call("GET", f"{cluster.url(2)}/topics/tx-rest/partitions/0/records?offset=0",
                             headers={"Accept": "application/vnd.kafka.json.v2+json"})
    assert status == 200 and [r["offset"] for r in by_offset] == [0, 2, 4], by_offset


def test_a_rest_consumer_with_an_unknown_isolation_level_is_refused(cluster):
    status, body = call("POST", f"{cluster.url(1)}/consumers/tx-bad-isolation",
                        {"name": "c1", "format": "json", "isolation.level": "read_most"},
                        headers={"Content-Type": V2})
    assert status == 422 and body["error_code"] == 42206 and "isolation.level" in body["message"], body


def test_no_client_writes_the_transaction_log(cluster):
    producer(cluster, "tx-makes-the-log")  # the coordinator creates __transaction_state on first use
    status, body = call("POST", f"{cluster.url(1)}/topics/__transaction_state",
                        {"records": [{"value": "evil", "partition": 0}]},
                        headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
    assert status == 422 and body["error_code"] == 42206, body
    plain = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "message.timeout.ms": 10000})
    errors: list = []
    plain.produce("__transaction_state", b"evil", partition=0, on_delivery=lambda err, msg: errors.append(err))
    plain.flush(15)
    assert len(errors) == 1 and errors[0] is not None and errors[0].code() == KafkaError.TOPIC_EXCEPTION, errors


def test_a_read_committed_rest_group_measures_its_lag_to_the_last_stable_offset(cluster):
    create_topics(cluster, "tx-lag", partitions=1)
    plain = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers})
    plain.produce("tx-lag", b'{"n": 0}')
    plain.flush(15)
    p = producer(cluster, "tx-lag-1")
    p.begin_transaction()
    p.produce("tx-lag", b'{"n": 1}')
    p.produce("tx-lag", b'{"n": 2}')
    p.flush(15)

    def lag_after_reading(isolation) -> int:
        group = f"tx-lag-{isolation}"
        consumer = Consumer.create(cluster, group, "c1", {"isolation.level": isolation, "auto.offset.reset": "earliest"})
        try:
            consumer.subscribe(["tx-lag"])
            deadline = time.monotonic() + 30
            while not consumer.records(timeout_ms=500) and time.monotonic() < deadline:
                pass
            consumer.commit({("tx-lag", 0): 0})  # the committed (plain) record only
            status, body = call("GET", f"{cluster.v3(1)}/consumer-groups/{group}/lags")
            assert status == 200, body
            return {(r["topic_name"], r["partition_id"]): r["lag"] for r in body["data"]}[("tx-lag", 0)]
        finally:
            consumer.delete()

    assert lag_after_reading("read_committed") == 0  # nothing is readable past the open transaction
    assert lag_after_reading("read_uncommitted") == 2
    p.abort_transaction(30)
