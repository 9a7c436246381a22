"""Storage: record batches that fail their checks, refused appends, logs closed, damaged
or on a failed data dir."""

from __future__ import annotations

from kraft.errors.base import KraftError, RetriableError


class StorageError(KraftError):
    """The partition log refused or failed an operation."""


class RecordBatchError(StorageError, ValueError):
    """The bytes are not a usable RecordBatch v2 (the sender's or the disk's fault)."""

    kafka_name, kafka_code = "CORRUPT_MESSAGE", 2


class CorruptBatchError(RecordBatchError):
    """CRC mismatch, impossible length, wrong magic or malformed record."""


class UnsupportedCompressionError(RecordBatchError):
    """The batch is compressed with a codec this log cannot decode."""

    kafka_name, kafka_code = "UNSUPPORTED_COMPRESSION_TYPE", 76


class InvalidAppend(StorageError):
    """An append the log must refuse (e.g. a gap in follower offsets)."""

    kafka_name, kafka_code = "INVALID_RECORD", 87


class StaleLeaderEpoch(InvalidAppend):
    """A leader append carried an epoch older than the log's latest: a fenced leader."""

    kafka_name, kafka_code = "FENCED_LEADER_EPOCH", 74


class LogClosed(StorageError):
    """The log was closed; the caller holds a stale handle."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56
    retriable = True


class DamagedLog(RetriableError, StorageError):
    """Stored batches failed their checks (CRC, length, offsets): they are never served.
    Retriable: leadership moves to a healthy replica, or this one repairs itself."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56


class LogDirFailed(RetriableError, StorageError):
    """The node's data directory takes no writes (disk full, read-only, failing)."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56


class StorageUnavailable(RetriableError, StorageError):
    """A write failed for want of something that comes back (no file descriptor or memory
    left): nothing was stored, the data dir stays in service; retry."""

    kafka_name, kafka_code = "KAFKA_STORAGE_ERROR", 56
