"""Errors of the partition storage layer, one class per failure.

Each carries the Kafka protocol error code a later Kafka listener (or the HTTP
error table) can map it to, and says whose fault it is.
"""
from __future__ import annotations


class LogError(Exception):
    code = -1  # UNKNOWN_SERVER_ERROR


class RecordBatchError(LogError, ValueError):
    """The bytes are not a usable RecordBatch v2 (the sender's or the disk's fault)."""

    code = 2  # CORRUPT_MESSAGE


class CorruptBatchError(RecordBatchError):
    """CRC mismatch, impossible length, wrong magic or malformed record."""


class UnsupportedCompressionError(RecordBatchError):
    """The batch is compressed; this log stores and decodes uncompressed batches only."""

    code = 76  # UNSUPPORTED_COMPRESSION_TYPE


class OffsetOutOfRange(LogError):
    """The client asked for an offset outside [log_start_offset, log_end_offset]."""

    code = 1  # OFFSET_OUT_OF_RANGE

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(
            f"offset {offset} is out of range: valid offsets are "
            f"[{log_start_offset}, {log_end_offset}] (log end included, reads there are empty)"
        )
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class InvalidAppend(LogError):
    """The caller tried an append the log must refuse (e.g. a gap in follower offsets)."""

    code = 87  # INVALID_RECORD


class StaleLeaderEpoch(InvalidAppend):
    """A leader append carried an epoch older than the log's latest: a fenced leader."""

    code = 74  # FENCED_LEADER_EPOCH


class LogClosed(LogError):
    """The log was closed; the caller holds a stale handle."""

    code = 56  # KAFKA_STORAGE_ERROR


class ProducerSequenceError(InvalidAppend):
    """An idempotent producer's batch that must not be appended (the producer's fault).
    The message starts with Kafka's error name; ``detail`` is the rest."""

    name = "UNKNOWN_SERVER_ERROR"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.name}: {detail}")
        self.detail = detail


class OutOfOrderSequence(ProducerSequenceError):
    """A gap or overlap in a producer's sequence numbers (not a retry of a known batch)."""

    code = 45
    name = "OUT_OF_ORDER_SEQUENCE_NUMBER"


class InvalidProducerEpoch(ProducerSequenceError):
    """A producer epoch older than one that has already written to the partition."""

    code = 47
    name = "INVALID_PRODUCER_EPOCH"
