"""check_records (the leader's walk over a client's batch) accepts exactly what decodes.

A batch it passes is stored and must decode for every later reader; a batch it
refuses must be one that would not. Both directions are checked against the full
decoder on random records and on random damage behind a recomputed CRC (what a
hostile or buggy client can send)."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.errors import CorruptBatchError, InvalidAppend, MessageTooLarge
from kraft.storage.compression import compress
from kraft.storage.record import Record
from kraft.storage.record_batch import ATTRIBUTES_POS, CRC_POS, HEADER_SIZE, BatchHeader, decode_records, \
    encode_batch, record_section
from kraft.storage.record_check import check_records

payload = st.one_of(st.none(), st.binary(max_size=300))
header_pair = st.tuples(st.text(max_size=8), payload)
record = st.builds(lambda k, v, h, ts: Record(k, v, tuple(h), ts), payload, payload,
                   st.lists(header_pair, max_size=3), st.integers(0, 2**40))
small_record = st.builds(lambda k, v: Record(k, v), st.one_of(st.none(), st.binary(max_size=4)),
                         st.binary(max_size=8))
# Past 64 records the offset deltas take two varint bytes, a path of their own.
records = st.one_of(st.lists(record, min_size=1, max_size=20),
                    st.lists(small_record, min_size=60, max_size=140))


def reframed(batch: bytes, section: bytes) -> bytes:
    """``batch``'s header over another record section (compressed with the batch's
    codec), length and CRC recomputed."""
    codec = BatchHeader.parse(batch).compression
    data = bytearray(batch[:HEADER_SIZE]) + (compress(codec, section) if codec else section)
    struct.pack_into(">i", data, 8, len(data) - 12)
    struct.pack_into(">I", data, CRC_POS, crc32c(bytes(data[ATTRIBUTES_POS:])))
    return bytes(data)


def decoder_verdict(batch: bytes) -> bool:
    """True when the full decoder reads the batch and its deltas count 0, 1, 2..."""
    try:
        got = decode_records(batch)
    except CorruptBatchError:
        return False
    header = BatchHeader.parse(batch)
    return [r.offset - header.base_offset for r in got] == list(range(header.record_count))


def check_verdict(batch: bytes) -> bool:
    try:
        check_records(batch)
    except (CorruptBatchError, InvalidAppend):
        return False
    return True


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=150, deadline=None)
@given(records, st.sampled_from([0, 1, 4]))
def test_every_sound_batch_passes(recs, codec):
    batch = encode_batch(recs, 0, -1, compression=codec)
    assert check_records(batch).record_count == len(recs)


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=600, deadline=None)
@given(records, st.data())
def test_damage_behind_a_valid_crc_is_judged_as_the_decoder_judges_it(recs, data):
    batch = encode_batch(recs, 0, -1)
    section = bytearray(record_section(batch, 0, BatchHeader.parse(batch)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(section) - 1))
        section[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, 3))
    damaged = reframed(batch, bytes(section[:len(section) - cut]))
    assert check_verdict(damaged) == decoder_verdict(damaged)


def test_a_flipped_byte_without_a_new_crc_is_corrupt():
    batch = bytearray(encode_batch([Record(b"k", b"v" * 50)], 0, -1))
    batch[-5] ^= 0x01
    with pytest.raises(CorruptBatchError, match="CRC"):
        check_records(bytes(batch))


def test_a_record_cut_short_inside_a_compressed_batch_is_corrupt():
    batch = encode_batch([Record(b"k", b"v" * 50), Record(b"k", b"w" * 50)], 0, -1, compression=1)
    section = record_section(batch, 0, BatchHeader.parse(batch))
    with pytest.raises(CorruptBatchError):
        check_records(reframed(batch, section[:-10]))


def test_a_header_name_that_is_not_utf8_is_corrupt():
    batch = encode_batch([Record(None, b"v", (("ab", b"x"),))], 0, -1)
    section = bytearray(record_section(batch, 0, BatchHeader.parse(batch)))
    at = bytes(section).index(b"ab")
    section[at] = 0xFF
    with pytest.raises(CorruptBatchError, match="UTF-8"):
        check_records(reframed(batch, bytes(section)))


def test_a_decompression_bomb_is_refused_by_the_codec_bound():
    batch = encode_batch([Record(None, b"\0" * (70 * 1024 * 1024))], 0, -1, compression=4)
    with pytest.raises(MessageTooLarge):
        check_records(batch)
