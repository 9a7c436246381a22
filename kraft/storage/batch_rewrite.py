"""Record batches as compaction rewrites them: fewer records, same header.

A trimmed batch keeps baseOffset, lastOffsetDelta, baseTimestamp, maxTimestamp,
leader epoch, attributes and producer fields; the surviving records are copied
byte for byte (their offset and timestamp deltas are relative to the unchanged
base), so each keeps its original offset and timestamp. A compressed batch is opened
and its survivors closed again with the same codec. Only batchLength, the record
count and the CRC-32C are recomputed. A filler is a header-only batch
(zero records) spanning offsets whose batches all went.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence

from crc32c import crc32c

from kraft.storage.record import decode_record
from kraft.storage.record_batch import (
    ATTRIBUTES_POS,
    CRC_POS,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    BatchHeader,
    Record,
    ensure_valid,
    record_section,
)
from kraft.storage.compression import compress

_LENGTH_POS = 8
_COUNT_POS = 57
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_HEADER = struct.Struct(">qiibIhiqqqhii")


def records_with_spans(section: bytes, header: BatchHeader) -> list[tuple[Record, int, int]]:
    """Each record of a batch's (opened) records section with its byte span [start, end)."""
    out = []
    pos = 0
    for _ in range(header.record_count):
        record, end = decode_record(section, pos, len(section), header.base_offset, header.base_timestamp,
                                    header.append_time)
        out.append((record, pos, end))
        pos = end
    return out


def trim(batch: bytes | memoryview, kept: Sequence[int]) -> bytes:
    """The batch with only the records at indexes ``kept`` (ascending)."""
    header = ensure_valid(batch)
    section = record_section(batch, 0, header)
    spans = records_with_spans(section, header)
    survivors = b"".join(section[spans[i][1]:spans[i][2]] for i in kept)
    if header.compression:
        survivors = compress(header.compression, survivors)
    out = bytearray(batch[:HEADER_SIZE])
    out += survivors
    _INT32.pack_into(out, _LENGTH_POS, len(out) - LOG_OVERHEAD)
    _INT32.pack_into(out, _COUNT_POS, len(kept))
    _UINT32.pack_into(out, CRC_POS, crc32c(memoryview(out)[ATTRIBUTES_POS:]))
    return bytes(out)


def filler(base_offset: int, last_offset: int, leader_epoch: int, base_timestamp: int,
           max_timestamp: int) -> bytes:
    """A header-only batch covering [base_offset, last_offset] in ``leader_epoch``."""
    out = bytearray(HEADER_SIZE)
    _HEADER.pack_into(out, 0, base_offset, HEADER_SIZE - LOG_OVERHEAD, leader_epoch, MAGIC, 0, 0,
                      last_offset - base_offset, base_timestamp, max_timestamp,
                      NO_PRODUCER_ID, -1, NO_SEQUENCE, 0)
    _UINT32.pack_into(out, CRC_POS, crc32c(memoryview(out)[ATTRIBUTES_POS:]))
    return bytes(out)
