"""DeleteRecords below the front doors: the log start moved inside a segment (durably),
followers taking it from their leader, the low watermark, and ListOffsets' max timestamp."""

from __future__ import annotations

import pytest

from kraft.errors import OffsetOutOfRange
from kraft.metadata.image import PartitionRegistration
from kraft.replication import fetch_protocol as fp
from kraft.replication.leader_state import LeaderState
from kraft.replication.partition_replica import HIGH_WATERMARK, PartitionReplica
from kraft.storage.leader_epoch_cache import LeaderEpochCache
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, decode_all, encode_batch, encode_control_batch
from kraft.storage.retention_policy import SegmentStats, segments_below_start

SMALL = LogConfig(segment_bytes=1024, index_interval_bytes=128, segment_ms=None)


def fill(log: PartitionLog, batches: int, per_batch: int = 3, ts: int = 1000) -> None:
    for i in range(batches):
        log.append([Record(b"k", f"b{i}.{j}".encode() * 8, (), ts + 100 * i + j) for j in range(per_batch)],
                   leader_epoch=0)


def offsets(log: PartitionLog) -> list[int]:
    return [r.offset for r in decode_all(log.read(log.log_start_offset, 1 << 20)) if r.offset >= log.log_start_offset]


# -- pure rules ------------------------------------------------------------------------------

def test_segments_wholly_below_the_start_are_counted_never_the_last():
    stats = [SegmentStats(0, 10, 100, 0), SegmentStats(10, 20, 100, 0), SegmentStats(20, 25, 50, 0)]
    assert segments_below_start(stats, 5) == 0
    assert segments_below_start(stats, 10) == 1
    assert segments_below_start(stats, 19) == 1
    assert segments_below_start(stats, 25) == 2  # the last stays: the log keeps a segment at its end


def test_epoch_for_an_offset():
    cache = LeaderEpochCache(None, [])
    assert cache.epoch_for(0) == -1
    cache.assign(1, 0)
    cache.assign(4, 10)
    assert [cache.epoch_for(o) for o in (0, 9, 10, 99)] == [1, 1, 4, 4]


def test_the_low_watermark_counts_followers_on_live_brokers_only():
    state = LeaderState(1, (1, 2, 3), (1, 2, 3), 1, 1, 10, 10, 0)
    assert state.low_watermark(8, {1, 2, 3}) == -1  # followers not heard from yet
    assert state.on_follower_log_start(2, 8) and not state.on_follower_log_start(2, 8)
    assert not state.on_follower_log_start(3, -1)  # a follower that does not report it
    assert state.low_watermark(8, {1, 2}) == 8  # broker 3 is not alive: not waited for
    assert state.low_watermark(8, {1, 2, 3}) == -1
    state.on_follower_log_start(3, 5)
    assert state.low_watermark(8, {1, 2, 3}) == 5


# -- the log ------------------------------------------------------------------------------------

def test_advancing_the_start_inside_a_segment_survives_a_reopen(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 12)
    end = log.log_end_offset
    first_base = log.segments[1].base_offset
    assert log.advance_start(first_base + 2)
    assert log.log_start_offset == first_base + 2
    assert log.segments[0].base_offset == first_base  # the wholly deleted segment is gone
    with pytest.raises(OffsetOutOfRange):
        log.read(first_base + 1, 1 << 20)
    assert offsets(log)[0] == first_base + 2
    assert not log.advance_start(first_base)  # never back
    log.close()
    again = PartitionLog.open(tmp_path, SMALL)
    assert again.log_start_offset == first_base + 2 and again.log_end_offset == end
    again.close()
    unclean = PartitionLog.open(tmp_path, SMALL)  # a kill -9 after this open: the file still rules
    unclean.close(clean=False)
    assert PartitionLog.open(tmp_path, SMALL).log_start_offset == first_base + 2


def test_the_start_at_the_log_end_empties_the_log_and_keeps_its_end(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 5)
    end = log.log_end_offset
    assert log.advance_start(end)
    assert log.log_start_offset == end == log.log_end_offset and log.size_bytes == 0
    log.append([Record(None, b"after")], leader_epoch=0)
    assert offsets(log) == [end]
    with pytest.raises(OffsetOutOfRange):
        log.advance_start(end + 5)


def test_a_start_past_a_crashed_tail_restarts_the_log_there(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 2)
    log.close()
    (tmp_path / "log-start-offset").write_text("100")  # as if the tail below 100 was lost
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.log_start_offset == reopened.log_end_offset == 100


def test_time_lookups_and_the_max_timestamp_skip_what_lies_below_the_start(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append([Record(None, b"a", (), 5000), Record(None, b"b", (), 100), Record(None, b"c", (), 200)], 0)
    log.append([Record(None, b"d", (), 300), Record(None, b"e", (), 4000), Record(None, b"f", (), 4000)], 0)
    log.append_marker(7, 0, True, 0, 0, timestamp_ms=9000)  # a marker: not a record anyone reads
    assert log.record_with_max_timestamp(log.log_end_offset)[:2] == (0, 5000)
    assert log.offset_for_timestamp(150) == (0, 5000)
    log.advance_start(1)  # inside the first batch
    assert log.record_with_max_timestamp(log.log_end_offset)[:2] == (4, 4000)  # the first of the two
    assert log.record_with_max_timestamp(4)[:2] == (3, 300)  # the end (the HW) bounds it too
    assert log.offset_for_timestamp(150) == (2, 200)
    assert log.record_with_max_timestamp(1) is None


# -- replicas -------------------------------------------------------------------------------------

def replica(tmp_path, broker) -> PartitionReplica:
    return PartitionReplica(broker, "t", "tid", 0, PartitionLog.open(tmp_path / f"b{broker}", SMALL), 0)


def reg(leader, epoch):
    return PartitionRegistration((1, 2), (1, 2), leader, epoch, epoch)


def produce(r: PartitionReplica, n: int, per_batch: int = 1) -> None:
    for i in range(n):
        r.append(encode_batch([Record(None, f"v{i}.{j}".encode()) for j in range(per_batch)], 0, -1), False)


def fetch(follower: PartitionReplica, leader: PartitionReplica):
    asked = follower.fetch_position()
    data, _ = leader.serve_fetch(follower.broker_id, asked, 1 << 20, 0)
    return follower.on_fetched(data, asked, leader.broker_id), data


def pair(tmp_path) -> tuple[PartitionReplica, PartitionReplica]:
    a, b = replica(tmp_path, 1), replica(tmp_path, 2)
    a.apply_registration(reg(1, 1), 0)
    b.apply_registration(reg(1, 1), 0)
    return a, b


def test_a_follower_takes_its_leaders_start_and_reports_it(tmp_path):
    a, b = pair(tmp_path)
    produce(a, 6)
    fetch(b, a)
    fetch(b, a)  # the HW reaches 6
    assert a.delete_records_before(4) == 4
    assert a.leader.low_watermark(a.log.log_start_offset, {1, 2}) == 0  # b reported 0 so far
    fetch(b, a)
    assert b.log.log_start_offset == 4
    fetch(b, a)  # its next fetch tells the leader
    assert a.leader.low_watermark(a.log.log_start_offset, {1, 2}) == 4


def test_delete_records_bounds_and_the_high_watermark_sentinel(tmp_path):
    a, b = pair(tmp_path)
    produce(a, 5)
    fetch(b, a)
    produce(a, 2)  # not yet replicated: the HW stays at 5
    fetch(b, a)
    hw = a.high_watermark
    with pytest.raises(OffsetOutOfRange):
        a.delete_records_before(hw + 1)
    with pytest.raises(OffsetOutOfRange):
        a.delete_records_before(-2)
    assert a.delete_records_before(HIGH_WATERMARK) == hw and a.log.log_start_offset == hw
    assert a.delete_records_before(1) == 1 and a.log.log_start_offset == hw  # below: nothing moves


def test_a_follower_starting_over_inside_a_batch_takes_it_whole(tmp_path):
    a, b = pair(tmp_path)
    produce(a, 2, per_batch=5)  # batches 0..4 and 5..9
    fetch(b, a)
    fetch(b, a)
    b.log.truncate_fully_and_start_at(0)  # b lost its copy (say, a repair)
    a.delete_records_before(7)  # inside the second batch
    fetch(b, a)  # out of range: b starts over at 7
    assert b.log.log_start_offset == b.log.log_end_offset == 7
    fetch(b, a)  # the batch 5..9 arrives whole; 5 and 6 stay hidden below the start
    assert b.log.log_start_offset == 7 and b.log.log_end_offset == 10
    assert [r.offset for r in decode_all(b.log.read(7, 1 << 20))] == [5, 6, 7, 8, 9]


def test_a_leaders_answer_does_not_wait_out_its_long_poll_when_the_start_moved(tmp_path):
    from kraft.replication.replica_manager import start_moved_past  # noqa: PLC0415

    asked, silent = fp.FetchPartition("tid", 0, 10, 1, 1, 0), fp.FetchPartition("tid", 1, 10, 1, 1, -1)
    assert not start_moved_past(asked, fp.PartitionData("tid", 0, log_start_offset=0))
    assert not start_moved_past(silent, fp.PartitionData("tid", 1, log_start_offset=4))  # -1: it does not say
    assert start_moved_past(asked, fp.PartitionData("tid", 0, log_start_offset=4))


def test_a_control_batch_alone_has_no_max_timestamp_record(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append_as_follower(encode_control_batch(7, 0, True, 0, 0, 0, 500))
    assert log.record_with_max_timestamp(log.log_end_offset) is None
