"""What the broker accepts from a Kafka client's Produce, checked before the log sees it
(kraft/broker/client_writes.py: the same rules stand behind the REST door)."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c

from kraft.broker.client_writes import batch_of_records, checked_client_batch
from kraft.config.topic_names import INTERNAL_TOPICS
from kraft.errors import CorruptBatchError, InvalidAppend, InvalidTopic, MessageTooLarge, UnsupportedCompressionError
from kraft.storage.record import Record
from kraft.storage.compression import compress
from kraft.storage.record_batch import (
    ATTRIBUTES_POS,
    CRC_POS,
    HEADER_SIZE,
    BatchHeader,
    decode_records,
    encode_batch,
    record_section,
)

LIMIT = 1_000_000


def configs(limit: int = LIMIT, **more: str) -> dict[str, str]:
    return {"max.message.bytes": str(limit), "compression.type": "producer", **more}


def checked_batch(data: bytes, limit: int):
    """The header the broker keeps a sound client batch with (stored as sent)."""
    stored, header = checked_client_batch(data, configs(limit), "t")
    assert stored is data
    return header


def batch(n=3, **kwargs) -> bytes:
    return encode_batch([Record(f"k{i}".encode(), f"v{i}".encode(), (), 1000 + i) for i in range(n)], 0, -1,
                        **kwargs)


def with_crc_fixed(data: bytearray) -> bytes:
    struct.pack_into(">I", data, CRC_POS, crc32c(bytes(data[ATTRIBUTES_POS:])))
    return bytes(data)


def test_a_sound_batch_passes_with_its_header():
    header = checked_batch(batch(3, producer_id=7, producer_epoch=0, base_sequence=0), LIMIT)
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
    header = checked_batch(encode_batch(records, 0, -1, compression=codec), LIMIT)
    assert header.compression == codec and header.record_count == 20


@pytest.mark.parametrize("codec", [0, 1, 4])
def test_a_record_with_a_wrong_offset_delta_is_refused_even_with_a_valid_crc(codec):
    records = [Record(None, b"v" * 10) for _ in range(3)]
    good = encode_batch(records, 0, -1, compression=codec)
    section = record_section(good, 0, BatchHeader.parse(good))
    # the second record's offset delta (after length, attributes, timestamp delta) 1 -> 2
    first_length = section[0] >> 1
    at = 1 + first_length + 1 + 1 + 1
    assert section[at] == 2  # zig-zag 1
    bad = bytearray(section)
    bad[at] = 4
    forged = encode_like(good, bytes(bad), codec)
    with pytest.raises(InvalidAppend):
        checked_batch(forged, LIMIT)


def encode_like(batch_bytes: bytes, section: bytes, codec: int) -> bytes:
    """The same header over another record section, CRC fixed."""
    body = compress(codec, section) if codec else section
    data = bytearray(batch_bytes[:HEADER_SIZE]) + body
    struct.pack_into(">i", data, 8, len(data) - 12)
    return with_crc_fixed(data)


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


@pytest.mark.parametrize("topic", sorted(INTERNAL_TOPICS))
def test_no_client_batch_or_record_reaches_an_internal_topic(topic):
    with pytest.raises(InvalidTopic, match="internal") as caught:
        checked_client_batch(batch(), configs(), topic)
    assert caught.value.kafka_code == 17  # INVALID_TOPIC_EXCEPTION, as Kafka answers
    with pytest.raises(InvalidTopic):
        batch_of_records([Record(b"k", b"v", (), 1)], configs(), topic)


def test_log_append_time_stamps_a_client_batch_and_keeps_its_producer_fields():
    sent = batch(3, producer_id=7, producer_epoch=1, base_sequence=5)
    stored, header = checked_client_batch(sent, configs(**{"message.timestamp.type": "LogAppendTime"}), "t")
    assert stored != sent
    kept = BatchHeader.parse(stored)
    assert (kept.producer_id, kept.producer_epoch, kept.base_sequence) == (7, 1, 5)
    # Kafka's way: the header's timestamp type bit and maxTimestamp, records untouched
    assert kept.attributes & 0x08 and kept.max_timestamp > 1_600_000_000_000 and header.base_timestamp == 1000
    assert stored[HEADER_SIZE:] == sent[HEADER_SIZE:]
    assert [r.timestamp_ms for r in decode_records(stored)] == [kept.max_timestamp] * 3
    assert [r.value for r in decode_records(stored)] == [b"v0", b"v1", b"v2"]


def test_a_create_time_topic_clears_a_client_s_log_append_time_bit():
    sent = bytearray(batch(3))
    sent[ATTRIBUTES_POS + 1] |= 0x08
    struct.pack_into(">I", sent, CRC_POS, crc32c(bytes(sent[ATTRIBUTES_POS:])))
    stored, _ = checked_client_batch(bytes(sent), configs(), "t")
    assert not BatchHeader.parse(stored).attributes & 0x08
    assert [r.timestamp_ms for r in decode_records(stored)] == [1000, 1001, 1002]


@pytest.mark.parametrize("sent_codec", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("topic_codec", ["uncompressed", "gzip", "snappy", "lz4", "zstd"])
def test_a_topic_codec_recompresses_a_client_batch_with_its_records_unchanged(sent_codec, topic_codec):
    sent = batch(40, producer_id=7, producer_epoch=1, base_sequence=5, compression=sent_codec)
    stored, _ = checked_client_batch(sent, configs(**{"compression.type": topic_codec}), "t")
    kept = BatchHeader.parse(stored)
    assert kept.compression == ["uncompressed", "gzip", "snappy", "lz4", "zstd"].index(topic_codec)
    assert (kept.producer_id, kept.base_sequence, kept.max_timestamp) == (7, 5, 1039)
    assert decode_records(stored) == decode_records(sent)


def test_a_batch_over_its_limit_once_recompressed_is_refused():
    sent = encode_batch([Record(None, bytes(50_000), (), 1)], 0, -1, compression=4)
    with pytest.raises(MessageTooLarge):
        checked_client_batch(sent, configs(20_000, **{"compression.type": "uncompressed"}), "t")


def test_a_compacted_topic_refuses_a_batch_naming_each_keyless_record():
    from kraft.errors import InvalidRecord
    records = [Record(None if i % 3 == 0 else b"k", b"v", (), 1) for i in range(10)]
    compact = configs(**{"cleanup.policy": "compact"})
    for codec in (0, 4):
        with pytest.raises(InvalidRecord) as caught:
            checked_client_batch(encode_batch(records, 0, -1, compression=codec), compact, "t")
        assert [i for i, _ in caught.value.record_errors] == [0, 3, 6, 9]
    keyed = encode_batch([Record(b"k", b"v", (), 1)] * 3, 0, -1)
    assert checked_client_batch(keyed, compact, "t")[0] is keyed


# -- many tiny records --------------------------------------------------------------

def empty_records(n: int) -> list[Record]:
    return [Record(None, b"", (), 1000) for _ in range(n)]


def test_a_compressed_batch_may_hold_no_more_records_than_its_limit_allows_uncompressed():
    from kraft.storage.compression import ZSTD
    limit = 70_000  # an uncompressed batch within it holds at most 10,000 records
    over = encode_batch(empty_records(10_001), 0, -1, compression=ZSTD)
    assert len(over) < limit // 5  # small on the wire: the count is what is refused
    with pytest.raises(MessageTooLarge, match="10001 records"):
        checked_client_batch(over, configs(limit), "t")
    at_the_bound = encode_batch(empty_records(10_000), 0, -1, compression=ZSTD)
    assert checked_batch(at_the_bound, limit).record_count == 10_000


def test_an_uncompressed_batch_within_its_size_limit_is_never_refused_for_its_count():
    records = empty_records(5_000)
    data = encode_batch(records, 0, -1)
    assert checked_batch(data, len(data)).record_count == 5_000


def test_a_large_batch_is_checked_in_slices_a_small_one_in_one():
    from kraft.broker.client_writes import client_batch_checks
    from kraft.storage.record_check import SLICE_RECORDS
    big = encode_batch(empty_records(3 * SLICE_RECORDS), 0, -1)
    checks = client_batch_checks(big, configs(), "t")
    pauses = 0
    while True:
        try:
            next(checks)
            pauses += 1
        except StopIteration as done:
            assert done.value[0] is big
            break
    assert pauses == 2
    small = client_batch_checks(batch(), configs(), "t")
    with pytest.raises(StopIteration):
        next(small)
