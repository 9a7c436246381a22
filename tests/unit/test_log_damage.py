"""Damaged segment files on disk: never served, mapped to offset ranges, repaired by a cut.

Every test breaks a real file the way a disk or an operator would (bytes changed in
place, a file cut short, an index deleted) and reads through PartitionLog.
"""
from __future__ import annotations

import os

import pytest

from kraft.errors import DamagedLog
from kraft.storage.damage import SegmentScan, scan_step, scan_whole
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import BatchHeader, Record, decode_all, iter_batches

SMALL = LogConfig(segment_bytes=4096, index_interval_bytes=256, segment_ms=None)


def fill(log: PartitionLog, batches: int, per_batch: int = 4) -> None:
    for b in range(batches):
        log.append([Record(b"k", f"value-{b}-{i}".encode() * 8, (), 1000 + b) for i in range(per_batch)],
                   leader_epoch=0)


def values(data: bytes) -> list[tuple[int, bytes]]:
    return [(r.offset, r.value) for r in decode_all(data)]


def batch_positions(path) -> list[tuple[int, BatchHeader]]:
    return list(iter_batches(path.read_bytes()))


def patch(path, position: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, position)
    finally:
        os.close(fd)


@pytest.fixture
def closed_log(tmp_path):
    """A log of several closed segments, reopened after a clean shutdown."""
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 40)
    assert len(log.segments) >= 4
    expected = values(log.read(0, 10**9))
    log.close()
    return tmp_path, expected


def test_changed_value_in_closed_segment_is_never_served(closed_log):
    path, expected = closed_log
    log = PartitionLog.open(path, SMALL)
    second = log.segments[1]
    (pos, header), = [(p, h) for p, h in batch_positions(second.log.path)][2:3]
    patch(second.log.path, pos + header.size - 20, b"XXXXXX")  # same length, inside a value
    log.close()

    log = PartitionLog.open(path, SMALL)
    with pytest.raises(DamagedLog, match="damaged"):
        log.read(header.base_offset, 10**6)
    assert [(d.start, d.end) for d in log.damage] == [(header.base_offset, header.next_offset)]
    # everything before the damaged batch reads back as written, and stops before it
    before = values(log.read(0, 10**9))
    assert before == [v for v in expected if v[0] < header.base_offset]
    # the intact batches after it are still served
    after = values(log.read(header.next_offset, 10**9))
    assert after == [v for v in expected if v[0] >= header.next_offset]
    assert b"XXXXXX" not in b"".join(v for _, v in before + after)
    log.close()


def test_broken_batch_length_spoils_rest_of_segment_only(closed_log):
    path, expected = closed_log
    log = PartitionLog.open(path, SMALL)
    second, third = log.segments[1], log.segments[2]
    (pos, header), = batch_positions(second.log.path)[1:2]
    patch(second.log.path, pos + 8, (10**8).to_bytes(4, "big"))  # batchLength: impossible
    log.close()

    log = PartitionLog.open(path, SMALL)
    with pytest.raises(DamagedLog):
        log.read(header.base_offset, 10**6)
    assert [(d.start, d.end) for d in log.damage] == [(header.base_offset, third.base_offset)]
    assert values(log.read(third.base_offset, 10**9)) == [v for v in expected if v[0] >= third.base_offset]
    log.close()


def test_segment_cut_short_and_index_deleted_are_found_at_open(closed_log):
    path, expected = closed_log
    log = PartitionLog.open(path, SMALL)
    second = log.segments[1]
    end_before = log.log_end_offset
    log.close()
    os.truncate(second.log.path, second.log.path.stat().st_size - 100)
    second.offset_index.path.unlink()

    log = PartitionLog.open(path, SMALL)
    lost_from = log.log_end_offset
    assert second.base_offset < lost_from < end_before  # cut at the last whole batch
    assert [(d.start, d.end) for d in log.damage] == [(lost_from, end_before)]
    assert values(log.read(0, 10**9)) == [v for v in expected if v[0] < lost_from]
    log.close()


def test_repair_cuts_at_damage_and_takes_leader_batches_again(closed_log, tmp_path_factory):
    path, expected = closed_log
    healthy = PartitionLog.open(path, SMALL)
    copy = tmp_path_factory.mktemp("replica")
    replica = PartitionLog.open(copy, SMALL)
    replica.append_as_follower(healthy.read(0, 10**9))
    target = replica.segments[1]
    (pos, header), = batch_positions(target.log.path)[:1]
    patch(target.log.path, pos + header.size - 5, b"!")
    with pytest.raises(DamagedLog):
        replica.read(header.base_offset, 10**6)
    start = replica.damage[0].start
    assert replica.repair_from(start) == start and replica.damage == ()
    while replica.log_end_offset < healthy.log_end_offset:
        replica.append_as_follower(healthy.read(replica.log_end_offset, 10**6))
    assert values(replica.read(0, 10**9)) == expected
    assert replica.map_damage() == []
    healthy.close()
    replica.close()


def test_scan_finds_every_bad_batch_a_step_at_a_time(closed_log):
    path, _ = closed_log
    log = PartitionLog.open(path, SMALL)
    segment = log.segments[0]
    batches = batch_positions(segment.log.path)
    for pos, header in (batches[0], batches[3]):
        patch(segment.log.path, pos + header.size - 1, b"\x00" if
              segment.log.read(pos + header.size - 1, 1) != b"\x00" else b"\x01")
    scan = SegmentScan(segment.base_offset, segment.next_offset, segment.size)
    steps = 0
    while not scan.done:
        assert scan_step(segment.log.read, scan, budget=200) > 0
        steps += 1
    assert steps > 2  # the budget splits the walk
    want = [(batches[i][1].base_offset, batches[i][1].next_offset) for i in (0, 3)]
    assert [(d.start, d.end) for d in scan.damage] == want
    assert [(d.start, d.end) for d in scan_whole(segment.log.read, segment.base_offset,
                                                 segment.next_offset, segment.size)] == want
    log.close()


def test_zero_copy_slices_refuse_known_damage(closed_log):
    path, _ = closed_log
    log = PartitionLog.open(path, SMALL)
    segment = log.segments[1]
    (pos, header), = batch_positions(segment.log.path)[:1]
    patch(segment.log.path, pos + header.size - 3, b"??")
    with pytest.raises(DamagedLog):
        log.read(header.base_offset, 10**6)
    with pytest.raises(DamagedLog):
        log.read_slices(header.base_offset, 10**6)
    slices = log.read_slices(0, 10**9)
    try:  # every byte before the damaged batch, none of it or after it
        assert sum(s.length for s in slices) == log.segments[0].size + pos
        assert b"??" not in b"".join(s.read() for s in slices)
    finally:
        for s in slices:
            s.close()
    log.close()


def test_range_lost_at_open_stops_blocking_once_written_anew(closed_log):
    path, expected = closed_log
    log = PartitionLog.open(path, SMALL)
    second = log.segments[1]
    log.close()
    os.truncate(second.log.path, second.log.path.stat().st_size - 100)
    second.offset_index.path.unlink()
    log = PartitionLog.open(path, SMALL)
    lost_from = log.log_end_offset
    assert log.damage and log.damage[0].start == lost_from
    # the sole copy keeps taking writes where its log now ends: those offsets are sound
    log.append([Record(b"k", b"fresh", (), 5)], leader_epoch=1)
    assert log.damage == ()
    assert values(log.read(lost_from, 10**6)) == [(lost_from, b"fresh")]
    log.close()
