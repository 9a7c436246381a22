"""Fuzz target: the record-batch reader, every codec.

The input is a run of RecordBatch v2 bytes, as a produce request's records field or a
log segment holds them. The first byte is a switch, not batch data: its low bit makes
the target restamp each batch's CRC-32C before reading it, so mutations reach past the
checksum into the codecs and the records.

Oracles: the reader refuses bad bytes only with its documented errors (CORRUPT_MESSAGE,
UNSUPPORTED_COMPRESSION_TYPE, MESSAGE_TOO_LARGE, INVALID_RECORD); the produce path's check
(record_check) and the full decoder agree on every batch; a batch that decodes encodes
again, with its own codec, into records that decode the same.
"""

from __future__ import annotations

import pathlib
import struct

from crc32c import crc32c

from kraft.errors import InvalidAppend, MessageTooLarge, RecordBatchError
from kraft.storage import record_batch as rb
from kraft.storage.record_check import check_records

CORPUS = pathlib.Path(__file__).parent / "corpus" / "record_batches"
REFUSALS = (RecordBatchError, MessageTooLarge)  # CorruptBatchError, UnsupportedCompressionError are RecordBatchErrors
_CRC = struct.Struct(">I")


def fuzz_one(data: bytes) -> None:
    if not data:
        return
    fix_crc, buf = data[0] & 1, bytearray(data[1:])
    try:
        batches = list(rb.iter_batches(buf))
    except REFUSALS:
        return
    for pos, header in batches:
        if fix_crc:
            _restamp_crc(buf, pos, header.size)
        _read_one(bytes(buf[pos:pos + header.size]))


def _restamp_crc(buf: bytearray, pos: int, size: int) -> None:
    _CRC.pack_into(buf, pos + rb.CRC_POS, crc32c(memoryview(buf)[pos + rb.ATTRIBUTES_POS:pos + size]))


def _read_one(batch: bytes) -> None:
    checked, check_refusal = _outcome(check_records, batch)
    records, decode_refusal = _outcome(rb.decode_records, batch)
    if isinstance(check_refusal, InvalidAppend):
        return  # well-formed records that do not count 0, 1, 2...: decode_records does not judge offsets
    if (check_refusal is None) != (decode_refusal is None):
        raise AssertionError(f"record_check says {check_refusal!r}, decode_records says {decode_refusal!r}")
    if records is None or not records:
        return
    header = rb.BatchHeader.parse(batch)
    again = rb.encode_batch(records, header.base_offset, header.leader_epoch, header.producer_id,
                            header.producer_epoch, header.base_sequence,
                            is_transactional=header.is_transactional, is_control=header.is_control,
                            compression=header.compression)
    if _shape(rb.decode_records(again)) != _shape(records):
        raise AssertionError("records encoded again do not decode the same")


def _outcome(read, batch: bytes):
    try:
        return read(batch), None
    except (InvalidAppend, *REFUSALS) as refusal:
        return None, refusal


def _shape(records) -> list:
    # timestamps are stored as deltas from the first record's: compare what survives that
    return [(r.key, r.value, r.headers, r.offset) for r in records]
