"""How the lab's Kafka producers settle a write from confluent-kafka's delivery report,
with the client's own Message and KafkaError objects."""

from __future__ import annotations

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka", reason="the lab's Kafka clients are a test extra")

from kraft.scenario.compacted_writer import CompactedWriter  # noqa: E402
from kraft.scenario.history import OK, UNKNOWN, History, Write  # noqa: E402
from kraft.scenario.kafka_producer import KafkaProducer  # noqa: E402

NOWHERE = "127.0.0.1:9"  # never contacted: no record is produced


def _settled(producer: KafkaProducer, err, msg) -> Write:
    write = Write("p0", 1, "p0-1", 0, "all", 0.0)
    producer._settle(write)(err, msg)
    return write


def test_an_acknowledged_record_is_ok_with_or_without_its_offset():
    """librdkafka acks a record implicitly, without an offset, when a later request of
    the same producer succeeded after this one's answer was lost: it was written."""
    producer = KafkaProducer("p0", NOWHERE, "t", 3, "all", 1000, now_ms=lambda: 5.0)
    at = _settled(producer, None, confluent_kafka.Message(topic="t", partition=0, offset=42))
    assert (at.outcome, at.offset, at.complete_ms) == (OK, 42, 5.0)
    implicit = _settled(producer, None, confluent_kafka.Message(topic="t", partition=0, offset=-1))
    assert (implicit.outcome, implicit.offset, implicit.error) == (OK, None, None)


def test_an_error_report_leaves_the_write_unknown_and_says_why():
    producer = KafkaProducer("p0", NOWHERE, "t", 3, "all", 1000, now_ms=lambda: 5.0)
    err = confluent_kafka.KafkaError(confluent_kafka.KafkaError._MSG_TIMED_OUT)
    write = _settled(producer, err, confluent_kafka.Message(topic="t", partition=0, offset=-1))
    assert write.outcome == UNKNOWN and write.error.startswith("kafka: _MSG_TIMED_OUT")


def test_the_compacted_writer_counts_an_implicit_ack_as_acknowledged():
    h = History("t", 1)
    writer = CompactedWriter(NOWHERE, h, keys=5, seed=1, timeout_ms=1000, now_ms=lambda: 0.0)
    h.compacted_writes += [("k1", "c-1", UNKNOWN, None), ("k1", "c-2", UNKNOWN, None)]
    writer._settle(0)(None, confluent_kafka.Message(topic="t-compacted", partition=0, offset=-1))
    writer._settle(1)(None, confluent_kafka.Message(topic="t-compacted", partition=0, offset=7))
    assert h.compacted_writes == [("k1", "c-1", OK, None), ("k1", "c-2", OK, 7)]
