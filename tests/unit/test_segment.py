"""One segment on real files: appends, sparse indexes, reads, truncation, recovery."""
from __future__ import annotations

import random

import pytest

from kraft.storage.record_batch import (
    BatchHeader,
    Record,
    decode_all,
    encode_batch,
    iter_batches,
)
from kraft.storage.segment import Segment

INTERVAL = 256


def batches_from(base: int, count: int, per_batch: int = 3, value_size: int = 60, timestamps=None):
    """``count`` encoded batches starting at offset ``base``."""
    out, offset = [], base
    for i in range(count):
        ts = timestamps[i] if timestamps else 1000 + 10 * i
        records = [Record(b"k%d" % (offset + j), bytes([offset % 251]) * value_size, (), ts + j) for j in range(per_batch)]
        out.append(encode_batch(records, offset, 0))
        offset += per_batch
    return out


def build(path, count=40, **kwargs) -> tuple[Segment, list[bytes]]:
    segment = Segment.create(path, 0, INTERVAL)
    batches = batches_from(0, count, **kwargs)
    for batch in batches:
        segment.append(batch)
    return segment, batches


def index_bytes(segment: Segment) -> tuple[bytes, bytes]:
    return segment.offset_index.path.read_bytes(), segment.time_index.path.read_bytes()


def test_files_are_named_for_the_base_offset(tmp_path):
    segment = Segment.create(tmp_path, 1234, INTERVAL)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "00000000000000001234.index", "00000000000000001234.log", "00000000000000001234.timeindex"]
    segment.delete()
    assert list(tmp_path.iterdir()) == []


def test_append_tracks_offsets_and_a_sparse_index(tmp_path):
    segment, batches = build(tmp_path)
    assert segment.next_offset == 120 and segment.size == sum(map(len, batches))
    entries = list(zip(segment.offset_index.keys, segment.offset_index.values))
    # one entry per ~INTERVAL bytes, each pointing at a batch whose last offset is the key
    assert segment.size // (INTERVAL + len(batches[0])) <= len(entries) <= segment.size // INTERVAL
    for relative, position in entries:
        header = BatchHeader.parse(segment.log.read(position, 61))
        assert header.last_offset == relative
    assert segment.max_timestamp == 1000 + 10 * 39 + 2 and segment.first_timestamp == 1002


def test_append_rejects_a_gap(tmp_path):
    segment, _ = build(tmp_path, count=2)
    with pytest.raises(ValueError):
        segment.append(batches_from(7, 1)[0])


def test_find_position_for_every_offset(tmp_path):
    segment, batches = build(tmp_path)
    positions = [pos for pos, _ in iter_batches(b"".join(batches))]
    for offset in range(segment.next_offset):
        position, header = segment.find_position(offset)
        assert header.base_offset <= offset <= header.last_offset
        assert position == positions[offset // 3]
    assert segment.find_position(segment.next_offset) is None


def test_read_whole_batches_within_budget(tmp_path):
    segment, batches = build(tmp_path)
    size = len(batches[0])
    data, next_offset = segment.read(4, 3 * size + 10)  # offset 4 is inside the second batch
    assert data == b"".join(batches[1:4]) and next_offset == 12
    data, next_offset = segment.read(4, 10)  # smaller than one batch: still one batch
    assert data == batches[1] and next_offset == 6
    assert segment.read(4, 10, min_one=False) == (b"", 3)
    data, next_offset = segment.read(0, 10**6, max_offset=9)  # stop before the batch holding 9
    assert data == b"".join(batches[:3]) and next_offset == 9
    assert segment.read(120, 1000) == (b"", 120)


def test_offset_for_timestamp_matches_brute_force(tmp_path):
    rng = random.Random(7)
    timestamps = [rng.randrange(0, 5000) for _ in range(60)]  # not monotonic, as CreateTime may be
    segment, batches = build(tmp_path, count=60, timestamps=timestamps)
    records = decode_all(b"".join(batches))
    for target in list(range(-5, 5100, 37)) + [r.timestamp_ms for r in records]:
        expected = next(((r.offset, r.timestamp_ms) for r in records if r.timestamp_ms >= target), None)
        assert segment.offset_for_timestamp(target) == expected, target


def test_truncate_mid_batch_cuts_the_whole_batch(tmp_path):
    segment, batches = build(tmp_path)
    removed = segment.truncate_to(50)  # batch 16 holds 48..50
    assert segment.next_offset == 48 and removed == sum(map(len, batches[16:]))
    assert all(k < 48 for k in segment.offset_index.keys)
    assert all(v < 48 for v in segment.time_index.values)
    assert segment.max_timestamp == 1000 + 10 * 15 + 2
    for batch in batches_from(48, 5):
        segment.append(batch)
    assert [r.offset for r in decode_all(segment.read(0, 10**6)[0])] == list(range(63))
    assert segment.truncate_to(0) > 0 and segment.is_empty and segment.first_timestamp is None


def test_recover_rebuilds_the_same_indexes(tmp_path):
    segment, _ = build(tmp_path)
    before = index_bytes(segment)
    assert segment.recover() == 0
    assert index_bytes(segment) == before and segment.next_offset == 120


@pytest.mark.parametrize("damage", ["garbage", "cut", "flip"])
def test_recover_cuts_a_damaged_tail(tmp_path, damage):
    segment, batches = build(tmp_path)
    path = segment.log.path
    segment.close()
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data += bytes(random.Random(1).randrange(256) for _ in range(100))
    elif damage == "cut":
        del data[-len(batches[-1]) // 2:]
    else:
        data[-5] ^= 0xFF  # inside the last batch's records, covered by its CRC
    path.write_bytes(bytes(data))
    segment = Segment.open(tmp_path, 0, INTERVAL, recover=True)
    kept = 40 if damage == "garbage" else 39
    assert segment.next_offset == 3 * kept
    assert segment.read(0, 10**6)[0] == b"".join(batches[:kept])
    assert path.stat().st_size == sum(map(len, batches[:kept]))


def test_recover_rejects_offsets_that_do_not_follow(tmp_path):
    # baseOffset is outside the CRC, so only the contiguity check can catch this
    segment, batches = build(tmp_path)
    path = segment.log.path
    segment.close()
    data = bytearray(path.read_bytes())
    data[-len(batches[-1]) + 7] ^= 0x02  # last batch claims offset 119 instead of 117: a gap
    path.write_bytes(bytes(data))
    segment = Segment.open(tmp_path, 0, INTERVAL, recover=True)
    assert segment.next_offset == 117 and segment.read(0, 10**6)[0] == b"".join(batches[:-1])


def test_clean_open_trusts_indexes_and_finds_the_end(tmp_path):
    segment, batches = build(tmp_path)
    state = (segment.next_offset, segment.size, segment.max_timestamp, segment.first_timestamp)
    segment.seal()
    segment.close()
    reopened = Segment.open(tmp_path, 0, INTERVAL)
    assert (reopened.next_offset, reopened.size, reopened.max_timestamp, reopened.first_timestamp) == state
    reopened.append(batches_from(120, 1)[0])
    assert reopened.next_offset == 123


def test_missing_or_broken_index_is_rebuilt(tmp_path):
    segment, _ = build(tmp_path)
    before = index_bytes(segment)
    segment.close()
    segment.offset_index.path.unlink()
    segment.time_index.path.unlink()
    segment = Segment.open(tmp_path, 0, INTERVAL)
    assert index_bytes(segment) == before and segment.next_offset == 120
    segment.close()
    segment.offset_index.path.write_bytes(before[0][8:16] + before[0][:8])  # out of order
    segment = Segment.open(tmp_path, 0, INTERVAL)
    assert index_bytes(segment) == before
