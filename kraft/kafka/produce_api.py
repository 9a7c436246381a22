"""Produce (key 0): one RecordBatch v2 per partition, appended where this broker leads.

Batches from Kafka clients are untrusted: each is checked whole (CRC-32C, the codec's
data opened within a bound, every record, offset deltas 0..n-1, size against
max.message.bytes) before it reaches the log, then stored as sent unless the topic's
compression.type names another codec. A
partition led elsewhere answers NOT_LEADER_OR_FOLLOWER, so the client refreshes its
metadata and goes to the leader, as with Kafka. acks=0 gets no answer at all.
"""

from __future__ import annotations

import asyncio
import time

from kraft.errors import InvalidAppend, KraftError, MessageTooLarge
from kraft.broker.data_plane import PendingDelivery
from kraft.kafka import error_codes, ordering, session
from kraft.storage.compression import stored_codec
from kraft.storage.record_batch import MAGIC, MAGIC_POS, BatchHeader, decode_records, encode_batch
from kraft.storage.record_check import check_records

BATCH_HEADER_SIZE = 61


def checked_batch(data: bytes, max_message_bytes: int) -> BatchHeader:
    """The header of a client's sound partition data, or the error to answer."""
    if len(data) < BATCH_HEADER_SIZE:
        raise InvalidAppend(f"{len(data)} bytes are not a record batch")
    if data[MAGIC_POS] != MAGIC:
        raise _Unsupported("only RecordBatch v2 (magic 2) is accepted; upgrade the client")
    header = BatchHeader.parse(data)
    if header.size != len(data):
        raise InvalidAppend(f"a produce must carry exactly one batch: {len(data)} bytes, "
                            f"the batch says {header.size}")
    if header.size > max_message_bytes:
        raise MessageTooLarge(f"batch of {header.size} bytes is larger than max.message.bytes "
                              f"({max_message_bytes})")
    if header.is_transactional or header.is_control:
        raise _Unsupported("transactions are not supported")
    if header.record_count < 1 or header.last_offset_delta != header.record_count - 1:
        raise InvalidAppend("records must carry offset deltas 0, 1, 2, ... and at least one record")
    check_records(data)  # CRC-32C, the codec, every record's framing and offset delta
    return header


class _Unsupported(KraftError):
    kafka_name, kafka_code = "UNSUPPORTED_FOR_MESSAGE_FORMAT", error_codes.UNSUPPORTED_FOR_MESSAGE_FORMAT


async def handle(node, head, request) -> dict | None:
    acks = int(request.acks)
    timeout_ms = max(0, int(request.timeout.total_seconds() * 1000))
    if acks not in (0, 1, -1):
        return _answer(request, {}, (error_codes.INVALID_REQUIRED_ACKS, -1, -1))
    appended = {}
    for topic in request.topic_data:  # appends in request order, one after another
        for part in topic.partition_data:
            key = (topic.name, int(part.index))
            appended[key] = await _append_one(node, topic.name, int(part.index), part.records or b"",
                                              acks, timeout_ms)
    ordering.let_next_request_start()  # the connection's next produce may append now
    results = dict(zip(appended, await asyncio.gather(*(_committed(node, key, outcome)
                                                         for key, outcome in appended.items()))))
    if acks == 0:
        return None  # Kafka answers acks=0 with silence
    return _answer(request, results)


def _answer(request, results: dict, missing=(error_codes.INVALID_REQUEST, -1, -1)) -> dict:
    responses = []
    for topic in request.topic_data:
        parts = []
        for part in topic.partition_data:
            code, base, log_start = results.get((topic.name, int(part.index)), missing)
            parts.append({"index": part.index, "error_code": code, "base_offset": base,
                          "log_append_time": -1, "log_start_offset": log_start,
                          "record_errors": [], "error_message": None})
        responses.append({"name": topic.name, "partition_responses": parts})
    return {"responses": responses, "throttle_time": 0}


async def _append_one(node, topic: str, partition: int, data: bytes, acks: int,
                      timeout_ms: int) -> PendingDelivery | KraftError:
    """The batch appended on this leader (its commit still to wait for), or the refusal."""
    plane = node.data_plane
    try:
        session.check(node, "WRITE", "TOPIC", topic)
        configs = plane.configs(topic)
        batch = bytes(data)
        header = checked_batch(batch, int(configs["max.message.bytes"]))
        codec = stored_codec(configs["compression.type"], header.compression)
        log_append_time = configs.get("message.timestamp.type") == "LogAppendTime"
        if log_append_time or codec != header.compression:  # else stored as sent
            records = decode_records(batch)
            if log_append_time:
                now = int(time.time() * 1000)
                for record in records:
                    record.timestamp_ms = now
            batch = encode_batch(records, 0, -1, header.producer_id, header.producer_epoch,
                                 header.base_sequence, compression=codec)
        return await plane.append_batch(topic, partition, batch, acks, timeout_ms,
                                        header.base_timestamp, local_only=True)
    except KraftError as exc:
        return exc


async def _committed(node, key: tuple[str, int], outcome: PendingDelivery | KraftError) -> tuple[int, int, int]:
    """(error code, base offset, log start offset) for one partition."""
    if isinstance(outcome, KraftError):
        return error_codes.code_of(outcome), -1, -1
    try:
        delivery = await outcome.committed()
    except KraftError as exc:
        return error_codes.code_of(exc), -1, -1
    return error_codes.NONE, delivery.offset, _log_start(node, *key)


def _log_start(node, topic: str, partition: int) -> int:
    replica = node.replica_manager.replica(topic, partition) if node.replica_manager else None
    return -1 if replica is None else replica.log.log_start_offset
