"""gzip members and zstd frames after the first: read as Kafka's Java readers read them
(GZIPInputStream goes on to the next member, zstd-jni's stream to the next frame), and
anything else after the last one refused as CORRUPT_MESSAGE rather than silently dropped."""

from __future__ import annotations

import gzip

import pytest
import zstandard

from kraft.broker.client_writes import checked_client_batch
from kraft.errors import CorruptBatchError, MessageTooLarge
from kraft.storage.compression import GZIP, ZSTD, decompress, decompress_prefix
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_records, decode_records_prefix, encode_batch
from test_kafka_produce_checks import configs

RECORDS = [Record(f"k{i}".encode(), f"v{i}".encode() * 20, (), 1000 + i) for i in range(200)]
SECTION = encode_batch(RECORDS, 0, -1)[61:]


def members(codec: int, data: bytes) -> bytes:
    """``data`` closed as three gzip members or zstd frames, one after another."""
    third = len(data) // 3
    pieces = (data[:third], data[third:2 * third], data[2 * third:])
    if codec == GZIP:
        return b"".join(gzip.compress(p, mtime=0) for p in pieces)
    return b"".join(zstandard.ZstdCompressor().compress(p) for p in pieces)


def batch_over(codec: int, closed: bytes) -> bytes:
    """A batch of RECORDS whose records section is ``closed`` as given."""
    return reframed_closed(encode_batch(RECORDS, 0, -1, compression=codec), closed)


def reframed_closed(batch: bytes, closed: bytes) -> bytes:
    import struct

    from crc32c import crc32c
    data = bytearray(batch[:61]) + closed
    struct.pack_into(">i", data, 8, len(data) - 12)
    struct.pack_into(">I", data, 17, crc32c(bytes(data[21:])))
    return bytes(data)


@pytest.mark.parametrize("codec", [GZIP, ZSTD])
def test_members_after_the_first_are_read(codec):
    closed = members(codec, SECTION)
    assert decompress(codec, closed) == SECTION
    opened, whole = decompress_prefix(codec, closed, len(SECTION) + 1)
    assert opened == SECTION and whole
    part, whole = decompress_prefix(codec, closed, len(SECTION) // 2)
    assert SECTION.startswith(part) and len(part) >= len(SECTION) // 2 and not whole
    batch = batch_over(codec, closed)
    stored, _ = checked_client_batch(batch, configs(), "t")
    assert decode_records(stored) == decode_records(encode_batch(RECORDS, 0, -1))
    shown, _, whole = decode_records_prefix(stored, 0, 1 << 20)
    assert len(shown) == len(RECORDS) and whole


@pytest.mark.parametrize("codec", [GZIP, ZSTD])
@pytest.mark.parametrize("tail", [b"\x00", b"junk", b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd"])
def test_bytes_after_the_last_member_that_are_not_one_are_refused(codec, tail):
    closed = members(codec, SECTION) + tail
    with pytest.raises(CorruptBatchError):
        decompress(codec, closed)
    with pytest.raises(CorruptBatchError) as caught:
        checked_client_batch(batch_over(codec, closed), configs(), "t")
    assert caught.value.kafka_code == 2  # CORRUPT_MESSAGE


@pytest.mark.parametrize("codec", [GZIP, ZSTD])
def test_a_cut_member_is_refused(codec):
    closed = members(codec, SECTION)[:-3]
    with pytest.raises(CorruptBatchError):
        decompress(codec, closed)


@pytest.mark.parametrize("codec", [GZIP, ZSTD])
def test_members_together_opening_past_the_limit_are_refused_within_it(codec):
    closed = members(codec, bytes(3 << 20))  # each member alone is within the limit
    with pytest.raises(MessageTooLarge):
        decompress(codec, closed, limit=2 << 20)
    assert len(decompress(codec, closed, limit=3 << 20)) == 3 << 20
