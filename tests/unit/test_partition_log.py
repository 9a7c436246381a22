"""PartitionLog on real directories, plus the leader-epoch cache it keeps in step."""
from __future__ import annotations

import os

import pytest

from kraft.storage.leader_epoch_cache import (
    CHECKPOINT_NAME,
    UNDEFINED_EPOCH,
    UNDEFINED_EPOCH_OFFSET,
    EpochEntry,
    LeaderEpochCache,
    read_checkpoint,
)
from kraft.storage.log_config import LogConfig
from kraft.storage.log_directory import LogDirectory
from kraft.errors import CorruptBatchError, InvalidAppend, LogClosed, OffsetOutOfRange, StaleLeaderEpoch
from kraft.storage.partition_log import PartitionLog
from fsyncs import fsyncs_seen
from kraft.storage.record_batch import (
    BatchHeader,
    Record,
    decode_all,
    encode_batch,
    verify_crc,
)

SMALL = LogConfig(segment_bytes=1024, index_interval_bytes=128, segment_ms=None)


def recs(n: int, tag: str = "v", ts: int = 0, size: int = 40) -> list[Record]:
    return [Record(b"k", (f"{tag}{i}".encode() + b"x" * size)[:size], (), ts + i) for i in range(n)]


def fill(log: PartitionLog, batches: int, per_batch: int = 3, epoch: int = 0, ts: int = 0) -> None:
    for i in range(batches):
        log.append(recs(per_batch, f"b{i}.", ts + 100 * i), leader_epoch=epoch)


def values(log: PartitionLog, offset: int | None = None) -> list[tuple[int, bytes]]:
    start = log.log_start_offset if offset is None else offset
    return [(r.offset, r.value) for r in decode_all(log.read(start, 10**9))]


# -- leader epoch cache --------------------------------------------------------

def test_epoch_cache_assign_and_end_offsets(tmp_path):
    cache = LeaderEpochCache(tmp_path / CHECKPOINT_NAME)
    assert cache.end_offset_for(3, 100) == (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
    assert cache.assign(1, 0) and cache.assign(3, 10) and cache.assign(6, 25)
    assert not cache.assign(6, 30)  # same epoch, later offset: nothing new
    assert not cache.assign(-1, 40)  # batches without an epoch are ignored
    assert cache.end_offset_for(6, 100) == (6, 100)  # latest epoch ends at the log end
    assert cache.end_offset_for(3, 100) == (3, 25)
    assert cache.end_offset_for(4, 100) == (3, 25)  # unknown epoch: largest epoch below it
    assert cache.end_offset_for(0, 100) == (0, 0)  # older than all: ends where we start
    assert cache.end_offset_for(7, 100) == (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
    assert cache.end_offset_for(UNDEFINED_EPOCH, 100) == (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME) == [(1, 0), (3, 10), (6, 25)]
    assert (tmp_path / CHECKPOINT_NAME).read_text() == "0\n3\n1 0\n3 10\n6 25\n"


def test_epoch_cache_assign_drops_non_monotonic_entries():
    cache = LeaderEpochCache(None, [EpochEntry(1, 0), EpochEntry(3, 10), EpochEntry(6, 25)])
    cache.assign(4, 20)  # a replaced suffix: epoch 6 is gone
    assert cache.entries == ((1, 0), (3, 10), (4, 20))
    cache.assign(5, 15)  # an earlier start also drops later-starting entries
    assert cache.entries == ((1, 0), (3, 10), (5, 15))


def test_epoch_cache_truncation(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    cache = LeaderEpochCache(path, [EpochEntry(1, 0), EpochEntry(3, 10), EpochEntry(6, 25)])
    cache.truncate_from_end(30)
    assert cache.entries == ((1, 0), (3, 10), (6, 25))
    cache.truncate_from_end(25)
    assert cache.entries == ((1, 0), (3, 10))
    cache.assign(6, 25)
    cache.truncate_from_start(12)
    assert cache.entries == ((3, 12), (6, 25))
    cache.truncate_from_start(5)  # before the first entry: nothing to do
    assert cache.entries == ((3, 12), (6, 25))
    cache.truncate_from_start(30)
    assert cache.entries == ((6, 30),)
    assert LeaderEpochCache.load(path).entries == ((6, 30),)
    cache.clear()
    assert LeaderEpochCache.load(path).entries == ()


def test_unreadable_checkpoint_reads_as_missing(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    for text in ["", "0\n2\n1 0\n", "1\n0\n", "0\n2\n3 0\n2 5\n", "0\n1\nx y\n"]:
        path.write_text(text)
        assert read_checkpoint(path) is None, text


# -- appends and reads ---------------------------------------------------------

def test_append_assigns_offsets_and_rolls(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    assert (log.log_start_offset, log.log_end_offset) == (0, 0)
    assert log.append(recs(3), leader_epoch=0) == (0, 2)
    assert log.append(recs(2), leader_epoch=0) == (3, 4)
    fill(log, 30)
    assert log.log_end_offset == 95 and len(log.segments) > 3
    assert all(s.size <= SMALL.segment_bytes for s in log.segments)
    for before, after in zip(log.segments, log.segments[1:]):
        assert before.next_offset == after.base_offset
    assert [o for o, _ in values(log)] == list(range(95))
    log.close()


def test_read_bounds_and_minimum_one_batch(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 30)
    with pytest.raises(OffsetOutOfRange) as err:
        log.read(91, 100)
    assert (err.value.log_start_offset, err.value.log_end_offset) == (0, 90)
    assert log.read(90, 100) == b""
    one = log.read(0, 1)
    assert [r.offset for r in decode_all(one)] == [0, 1, 2]
    assert [o for o, _ in values(log, 44)] == list(range(42, 90))  # from the batch holding 44
    data = log.read(10, 700)  # crosses segment boundaries, whole batches only
    assert len(data) <= 700 and [r.offset for r in decode_all(data)][0] == 9
    assert len(data) + len(one) > 700
    assert [r.offset for r in decode_all(log.read(0, 10**6, max_offset=30))][-1] == 29
    log.close()
    with pytest.raises(LogClosed):
        log.read(0, 10)


def test_read_never_skips_a_batch_that_did_not_fit(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append(recs(1), 0)
    log.append(recs(5, size=150), 0)  # big batch ends the first segment
    log.roll()
    log.append(recs(1), 0)  # small batch would still fit the budget
    small = len(log.read(0, 1))
    assert [r.offset for r in decode_all(log.read(0, 2 * small + 5))] == [0]
    assert [r.offset for r in decode_all(log.read(0, 10**6, max_offset=6))] == [0, 1, 2, 3, 4, 5]
    assert [r.offset for r in decode_all(log.read(0, 10**6, max_offset=7))] == list(range(7))
    log.close()


def test_append_produced_batch_is_restamped(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 2)
    produced = encode_batch(recs(4), base_offset=0, leader_epoch=-1, producer_id=9, producer_epoch=1, base_sequence=0)
    assert log.append(produced, leader_epoch=2) == (6, 9)
    header = BatchHeader.parse(log.read(6, 10))
    assert (header.base_offset, header.leader_epoch, header.producer_id) == (6, 2, 9)
    assert verify_crc(log.read(6, 10))
    bad = bytearray(produced)
    bad[-1] ^= 1
    with pytest.raises(CorruptBatchError):
        log.append(bytes(bad), leader_epoch=2)
    with pytest.raises(InvalidAppend):
        log.append(produced + produced, leader_epoch=2)
    with pytest.raises(StaleLeaderEpoch):
        log.append(recs(1), leader_epoch=1)
    log.close()


def test_follower_append_keeps_offsets_and_rejects_gaps(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    leader_batches = [encode_batch(recs(3, ts=i), 3 * i, 1 if i < 2 else 4) for i in range(5)]
    fetched = b"".join(leader_batches[:3]) + leader_batches[3][:25]  # ends mid-batch
    assert log.append_as_follower(fetched) == (0, 8)
    assert log.read(0, 10**6) == b"".join(leader_batches[:3])
    assert log.append_as_follower(leader_batches[3][:25]) is None
    with pytest.raises(InvalidAppend):
        log.append_as_follower(leader_batches[4])  # gap: 9..11 missing
    with pytest.raises(InvalidAppend):
        log.append_as_follower(leader_batches[2])  # overlap
    corrupt = bytearray(leader_batches[3])
    corrupt[-2] ^= 1
    with pytest.raises(CorruptBatchError):
        log.append_as_follower(bytes(corrupt))
    assert log.append_as_follower(leader_batches[3] + leader_batches[4]) == (9, 14)
    assert log.leader_epoch_cache.entries == ((1, 0), (4, 6))
    assert log.end_offset_for_epoch(1) == (1, 6) and log.end_offset_for_epoch(4) == (4, 15)
    log.close()


def test_segment_ms_rolls_by_record_time(tmp_path):
    log = PartitionLog.open(tmp_path, LogConfig(segment_ms=1000))
    log.append(recs(1, ts=0), 0)
    log.append(recs(1, ts=1000), 0)
    assert len(log.segments) == 1
    log.append(recs(1, ts=1001), 0)
    assert [s.base_offset for s in log.segments] == [0, 2]
    log.close()


def test_offset_for_timestamp_across_segments(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 30, ts=1000)  # batch i holds timestamps 1000+100i .. +2
    assert log.offset_for_timestamp(0) == (0, 1000)
    assert log.offset_for_timestamp(1000 + 100 * 17 + 1) == (52, 1000 + 100 * 17 + 1)
    assert log.offset_for_timestamp(1000 + 100 * 17 + 3) == (54, 1000 + 100 * 18)
    assert log.offset_for_timestamp(10**9) is None
    log.close()


# -- truncation and retention --------------------------------------------------

def test_truncate_to_moves_end_and_epochs(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 10, epoch=1)
    fill(log, 10, epoch=3)
    segments = len(log.segments)
    assert log.truncate_to(31) == 30  # 31 is inside batch 30..32, which goes whole
    assert len(log.segments) < segments and log.log_end_offset == 30
    assert log.leader_epoch_cache.entries == ((1, 0),)
    assert log.truncate_to(100) == 30
    log.append(recs(2), leader_epoch=5)
    assert [o for o, _ in values(log)][-3:] == [29, 30, 31]
    assert log.leader_epoch_cache.entries == ((1, 0), (5, 30))
    log.close()


def test_truncate_below_start_restarts_the_log(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 30)
    log.apply_retention(now_ms=0, retention_bytes=0)
    assert log.log_start_offset == log.log_end_offset == 90
    log.truncate_to(50)
    assert (log.log_start_offset, log.log_end_offset, len(log.segments)) == (50, 50, 1)
    assert log.leader_epoch_cache.entries == ()
    log.close()


def test_retention_by_bytes_and_time(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 10, epoch=1, ts=0)
    fill(log, 20, epoch=2, ts=100_000)
    total = log.size_bytes
    first = log.segments[0]
    assert log.apply_retention(now_ms=0, retention_bytes=total - first.size + 1) == 0
    assert log.apply_retention(now_ms=0, retention_bytes=total - first.size) == 1
    assert log.log_start_offset == log.segments[0].base_offset > 0
    with pytest.raises(OffsetOutOfRange):
        log.read(0, 100)
    # by time: segments whose newest record is older than now - retention_ms go
    deleted = log.apply_retention(now_ms=100_000, retention_ms=10_000)
    assert deleted >= 1 and log.segments[0].max_timestamp >= 90_000
    assert log.leader_epoch_cache.entries[0].start_offset == log.log_start_offset
    assert log.leader_epoch_cache.entries[-1] == (2, 30)
    # max_offset (the high watermark) bounds what may go, even when everything expired
    hw = log.segments[1].base_offset
    log.apply_retention(now_ms=10**12, retention_ms=0, max_offset=hw)
    assert log.log_start_offset == hw
    log.apply_retention(now_ms=10**12, retention_ms=0)  # all gone: an empty active segment remains
    assert log.log_start_offset == log.log_end_offset == 90 and log.size_bytes == 0
    assert log.read(90, 100) == b""
    assert log.append(recs(1), leader_epoch=2) == (90, 90)
    log.close()


# -- restarts and crash recovery -----------------------------------------------

def active_log_file(log: PartitionLog):
    return log.segments[-1].log.path


def test_clean_close_leaves_marker_and_reopen_keeps_everything(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 30, epoch=2)
    before = (values(log), log.leader_epoch_cache.entries, [s.base_offset for s in log.segments])
    log.close()
    assert (tmp_path / ".clean_shutdown").exists()
    log = PartitionLog.open(tmp_path, SMALL)
    assert not (tmp_path / ".clean_shutdown").exists()  # a crash from now on must recover
    assert (values(log), log.leader_epoch_cache.entries, [s.base_offset for s in log.segments]) == before
    log.close()


def test_a_clean_close_fsyncs_only_what_changed_since_the_last(tmp_path, monkeypatch):
    """A clean stop of thousands of idle logs was several fsyncs each; Kafka's flushes
    only what is past the recovery point."""
    seen = fsyncs_seen(monkeypatch)
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 2)
    log.close()
    assert "00000000000000000000.log" in seen  # the records reached the disk
    seen.clear()
    log = PartitionLog.open(tmp_path, SMALL)
    seen.clear()  # (opening removes the marker)
    log.close()
    assert seen == [] and (tmp_path / ".clean_shutdown").exists()  # nothing changed: no fsync
    log = PartitionLog.open(tmp_path, SMALL)
    log.append(recs(1), leader_epoch=0)
    seen.clear()
    log.close()
    assert "00000000000000000000.log" in seen
    log = PartitionLog.open(tmp_path, SMALL)
    log.close(clean=False)  # kill -9: what the log holds may be in the page cache only
    log = PartitionLog.open(tmp_path, SMALL)
    seen.clear()
    log.close()
    assert "00000000000000000000.log" in seen
    log = PartitionLog.open(tmp_path, SMALL)
    assert [o for o, _ in values(log)] == list(range(7))
    log.close()


def test_clean_restart_does_not_rescan_but_crash_restart_does(tmp_path):
    log = PartitionLog.open(tmp_path, LogConfig(index_interval_bytes=128))
    fill(log, 20)
    path = active_log_file(log)
    log.close()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # silent corruption in the middle of the segment
    path.write_bytes(bytes(data))
    log = PartitionLog.open(tmp_path, LogConfig(index_interval_bytes=128))
    assert log.log_end_offset == 60  # indexes trusted: no CRC pass over the segment
    log.close(clean=False)
    log = PartitionLog.open(tmp_path, LogConfig(index_interval_bytes=128))
    assert 0 < log.log_end_offset < 60  # recovery cut at the damaged batch
    assert [o for o, _ in values(log)] == list(range(log.log_end_offset))
    log.close()


@pytest.mark.parametrize("damage", ["garbage", "partial-batch", "cut-last", "flip-last"])
def test_crash_recovery_cuts_the_torn_tail(tmp_path, damage):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 20, epoch=1)
    log.append(recs(3, "last"), leader_epoch=4)  # the newest epoch starts in the last batch
    expected = values(log)
    last_size = len(log.read(60, 1))
    path = active_log_file(log)
    log.close(clean=False)
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data += b"\x00\x17garbage" * 9
    elif damage == "partial-batch":
        data += encode_batch(recs(3), 63, 4)[:70]
    elif damage == "cut-last":
        del data[-(last_size // 2):]
    else:
        data[-last_size + 30] ^= 0x01  # baseTimestamp: covered by the CRC
    path.write_bytes(bytes(data))
    log = PartitionLog.open(tmp_path, SMALL)
    if damage in ("cut-last", "flip-last"):
        expected = expected[:-3]
        assert log.leader_epoch_cache.entries == ((1, 0),)
    else:
        assert log.leader_epoch_cache.entries == ((1, 0), (4, 60))
    assert values(log) == expected and log.log_end_offset == len(expected)
    assert log.append(recs(1), leader_epoch=5) == (len(expected), len(expected))
    log.close()


def test_crash_recovery_writes_the_epoch_checkpoint_once_and_only_when_it_changed(tmp_path):
    """Recovery walks every batch of the newest segment, re-learning one epoch per run of
    batches; the checkpoint on disk must end equal to the cache (a cut tail drops its
    epoch there too) without a durable write per epoch, and a recovery that changes
    nothing leaves the file alone."""
    log = PartitionLog.open(tmp_path, LogConfig(segment_bytes=10**9, segment_ms=None))
    for epoch in range(1, 40):
        log.append(recs(2, f"e{epoch}."), leader_epoch=epoch)
    path = active_log_file(log)
    checkpoint = tmp_path / CHECKPOINT_NAME
    log.close(clean=False)
    os.utime(checkpoint, ns=(10**18, 10**18))  # 2001: a rewrite would make it now
    log = PartitionLog.open(tmp_path)  # a crash with nothing torn: same epochs
    assert len(log.leader_epoch_cache.entries) == 39
    assert checkpoint.stat().st_mtime_ns == 10**18
    log.close(clean=False)
    last = len(encode_batch(recs(2, "e39."), 76, 39))
    path.write_bytes(path.read_bytes()[:-last // 2])  # the last batch is torn
    log = PartitionLog.open(tmp_path)
    assert log.log_end_offset == 76 and log.leader_epoch_cache.latest_epoch == 38
    # the cut is not written at the open: the file still names epoch 39, which a crash
    # now would drop again from the same files
    assert read_checkpoint(checkpoint)[-1] == (39, 76)
    log.close(clean=False)
    log = PartitionLog.open(tmp_path)
    assert log.leader_epoch_cache.latest_epoch == 38 and log.log_end_offset == 76
    log.close()  # a clean close writes it
    assert read_checkpoint(checkpoint) == list(log.leader_epoch_cache.entries)


def test_crash_just_after_a_roll_recovers_the_segment_before(tmp_path):
    log = PartitionLog.open(tmp_path)
    fill(log, 5)
    log.roll()
    assert [s.base_offset for s in log.segments] == [0, 15]
    previous = log.segments[0].log.path
    log.close(clean=False)
    data = previous.read_bytes()
    previous.write_bytes(data[:-10])  # torn last batch in the sealed segment
    log = PartitionLog.open(tmp_path)
    assert log.log_end_offset == 12 and len(log.segments) == 1  # the empty segment at 15 left no gap
    assert [o for o, _ in values(log)] == list(range(12))
    log.close()


def test_damaged_sealed_segment_drops_what_follows_the_hole(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 30)
    first = log.segments[0]
    cut_at = first.next_offset - 3  # its last batch
    paths = (first.log.path, first.offset_index.path, first.time_index.path)
    log.close()
    data = bytearray(paths[0].read_bytes())
    data[-5] ^= 0xFF
    paths[0].write_bytes(bytes(data))
    paths[1].unlink()  # unusable indexes force a full check of this sealed segment
    log = PartitionLog.open(tmp_path, SMALL)
    assert log.log_end_offset == cut_at and len(log.segments) == 1
    assert [o for o, _ in values(log)] == list(range(cut_at))
    assert log.append(recs(1), 0) == (cut_at, cut_at)
    log.close()


class RollQueue:
    """What a ReplicaManager does with deferred roll fsyncs, run by hand: queue, then
    fsync (here, on this thread) and book-keep in roll order."""

    def __init__(self, log: PartitionLog):
        self.queued: list = []
        self.log = log
        log.flush_rolls_with(lambda plog, segment: self.queued.append(segment))

    def run_one(self) -> None:
        segment = self.queued.pop(0)
        ok = self.log.fsync_sealed(segment)
        if self.log.sealed_fsynced(segment, ok):
            self.log.write_recovery_point()


def recovery_point(tmp_path) -> int:
    return LogDirectory(tmp_path).read_recovery_point()


def test_deferred_roll_fsyncs_move_the_recovery_point_in_roll_order(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    rolls = RollQueue(log)
    assert not (tmp_path / "recovery-point").exists()  # a new log: no fsync spent on it
    assert recovery_point(tmp_path) == 0  # nothing to trust yet
    fill(log, 20)
    bases = [s.base_offset for s in log.segments]
    assert len(rolls.queued) == len(bases) - 1 >= 3  # nothing fsynced on the appending path
    assert recovery_point(tmp_path) == 0
    rolls.run_one()
    assert recovery_point(tmp_path) == bases[1]
    while rolls.queued:
        rolls.run_one()
    assert recovery_point(tmp_path) == bases[-1]  # every sealed segment is on disk
    log.close()


def test_crash_before_deferred_fsyncs_checks_every_segment_past_the_recovery_point(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    rolls = RollQueue(log)
    fill(log, 20)
    rolls.run_one()  # only the oldest rolled segment reached the disk
    trusted = recovery_point(tmp_path)
    doubtful = next(s for s in log.segments if s.base_offset == trusted)
    cut_at = doubtful.next_offset - 3
    path = doubtful.log.path
    assert doubtful is not log.segments[-1]
    log.close(clean=False)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # what a power cut can leave of data that was never fsynced
    path.write_bytes(bytes(data))
    log = PartitionLog.open(tmp_path, SMALL)
    # the sealed segment past the recovery point was checked, cut, and the rest dropped
    assert log.log_end_offset == cut_at
    assert [o for o, _ in values(log)] == list(range(cut_at))
    assert log.append(recs(1), 0) == (cut_at, cut_at)
    log.close()


def test_truncating_into_a_fsynced_segment_lowers_the_recovery_point(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    rolls = RollQueue(log)
    fill(log, 20)
    while rolls.queued:
        rolls.run_one()
    second = log.segments[1]
    log.truncate_to(second.base_offset + 3)
    assert recovery_point(tmp_path) == second.base_offset  # its cut tail is not known on disk
    log.close()


def test_clean_close_fsyncs_pending_rolls_and_reopens_without_recovery(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    rolls = RollQueue(log)
    fill(log, 20)
    expected = values(log)
    assert rolls.queued
    log.close()  # the queued fsyncs never ran: close does them
    stale = rolls.queued[0]
    assert not log.fsync_sealed(stale) and not log.sealed_fsynced(stale, False)  # closed: no-op
    log = PartitionLog.open(tmp_path, SMALL)
    assert values(log) == expected
    log.close()


def test_deleted_indexes_and_checkpoint_are_rebuilt(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    fill(log, 10, epoch=1)
    fill(log, 10, epoch=2)
    indexes = {p.name: p.read_bytes() for p in tmp_path.glob("*index")}
    epochs = log.leader_epoch_cache.entries
    expected = values(log)
    log.close()
    for name in indexes:
        (tmp_path / name).unlink()
    (tmp_path / CHECKPOINT_NAME).unlink()
    log = PartitionLog.open(tmp_path, SMALL)
    assert values(log) == expected and log.leader_epoch_cache.entries == epochs
    rebuilt = {p.name: p.read_bytes() for p in tmp_path.glob("*index")}
    assert rebuilt.keys() == indexes.keys()
    for name, content in indexes.items():  # sealed time indexes also carry a final entry
        assert rebuilt[name] == content or name.endswith(".timeindex"), name
    log.close()


# -- durability ----------------------------------------------------------------

def test_flush_policy(tmp_path):
    now = [0]
    log = PartitionLog.open(tmp_path, LogConfig(flush_messages=5, flush_ms=100), clock_ms=lambda: now[0])
    log.append(recs(3), 0)
    assert log.unflushed_records == 3
    log.append(recs(3), 0)
    assert log.unflushed_records == 0  # flush.messages reached
    log.append(recs(1), 0)
    now[0] = 50
    assert not log.maybe_flush()
    now[0] = 150
    assert log.maybe_flush() and log.unflushed_records == 0
    log.close()
    default = PartitionLog.open(tmp_path / "d")
    default.append(recs(100), 0)
    assert default.unflushed_records == 100 and not default.maybe_flush()  # never fsync on append
    default.close()


# -- a new epoch's checkpoint entry written by the owner's worker ------------------------------

def test_a_new_epochs_entry_waits_for_the_worker_but_never_for_a_recovery_point(tmp_path):
    """With sync_epochs_with (the replica manager's IO worker) a new epoch is kept in
    memory and written later; a recovery point that would pass it writes it first, so a
    crash never leaves flushed data of an epoch the checkpoint does not know."""
    queued: list[LeaderEpochCache] = []
    rolled: list = []
    log = PartitionLog.open(tmp_path / "t-0", SMALL)
    log.flush_rolls_with(lambda plog, segment: rolled.append(segment))  # fsyncs deferred too
    log.sync_epochs_with(queued.append)
    checkpoint = log.directory.path / CHECKPOINT_NAME
    fill(log, 2, epoch=4)
    assert log.leader_epoch_cache.entries == ((4, 0),)  # known at once in memory
    assert read_checkpoint(checkpoint) in (None, []) and len(queued) == 1  # the worker's to write
    fill(log, 30, epoch=5)  # rolls segments: their recovery point writes the entries first
    assert rolled and len(queued) == 1  # one job queued, whatever the epochs since
    segment = rolled[0]
    assert log.fsync_sealed(segment) and log.sealed_fsynced(segment, True)
    log.write_recovery_point()
    assert read_checkpoint(checkpoint) == [(4, 0), (5, 6)]
    queued[0].sync()  # the worker's job, late: nothing left to write, nothing lost
    assert read_checkpoint(checkpoint) == [(4, 0), (5, 6)]
    log.close()


def test_a_clean_close_writes_the_epochs_the_worker_had_not(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", SMALL)
    log.sync_epochs_with(lambda cache: None)  # a worker that never ran
    fill(log, 2, epoch=7)
    log.close()
    assert read_checkpoint(tmp_path / "t-0" / CHECKPOINT_NAME) == [(7, 0)]
    again = PartitionLog.open(tmp_path / "t-0", SMALL)
    assert again.leader_epoch_cache.entries == ((7, 0),)
    again.close()


def test_after_a_crash_the_epochs_not_written_are_learnt_from_the_batches(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", SMALL)
    log.sync_epochs_with(lambda cache: None)
    fill(log, 2, epoch=3)
    fill(log, 2, epoch=8)
    log.close(clean=False)  # kill -9: the worker never wrote, nothing was flushed
    again = PartitionLog.open(tmp_path / "t-0", SMALL)
    assert again.leader_epoch_cache.entries == ((3, 0), (8, 6))
    again.close()
