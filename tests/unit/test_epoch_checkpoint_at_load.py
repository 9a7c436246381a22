"""What a log's open changes in its leader-epoch checkpoint is not fsynced there: a
controlled shutdown leaves every log the last node led with an epoch entry at its end,
which the next open drops (as Kafka's truncateFromEnd at load). It reaches the disk
through the owner's worker, before any recovery point vouches for data past it, or at
the clean close; a crash before that drops it again from the same files."""
from __future__ import annotations

from fsyncs import fsyncs_seen
from kraft.storage.leader_epoch_cache import CHECKPOINT_NAME, read_checkpoint
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record

ONE_SEGMENT = LogConfig(segment_bytes=10**9, segment_ms=None)


def recs(n: int, tag: str) -> list[Record]:
    return [Record(None, f"{tag}{i}".encode(), (), 0) for i in range(n)]


def led_then_stopped(tmp_path) -> None:
    """Ten records in epoch 1, then leadership in epoch 2 taken at the log's end and the
    log closed cleanly with nothing written in it."""
    log = PartitionLog.open(tmp_path, ONE_SEGMENT)
    log.append(recs(10, "a"), leader_epoch=1)
    log.leader_epoch_cache.assign(2, log.log_end_offset)
    log.close()
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME) == [(1, 0), (2, 10)]


def test_an_open_that_drops_an_epoch_at_the_end_fsyncs_nothing_and_hands_the_write_over(tmp_path, monkeypatch):
    led_then_stopped(tmp_path)
    seen = fsyncs_seen(monkeypatch)
    log = PartitionLog.open(tmp_path, ONE_SEGMENT, previous_run_closed=True)  # as a broker's start
    assert log.leader_epoch_cache.entries == ((1, 0),)
    assert seen == []  # the old open: the checkpoint and its directory, each log
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME) == [(1, 0), (2, 10)]
    handed: list = []
    log.sync_epochs_with(handed.append)  # the broker's IO worker, when it adopts the log
    assert handed == [log.leader_epoch_cache]
    handed[0].sync()  # what the worker runs
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME) == [(1, 0)]
    log.close()


def test_a_crash_before_the_write_drops_the_entry_again(tmp_path):
    led_then_stopped(tmp_path)
    log = PartitionLog.open(tmp_path, ONE_SEGMENT)
    log.close(clean=False)  # kill -9 before anything wrote the checkpoint
    log = PartitionLog.open(tmp_path, ONE_SEGMENT)
    assert log.leader_epoch_cache.entries == ((1, 0),)
    assert log.leader_epoch_cache.epoch_for(9) == 1
    log.close()


def test_a_recovery_point_past_the_dropped_entry_writes_the_checkpoint_first(tmp_path):
    """The follower case: the node led epoch 2 at offset 10 and wrote nothing in it; after
    the restart it follows a leader whose log holds epoch-1 records past 10. Once a roll
    has reached the disk, recovery no longer walks those records, so a file still naming
    epoch 2 at 10 would be believed after a crash: epoch 1's records served as epoch 2's."""
    led_then_stopped(tmp_path)
    log = PartitionLog.open(tmp_path, ONE_SEGMENT)
    log.append(recs(10, "b"), leader_epoch=1)  # offsets 10-19, as fetched
    log.roll()  # sealed, fsynced, recovery point 20 (no worker: at once)
    log.append(recs(1, "c"), leader_epoch=1)
    log.close(clean=False)
    log = PartitionLog.open(tmp_path, ONE_SEGMENT)
    assert log.leader_epoch_cache.entries == ((1, 0),)
    assert log.leader_epoch_cache.epoch_for(15) == 1
    assert log.end_offset_for_epoch(1) == (1, 21)
    log.close()
