"""RecordBatch v2 codec: roundtrips, documented byte layout, corruption handling."""
from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.errors import MessageTooLarge
from kraft.storage.record_batch import (
    BatchHeader,
    CorruptBatchError,
    Record,
    UnsupportedCompressionError,
    decode_all,
    decode_records,
    encode_batch,
    ensure_valid,
    iter_batches,
    restamp,
    set_base_offset,
    set_leader_epoch,
    verify_crc,
)
from kraft.storage.varint import VarintError, read_varint, read_varlong, write_varint


def _without_offsets(records):
    return [Record(r.key, r.value, r.headers, r.timestamp_ms) for r in records]


# -- varints -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"), (64, "8001"), (300, "d804")],
)
def test_varint_known_encodings(value, encoded):
    out = bytearray()
    write_varint(out, value)
    assert out.hex() == encoded
    assert read_varint(bytes(out), 0) == (value, len(out))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_varlong_roundtrip(value):
    out = bytearray()
    write_varint(out, value)
    assert read_varlong(bytes(out), 0) == (value, len(out))


def test_varint_rejects_truncated_and_overlong():
    with pytest.raises(VarintError):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(VarintError):
        read_varint(b"\xff\xff\xff\xff\xff\x01", 0)


# -- roundtrips ----------------------------------------------------------------

def test_roundtrip_nulls_headers_unicode():
    records = [
        Record(None, None),
        Record(b"", b""),
        Record(b"k", "zürich ✓ 東京".encode(), (("trace-id", b"abc"), ("ключ", None), ("", b"")), 1_700_000_000_000),
        Record(b"k2", b"v" * 300, (), 1_699_999_999_000),  # earlier than base: negative delta
    ]
    batch = encode_batch(records, base_offset=42, leader_epoch=3)
    decoded = decode_records(batch)
    assert [r.offset for r in decoded] == [42, 43, 44, 45]
    assert _without_offsets(decoded) == records
    header = BatchHeader.parse(batch)
    assert (header.base_offset, header.last_offset, header.next_offset) == (42, 45, 46)
    assert header.record_count == 4 and header.leader_epoch == 3
    assert header.base_timestamp == 0 and header.max_timestamp == 1_700_000_000_000
    assert header.size == len(batch)


def test_producer_fields_and_flags():
    batch = encode_batch([Record(b"k", b"v")], 0, 1, producer_id=77, producer_epoch=5, base_sequence=9,
                         is_transactional=True)
    header = BatchHeader.parse(batch)
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (77, 5, 9)
    assert header.is_transactional and not header.is_control and header.compression == 0


header_values = st.one_of(st.none(), st.binary(max_size=20))
records_strategy = st.lists(
    st.builds(
        Record,
        key=st.one_of(st.none(), st.binary(max_size=40)),
        value=st.one_of(st.none(), st.binary(max_size=200)),
        headers=st.lists(st.tuples(st.text(max_size=10), header_values), max_size=3).map(tuple),
        timestamp_ms=st.integers(min_value=0, max_value=2**40),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150)
@given(records_strategy, st.integers(min_value=0, max_value=2**62), st.integers(min_value=-1, max_value=2**31 - 1))
def test_roundtrip_property(records, base_offset, epoch):
    batch = encode_batch(records, base_offset, epoch)
    assert verify_crc(batch)
    decoded = decode_records(batch)
    assert _without_offsets(decoded) == records
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(records)))


def test_empty_batch_rejected():
    with pytest.raises(ValueError):
        encode_batch([], 0, 0)


# -- documented layout ---------------------------------------------------------

def test_encoded_bytes_follow_documented_layout():
    batch = encode_batch([Record(b"ab", b"xyz", (("h", b"1"),), 1000)], base_offset=7, leader_epoch=4,
                         producer_id=11, producer_epoch=2, base_sequence=5)
    assert struct.unpack_from(">q", batch, 0)[0] == 7  # baseOffset
    assert struct.unpack_from(">i", batch, 8)[0] == len(batch) - 12  # batchLength: bytes after it
    assert struct.unpack_from(">i", batch, 12)[0] == 4  # partitionLeaderEpoch
    assert batch[16] == 2  # magic
    assert struct.unpack_from(">I", batch, 17)[0] == crc32c(batch[21:])  # CRC-32C of attributes..end
    assert struct.unpack_from(">h", batch, 21)[0] == 0  # attributes: no compression, CreateTime
    assert struct.unpack_from(">i", batch, 23)[0] == 0  # lastOffsetDelta
    assert struct.unpack_from(">qq", batch, 27) == (1000, 1000)  # base / max timestamp
    assert struct.unpack_from(">qhi", batch, 43) == (11, 2, 5)  # producer id / epoch / base sequence
    assert struct.unpack_from(">i", batch, 57)[0] == 1  # record count
    # record: length, attributes, tsDelta, offsetDelta, key, value, headers (zig-zag varints)
    assert batch[61:].hex() == "1e" "00" "00" "00" "04" "6162" "06" "78797a" "02" "02" "68" "02" "31"


def test_decodes_batch_from_another_implementation():
    # A v2 batch as encoded by sarama (a Go Kafka client) in its record tests:
    # one record, key 01020304, value 050607, header 08090a -> 0b0c.
    foreign = bytes([
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 0, 2, 84, 121, 97, 253, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 88, 141, 205, 89, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 1, 40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12,
    ])
    assert verify_crc(foreign)
    (record,) = decode_records(foreign)
    assert record == Record(b"\x01\x02\x03\x04", b"\x05\x06\x07", (("\x08\t\n", b"\x0b\x0c"),),
                            1479847795000 + 5, 0)


# -- restamping ----------------------------------------------------------------

def test_restamp_keeps_crc_valid():
    batch = encode_batch([Record(b"k", b"v"), Record(b"k", b"w")], 0, 0)
    for stamped in (set_base_offset(batch, 1000), set_leader_epoch(batch, 9), restamp(batch, 1000, 9)):
        assert verify_crc(stamped)
        assert stamped[16:] == batch[16:]  # magic, CRC and records untouched
    header = BatchHeader.parse(restamp(batch, 1000, 9))
    assert (header.base_offset, header.leader_epoch, header.last_offset) == (1000, 9, 1001)
    assert [r.offset for r in decode_records(set_base_offset(batch, 50))] == [50, 51]


# -- corruption ----------------------------------------------------------------

def test_every_flipped_covered_byte_is_detected():
    batch = encode_batch([Record(b"key", b"value", (("h", b"v"),), 5)] * 3, 0, 0)
    for pos in range(21, len(batch)):
        bad = bytearray(batch)
        bad[pos] ^= 0x40
        assert not verify_crc(bad), pos
        with pytest.raises(CorruptBatchError):
            decode_records(bytes(bad))


def test_bad_magic_and_length_rejected():
    batch = bytearray(encode_batch([Record(b"k", b"v")], 0, 0))
    wrong_magic = bytes(batch[:16]) + b"\x01" + bytes(batch[17:])
    with pytest.raises(CorruptBatchError, match="magic"):
        BatchHeader.parse(wrong_magic)
    struct.pack_into(">i", batch, 8, 3)
    with pytest.raises(CorruptBatchError, match="length"):
        BatchHeader.parse(batch)


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_compressed_batches_round_trip_and_are_smaller(codec):
    records = [Record(f"k{i}".encode(), b"value " * 50, timestamp_ms=1_700_000_000_000 + i,
                      headers=(("h", b"x"),)) for i in range(100)]
    plain = encode_batch(records, 7, 3)
    packed = encode_batch(records, 7, 3, compression=codec)
    assert BatchHeader.parse(packed).compression == codec and verify_crc(packed)
    assert len(packed) < len(plain) / 5
    got = decode_records(packed)
    assert [(r.offset, r.key, r.value, r.timestamp_ms) for r in got] == \
        [(7 + i, r.key, r.value, r.timestamp_ms) for i, r in enumerate(records)]


def test_a_batch_whose_codec_data_is_not_that_codec_is_corrupt():
    batch = bytearray(encode_batch([Record(b"k", b"v")], 0, 0))
    struct.pack_into(">h", batch, 21, 4)  # says zstd, holds plain records
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
    assert verify_crc(batch)
    with pytest.raises(CorruptBatchError, match="zstd"):
        decode_records(bytes(batch))


def test_an_unknown_codec_is_refused_by_name():
    batch = bytearray(encode_batch([Record(b"k", b"v")], 0, 0))
    struct.pack_into(">h", batch, 21, 5)
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
    with pytest.raises(UnsupportedCompressionError, match="codec 5"):
        decode_records(bytes(batch))


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_a_decompression_bomb_is_refused_before_it_is_opened(codec):
    records = [Record(b"k", bytes(8 << 20)) for _ in range(10)]  # 80 MiB of zeros
    bomb = encode_batch(records, 0, 0, compression=codec)
    assert len(bomb) < 8 << 20
    with pytest.raises(MessageTooLarge, match="opens into more than"):
        decode_records(bomb)


def test_record_count_mismatch_detected():
    batch = bytearray(encode_batch([Record(b"k", b"v"), Record(b"k", b"v")], 0, 0))
    struct.pack_into(">i", batch, 57, 1)
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
    with pytest.raises(CorruptBatchError, match="after its records"):
        decode_records(bytes(batch))


def test_truncated_batch_rejected_by_ensure_valid():
    batch = encode_batch([Record(b"k", b"v")], 0, 0)
    with pytest.raises(CorruptBatchError):
        ensure_valid(batch[:-1])
    with pytest.raises(CorruptBatchError):
        ensure_valid(batch[:30])


# -- concatenations ------------------------------------------------------------

def test_iter_batches_stops_at_truncated_tail():
    batches = [encode_batch([Record(b"k", b"v%d" % i)] * (i + 1), 10 * i, 0) for i in range(3)]
    buf = b"".join(batches)
    positions = [pos for pos, _ in iter_batches(buf)]
    assert positions == [0, len(batches[0]), len(batches[0]) + len(batches[1])]
    for cut in (1, 11, 12, 40, len(batches[2]) - 1):
        assert len(list(iter_batches(buf[:-cut]))) == 2
    assert [r.offset for r in decode_all(buf + batches[0][:20])] == [0, 10, 11, 20, 21, 22]


def test_iter_batches_rejects_impossible_length():
    buf = encode_batch([Record(b"k", b"v")], 0, 0) + b"\x00" * 8 + struct.pack(">i", 5) + b"\x00" * 60
    with pytest.raises(CorruptBatchError):
        list(iter_batches(buf))
