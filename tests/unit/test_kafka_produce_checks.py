"""What the Kafka listener accepts from a client's Produce, checked before the log sees it."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c

from kraft.errors import CorruptBatchError, InvalidAppend, MessageTooLarge, UnsupportedCompressionError
from kraft.kafka.produce_api import checked_batch
from kraft.storage.record import Record
from kraft.storage.record_batch import ATTRIBUTES_POS, CRC_POS, encode_batch

LIMIT = 1_000_000


def batch(n=3, **kwargs) -> bytes:
    return encode_batch([Record(f"k{i}".encode(), f"v{i}".encode(), (), 1000 + i) for i in range(n)], 0, -1,
                        **kwargs)


def with_crc_fixed(data: bytearray) -> bytes:
    struct.pack_into(">I", data, CRC_POS, crc32c(bytes(data[ATTRIBUTES_POS:])))
    return bytes(data)


def test_a_sound_batch_passes_with_its_records():
    header, records = checked_batch(batch(3, producer_id=7, producer_epoch=0, base_sequence=0), LIMIT)
    assert [r.value for r in records] == [b"v0", b"v1", b"v2"]
    assert (header.producer_id, header.base_sequence, header.record_count) == (7, 0, 3)


def test_a_flipped_byte_is_refused_as_corrupt():
    data = bytearray(batch())
    data[-2] ^= 0xFF
    with pytest.raises(CorruptBatchError):
        checked_batch(bytes(data), LIMIT)


def test_offset_deltas_must_count_from_zero():
    data = bytearray(batch(2))
    struct.pack_into(">i", data, 23, 5)  # lastOffsetDelta says 6 records, there are 2
    with pytest.raises(InvalidAppend):
        checked_batch(with_crc_fixed(data), LIMIT)


@pytest.mark.parametrize("cut", [10, 60, 3])
def test_truncated_or_extra_bytes_are_refused(cut):
    good = batch()
    with pytest.raises((InvalidAppend, CorruptBatchError)):
        checked_batch(good[:-cut], LIMIT)
    with pytest.raises(InvalidAppend):
        checked_batch(good + good[:cut], LIMIT)  # two batches or trailing bytes


def test_old_message_formats_are_refused_with_the_kafka_code_for_it():
    data = bytearray(batch())
    data[16] = 1  # magic 1
    with pytest.raises(Exception) as caught:
        checked_batch(bytes(data), LIMIT)
    assert caught.value.kafka_code == 43  # UNSUPPORTED_FOR_MESSAGE_FORMAT


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_compressed_batches_are_opened_and_checked(codec):
    records = [Record(f"k{i}".encode(), b"v" * 100) for i in range(20)]
    header, got = checked_batch(encode_batch(records, 0, -1, compression=codec), LIMIT)
    assert header.compression == codec and [r.value for r in got] == [b"v" * 100] * 20


def test_a_batch_marked_compressed_that_is_not_is_corrupt_and_an_unknown_codec_unsupported():
    data = bytearray(batch())
    struct.pack_into(">h", data, ATTRIBUTES_POS, 1)  # says gzip, holds plain records
    with pytest.raises(CorruptBatchError, match="gzip"):
        checked_batch(with_crc_fixed(data), LIMIT)
    struct.pack_into(">h", data, ATTRIBUTES_POS, 6)
    with pytest.raises(UnsupportedCompressionError):
        checked_batch(with_crc_fixed(data), LIMIT)


def test_a_batch_over_max_message_bytes_is_refused():
    with pytest.raises(MessageTooLarge):
        checked_batch(batch(50), 200)
