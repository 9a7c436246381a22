"""kraft/kafka/wire/entities.py: answers built from plain values reach the wire as Kafka
writes them."""

from __future__ import annotations

import io
import struct

from kio.serial import entity_writer

from kraft.kafka.wire.codec import response_class
from kraft.kafka.wire.entities import build


def _describe_transactions(start_ms: int) -> bytes:
    cls = response_class(65, 0)
    body = build(cls, {"throttle_time": 0, "transaction_states": [{
        "error_code": 0, "transactional_id": "t", "transaction_state": "Empty", "transaction_timeout": 60_000,
        "transaction_start_time": start_ms, "producer_id": 5, "producer_epoch": 0, "topics": []}]})
    buf = io.BytesIO()
    entity_writer(cls)(buf, body)
    return buf.getvalue()


def test_a_timestamp_of_minus_one_in_a_field_that_cannot_be_null_is_written_as_minus_one():
    """DescribeTransactions' transaction_start_time is -1 while no transaction is open, as
    Kafka answers; the field is no nullable one, so it must not become null (which
    failed the answer and closed the connection)."""
    # throttle (4), one state (1), error (2), "t" (2), "Empty" (6), timeout (4): the start time
    for start_ms in (-1, 1_764_000_000_123):
        assert struct.unpack_from(">q", _describe_transactions(start_ms), 19) == (start_ms,)


def test_a_nullable_timestamp_of_minus_one_is_null():
    cls = response_class(0, 8)
    body = build(cls, {"throttle_time": 0, "responses": [{"name": "t", "partition_responses": [{
        "index": 0, "error_code": 0, "base_offset": 0, "log_append_time": -1, "log_start_offset": 0,
        "record_errors": [], "error_message": None}]}]})
    assert body.responses[0].partition_responses[0].log_append_time is None
