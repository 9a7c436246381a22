"""Kafka RecordBatch v2 (magic 2): encode, parse headers in place, decode records.

Byte layout, per Kafka's protocol documentation (big-endian):

    0  baseOffset int64          27 baseTimestamp int64
    8  batchLength int32         35 maxTimestamp int64
    12 partitionLeaderEpoch int32 43 producerId int64
    16 magic int8 (= 2)          51 producerEpoch int16
    17 crc uint32                53 baseSequence int32
    21 attributes int16          57 records count int32
    23 lastOffsetDelta int32     61 records...

batchLength counts the bytes after itself. The CRC-32C covers attributes to the
end, so a leader can restamp baseOffset and partitionLeaderEpoch without
recomputing it.
"""
from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from crc32c import crc32c

from kraft.errors import CorruptBatchError, RecordBatchError, UnsupportedCompressionError
from kraft.storage.compression import MAX_DECOMPRESSED_BYTES, compress, decompress, decompress_prefix
from kraft.storage.open_budget import OpenBudget
from kraft.storage.record import Header, Record, decode_record, encode_record
from kraft.storage.varint import VarintError, read_varint, read_varlong

__all__ = [
    "BatchHeader", "ControlMarker", "CorruptBatchError", "Header", "Record", "UnsupportedCompressionError",
    "control_marker", "decode_all", "decode_records", "decode_records_prefix", "encode_batch", "encode_control_batch",
    "ensure_valid", "iter_batches", "restamp",
    "set_base_offset", "set_leader_epoch", "verify_crc", "crc_holds",
]

MAGIC = 2
HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the part batchLength does not count
LEADER_EPOCH_POS = 12
MAGIC_POS = 16
CRC_POS = 17
ATTRIBUTES_POS = 21
NO_PRODUCER_ID = -1
NO_SEQUENCE = -1

COMPRESSION_MASK = 0x07
# Kafka's timestamp type: set, every record's timestamp is the batch's maxTimestamp (the
# broker's clock at append, message.timestamp.type=LogAppendTime), whatever its delta says
LOG_APPEND_TIME_BIT = 0x08
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20
COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

_HEADER = struct.Struct(">qiibIhiqqqhii")
_CRC_COVERED = struct.Struct(">hiqqqhii")  # attributes .. records count
_FRONT = struct.Struct(">qiibI")  # baseOffset .. crc: the part before the CRC-covered bytes
_LENGTH = struct.Struct(">i")
_OFFSET = struct.Struct(">q")
_MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD


class BatchHeader(NamedTuple):
    """The fixed 61-byte batch header, parsed without copying the records."""

    base_offset: int
    batch_length: int
    leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @classmethod
    def parse(cls, buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
        if len(buf) - pos < HEADER_SIZE:
            raise CorruptBatchError(f"batch header truncated at byte {pos}: {len(buf) - pos} of {HEADER_SIZE} bytes")
        header = cls._make(_HEADER.unpack_from(buf, pos))
        if header.magic != MAGIC:
            raise CorruptBatchError(f"batch at byte {pos} has magic {header.magic}; only magic {MAGIC} is supported")
        if header.batch_length < _MIN_BATCH_LENGTH:
            raise CorruptBatchError(f"batch at byte {pos} declares impossible length {header.batch_length}")
        if header.last_offset_delta < 0 or header.record_count < 0:
            raise CorruptBatchError(f"batch at byte {pos} has negative offset delta or record count")
        return header

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def append_time(self) -> int | None:
        """Every record's timestamp when the broker stamped the batch (LogAppendTime)."""
        return self.max_timestamp if self.attributes & LOG_APPEND_TIME_BIT else None

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_BIT)


def encode_batch(
    records: Sequence[Record],
    base_offset: int,
    leader_epoch: int,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = NO_SEQUENCE,
    *,
    is_transactional: bool = False,
    is_control: bool = False,
    compression: int = 0,
) -> bytes:
    """Encode ``records`` as one v2 batch (CreateTime timestamps), its records section
    compressed with codec ``compression`` (0: none)."""
    if not records:
        raise ValueError("a record batch needs at least one record")
    base_ts = records[0].timestamp_ms
    max_ts = max(r.timestamp_ms for r in records)
    parts: list[bytes] = []
    for delta, record in enumerate(records):
        encode_record(parts, record, delta, record.timestamp_ms - base_ts)
    body = b"".join(parts)
    if compression:
        body = compress(compression, body)
    attributes = (TRANSACTIONAL_BIT if is_transactional else 0) | (CONTROL_BIT if is_control else 0) | compression
    covered = _CRC_COVERED.pack(attributes, len(records) - 1, base_ts, max_ts,
                                producer_id, producer_epoch, base_sequence, len(records))
    crc = crc32c(body, crc32c(covered))
    size = HEADER_SIZE + len(body)
    return b"".join((_FRONT.pack(base_offset, size - LOG_OVERHEAD, leader_epoch, MAGIC, crc),
                     covered, body))


# -- transaction markers (Kafka's EndTransactionMarker) ---------------------------------
# One record: key = int16 version + int16 type (0 ABORT, 1 COMMIT), value = int16
# version + int32 coordinator epoch. Later versions may append fields: they are read
# as version 0, as Kafka does.
ABORT_TYPE, COMMIT_TYPE = 0, 1
_MARKER_KEY = struct.Struct(">hh")
_MARKER_VALUE = struct.Struct(">hi")


class ControlMarker(NamedTuple):
    commit: bool
    coordinator_epoch: int


def encode_control_batch(producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int,
                         base_offset: int = 0, leader_epoch: int = 0, timestamp_ms: int | None = None) -> bytes:
    """A COMMIT or ABORT marker batch: transactional and control bits set, no sequence."""
    ts = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    record = Record(_MARKER_KEY.pack(0, COMMIT_TYPE if commit else ABORT_TYPE),
                    _MARKER_VALUE.pack(0, coordinator_epoch), (), ts)
    return encode_batch([record], base_offset, leader_epoch, producer_id, producer_epoch, NO_SEQUENCE,
                        is_transactional=True, is_control=True)


def control_marker(batch: bytes | bytearray | memoryview, pos: int = 0) -> ControlMarker:
    """The marker in the control batch at ``pos``. RecordBatchError when the batch is no
    marker (not a control batch, emptied by compaction, another control type);
    CorruptBatchError when it does not decode."""
    header = BatchHeader.parse(batch, pos)
    if not header.is_control:
        raise RecordBatchError(f"batch at offset {header.base_offset} is not a control batch")
    records = decode_records(batch, pos)
    if not records:
        raise RecordBatchError(f"control batch at offset {header.base_offset} holds no record")
    key, value = records[0].key, records[0].value
    if key is None or len(key) < _MARKER_KEY.size:
        raise CorruptBatchError(f"control record at offset {header.base_offset} has no type")
    _, kind = _MARKER_KEY.unpack_from(key)
    if kind not in (ABORT_TYPE, COMMIT_TYPE):
        raise RecordBatchError(f"control record at offset {header.base_offset} has type {kind}, not a marker")
    if value is None or len(value) < _MARKER_VALUE.size:
        raise CorruptBatchError(f"marker at offset {header.base_offset} is too short")
    _, coordinator_epoch = _MARKER_VALUE.unpack_from(value)
    return ControlMarker(kind == COMMIT_TYPE, coordinator_epoch)


def verify_crc(buf: bytes | bytearray | memoryview, pos: int = 0) -> bool:
    """True when the stored CRC-32C matches the batch at ``pos``."""
    return crc_holds(buf, pos, BatchHeader.parse(buf, pos))


def crc_holds(buf: bytes | bytearray | memoryview, pos: int, header: BatchHeader) -> bool:
    """verify_crc for a header already parsed (e.g. by iter_batches)."""
    end = pos + header.size
    return end <= len(buf) and crc32c(memoryview(buf)[pos + ATTRIBUTES_POS:end]) == header.crc


def ensure_valid(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Parse the header at ``pos`` and raise CorruptBatchError unless the whole batch checks out."""
    header = BatchHeader.parse(buf, pos)
    if pos + header.size > len(buf):
        raise CorruptBatchError(f"batch at byte {pos} is truncated: {len(buf) - pos} of {header.size} bytes")
    actual = crc32c(memoryview(buf)[pos + ATTRIBUTES_POS:pos + header.size])
    if actual != header.crc:
        raise CorruptBatchError(f"batch at offset {header.base_offset}: CRC {actual:#010x} != stored {header.crc:#010x}")
    return header


def set_base_offset(buf: bytes | bytearray | memoryview, base_offset: int) -> bytes:
    """Copy of the batch with a new baseOffset (not CRC-covered, so the CRC stays valid)."""
    out = bytearray(buf)
    _OFFSET.pack_into(out, 0, base_offset)
    return bytes(out)


def set_leader_epoch(buf: bytes | bytearray | memoryview, leader_epoch: int) -> bytes:
    """Copy of the batch with a new partitionLeaderEpoch (also outside the CRC)."""
    out = bytearray(buf)
    _LENGTH.pack_into(out, LEADER_EPOCH_POS, leader_epoch)
    return bytes(out)


def recoded(batch: bytes | bytearray | memoryview, header: BatchHeader, body: bytes | bytearray | memoryview,
            codec: int, append_time: int | None) -> bytes:
    """The checked client ``batch`` over ``body`` (its records section, closed with
    ``codec``), stamped LogAppendTime ``append_time`` unless None: as Kafka does it, the
    header says so and carries the time as maxTimestamp, no record is rewritten. With
    None, the batch is CreateTime whatever the client's header said."""
    attributes = (header.attributes & ~(COMPRESSION_MASK | LOG_APPEND_TIME_BIT)) | codec
    max_timestamp = header.max_timestamp
    if append_time is not None:
        attributes, max_timestamp = attributes | LOG_APPEND_TIME_BIT, append_time
    covered = _CRC_COVERED.pack(attributes, header.last_offset_delta, header.base_timestamp, max_timestamp,
                                header.producer_id, header.producer_epoch, header.base_sequence,
                                header.record_count)
    crc = crc32c(body, crc32c(covered))
    front = _FRONT.pack(header.base_offset, HEADER_SIZE + len(body) - LOG_OVERHEAD, header.leader_epoch, MAGIC, crc)
    return b"".join((front, covered, body))


def restamp(buf: bytes | bytearray | memoryview, base_offset: int, leader_epoch: int) -> bytes:
    """Both stamps in one copy: what a leader does to a produced batch on append."""
    out = bytearray(buf)
    _OFFSET.pack_into(out, 0, base_offset)
    _LENGTH.pack_into(out, LEADER_EPOCH_POS, leader_epoch)
    return bytes(out)


def decode_records(batch: bytes | bytearray | memoryview, pos: int = 0, *, verify: bool = True) -> list[Record]:
    """Decode the batch at ``pos`` into records carrying absolute offsets and timestamps."""
    header = ensure_valid(batch, pos) if verify else BatchHeader.parse(batch, pos)
    end = pos + header.size
    if end > len(batch):
        raise CorruptBatchError(f"batch at offset {header.base_offset} is truncated")
    cursor = pos + HEADER_SIZE
    if header.compression:
        batch, cursor = record_section(batch, pos, header), 0
        end = len(batch)
    records = []
    for _ in range(header.record_count):
        record, cursor = decode_record(batch, cursor, end, header.base_offset, header.base_timestamp,
                                       header.append_time)
        records.append(record)
    if cursor != end:
        raise CorruptBatchError(f"batch at offset {header.base_offset} has {end - cursor} bytes after its records")
    return records


PREFIX_SLACK = 64 << 10  # opened beyond a small read's bound, so most reads open once
_UNBOUNDED = OpenBudget(limit=1 << 62)  # where the caller bounds nothing (tests, tools)


def decode_records_prefix(batch: bytes | bytearray | memoryview, pos: int, max_bytes: int,
                          from_offset: int = 0, budget: OpenBudget | None = None,
                          max_records: int | None = None) -> tuple[list[Record], int, bool]:
    """The records of the (already checked) batch at ``pos`` from ``from_offset`` on until
    their bytes reach ``max_bytes``, the one that reaches it included (a reader always
    gets a record, as Kafka's fetch always returns the first batch), and their bytes: a
    small read of a batch of a million records decodes a few, and opens only as much of
    a compressed batch as it reads (more while a record runs past what is open). Records
    before ``from_offset`` are stepped over, not decoded. What is open is held in
    ``budget`` (Overloaded when it has no room). ``max_records``: no more records than
    that (a batch of a million tiny records is cheap in bytes, not to decode). The third
    value says whether every record of the batch was decoded."""
    header = BatchHeader.parse(batch, pos)
    passed = (0, 0)  # (bytes into the section, records) stepped over before: a reopen goes on from there
    with (budget or _UNBOUNDED).lease() as lease:
        want = max_bytes + PREFIX_SLACK
        while True:
            section, cursor, end, complete = _open_prefix(batch, pos, header, want, lease)
            try:
                return _records_from(section, cursor + passed[0], end, header, max_bytes, from_offset,
                                     complete, passed[1], max_records)
            except _NeedMore as more:
                section = b""  # let go of it before opening more
                passed = (more.at - cursor, more.seen)
                # the records stepped over so far say how far the one wanted lies
                ahead = (from_offset - header.base_offset - more.seen) * more.at // max(more.seen, 1)
                want = max(want * 2, more.at + ahead + max_bytes + PREFIX_SLACK)


class _NeedMore(Exception):
    """A record runs past what is open of a compressed batch; ``at`` and ``seen``: the
    position and count of the records stepped over until then."""

    def __init__(self, at: int, seen: int) -> None:
        super().__init__(at, seen)
        self.at, self.seen = at, seen


def _open_prefix(batch: bytes | bytearray | memoryview, pos: int, header: BatchHeader, want: int,
                 lease: Any) -> tuple[bytes | bytearray | memoryview, int, int, bool]:
    if not header.compression:
        return batch, pos + HEADER_SIZE, pos + header.size, True
    lease.grow_to(min(want, MAX_DECOMPRESSED_BYTES))
    compressed = memoryview(batch)[pos + HEADER_SIZE:pos + header.size]
    section, complete = decompress_prefix(header.compression, compressed, want)
    return section, 0, len(section), complete


def _records_from(section: bytes | bytearray | memoryview, cursor: int, end: int, header: BatchHeader, max_bytes: int, from_offset: int,
                  complete: bool, seen: int, max_records: int | None = None) -> tuple[list[Record], int, bool]:
    records: list[Record] = []
    room = header.record_count if max_records is None else max(1, max_records)
    used = 0
    progress = [cursor, seen]
    try:
        cursor, seen = _step_over(section, progress, end, header, from_offset)
        while seen < header.record_count and used < max_bytes and len(records) < room:
            record, after = decode_record(section, cursor, end, header.base_offset, header.base_timestamp,
                                          header.append_time)
            seen += 1
            records.append(record)
            used += after - cursor
            cursor = after
    except (CorruptBatchError, IndexError, VarintError):
        if complete:
            raise CorruptBatchError(f"batch at offset {header.base_offset}: a record does not decode") from None
        raise _NeedMore(*progress) from None
    return records, used, seen == header.record_count


def _step_over(section: bytes | bytearray | memoryview, progress: list[int], end: int, header: BatchHeader, from_offset: int) -> tuple[int, int]:
    """(position, records passed) of the first record at or after ``from_offset``: each
    record before it is passed by its length and offset delta, nothing decoded.
    ``progress`` (position, records passed) is kept up to date for a caller that must
    open more and go on."""
    cursor, seen = progress
    while seen < header.record_count:
        length, body = read_varint(section, cursor)
        _, at = read_varlong(section, body + 1)  # attributes, timestamp delta
        delta, _ = read_varint(section, at)
        if header.base_offset + delta >= from_offset:
            break
        if length < 0 or body + length > end:
            raise CorruptBatchError(f"record length {length} runs past the batch end")
        cursor, seen = body + length, seen + 1
        progress[0], progress[1] = cursor, seen
    return cursor, seen


def record_section(batch: bytes | bytearray | memoryview, pos: int, header: BatchHeader) -> bytes:
    """The records of the batch at ``pos`` as bytes, opened when the batch is compressed."""
    section = memoryview(batch)[pos + HEADER_SIZE:pos + header.size]
    if not header.compression:
        return bytes(section)
    if header.compression not in COMPRESSION_NAMES:
        raise UnsupportedCompressionError(
            f"batch at offset {header.base_offset} names compression codec {header.compression}; "
            "Kafka's are 1 to 4 (gzip, snappy, lz4, zstd)")
    return decompress(header.compression, section)


def iter_batches(buf: bytes | bytearray | memoryview, pos: int = 0) -> Iterator[tuple[int, BatchHeader]]:
    """Yield ``(pos, header)`` for each complete batch; stop quietly at a truncated tail.

    Fetch responses and torn log tails may end mid-batch; that is not an error.
    A length that cannot be a batch is, because nothing after it can be trusted.
    """
    end = len(buf)
    while end - pos >= LOG_OVERHEAD:
        (length,) = _LENGTH.unpack_from(buf, pos + 8)
        if length < _MIN_BATCH_LENGTH:
            raise CorruptBatchError(f"batch at byte {pos} declares impossible length {length}")
        if pos + LOG_OVERHEAD + length > end:
            return
        header = BatchHeader.parse(buf, pos)
        yield pos, header
        pos += header.size


def decode_all(buf: bytes | bytearray | memoryview, *, verify: bool = True) -> list[Record]:
    """Records of every complete batch in a concatenation (e.g. a read or fetch result)."""
    records: list[Record] = []
    for pos, _ in iter_batches(buf):
        records.extend(decode_records(buf, pos, verify=verify))
    return records
