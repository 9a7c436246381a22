"""A brand-new replica's log (partition_dir.prepare made its directory just now): opened
without reading anything, and every state a crash can leave on the way opened again
correctly (real files, real fsyncs)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from kraft.replication.log_manager import open_replica_log
from kraft.storage import partition_dir
from kraft.storage.descriptors import BUDGET
from kraft.storage.log_config import LogConfig
from kraft.storage.log_file import LogFile
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, decode_all

SMALL = LogConfig(segment_bytes=1024, index_interval_bytes=128, segment_ms=None)
WIDE = LogConfig(segment_ms=None)  # an index entry per 4 KiB: a few batches make none
FIRST = "00000000000000000000"


def _open(root: Path, previous_run_closed: bool | None = True, config: LogConfig = SMALL) -> PartitionLog:
    """What a node's opening thread does for replica t-0 of topic id A."""
    return open_replica_log(root, "t", 0, "A", config, previous_run_closed)


def _fill(log: PartitionLog, batches: int, per_batch: int = 3) -> None:
    for i in range(batches):
        records = [Record(b"k", f"b{i}.{j}".encode().ljust(40, b"x"), (), 100 * i + j) for j in range(per_batch)]
        log.append(records, leader_epoch=0)


def _values(log: PartitionLog) -> list[tuple[int, bytes]]:
    out = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, 1 << 20)
        records = decode_all(data)
        out += [(r.offset, r.value) for r in records]
        offset = records[-1].offset + 1
    return out


def _names(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def test_a_new_log_makes_its_id_and_its_first_log_file_and_holds_no_descriptor(tmp_path):
    held = BUDGET.held
    log = _open(tmp_path)
    path = log.directory.path
    assert _names(path) == [f"{FIRST}.log", partition_dir.METADATA_FILE]
    assert partition_dir.topic_id_of(path) == "A" and log.directory.identity_unsynced
    assert (log.log_start_offset, log.log_end_offset, log.latest_epoch) == (0, 0, -1)
    assert BUDGET.held == held  # opened at the first write or read, not by thousands of new logs
    _fill(log, 1)
    assert BUDGET.held == held + 1


def test_a_new_log_behaves_as_one_opened_from_its_directory(tmp_path):
    fresh = _open(tmp_path / "fresh")
    (tmp_path / "slow").mkdir()
    slow = PartitionLog.open(tmp_path / "slow", SMALL)
    for log in (fresh, slow):
        _fill(log, 2)
        assert log.truncate_to(3) == 3  # the second batch, and its index entry
        _fill(log, 30)  # entries, then rolls
    assert len(fresh.segments) > 2 and _files(fresh) == _files(slow)  # the first segment's indexes made
    assert _values(fresh) == _values(slow) and fresh.offset_for_timestamp(700) == slow.offset_for_timestamp(700)
    for log in (fresh, slow):
        log.advance_start(5)
        log.apply_retention(10**12, retention_bytes=3000)
        log.close()
    assert _files(fresh) == _files(slow)


def _files(log: PartitionLog) -> dict[str, bytes]:
    path = log.directory.path
    return {n: (path / n).read_bytes() for n in _names(path) if n != partition_dir.METADATA_FILE}


def test_a_crash_before_the_first_segment_leaves_an_id_alone_and_the_log_starts_empty(tmp_path):
    prepared = partition_dir.prepare(tmp_path, "t", 0, "A")  # the thread stopped here
    assert _names(prepared.path) == [partition_dir.METADATA_FILE]
    log = _open(tmp_path, previous_run_closed=False)
    assert log.log_end_offset == 0
    _fill(log, 3)
    assert [o for o, _ in _values(log)] == list(range(9))


@pytest.mark.parametrize("previous_run_closed", [False, True])
def test_an_empty_segment_without_index_files_opens_after_a_crash_or_a_clean_stop(tmp_path, previous_run_closed):
    log = _open(tmp_path)
    log.close(clean=previous_run_closed)
    assert not list(log.directory.path.glob("*index"))
    again = _open(tmp_path, previous_run_closed=previous_run_closed)
    assert (again.log_start_offset, again.log_end_offset) == (0, 0)
    assert not list(again.directory.path.glob("*index"))  # trusted or recovered as empty: nothing made
    _fill(again, 40)
    assert len(_values(again)) == 120


def test_records_without_index_files_are_all_there_after_kill_9(tmp_path):
    log = _open(tmp_path, config=WIDE)
    _fill(log, 2)  # below the index interval: no index file yet
    assert not list(log.directory.path.glob("*index"))
    log.close(clean=False)
    again = _open(tmp_path, previous_run_closed=False, config=WIDE)
    assert [o for o, _ in _values(again)] == list(range(6))
    _fill(again, 1)
    assert again.log_end_offset == 9


def test_a_clean_stop_with_records_but_no_offset_index_file_is_walked_whole(tmp_path):
    log = _open(tmp_path, config=WIDE)
    _fill(log, 2)
    log.close()  # no index entry was ever made, and a clean close adds none (not a seal)
    path = log.directory.path
    assert not (path / f"{FIRST}.timeindex").exists() and not (path / f"{FIRST}.index").exists()
    with open(path / f"{FIRST}.log", "r+b") as f:  # a flipped byte in the last record: only a CRC sees it
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    again = _open(tmp_path, config=WIDE)
    assert [o for o, _ in _values(again)] == list(range(3))  # walked with CRCs, cut at the damage
    assert not (path / f"{FIRST}.index").exists()  # still no entry: made by the first


def test_index_entries_made_after_the_open_survive_kill_9_and_a_clean_stop(tmp_path):
    log = _open(tmp_path)
    _fill(log, 12)  # index entries and rolls (segment_bytes 1024)
    expected = _values(log)
    log.close(clean=False)
    again = _open(tmp_path, previous_run_closed=False)
    assert _values(again) == expected
    again.close()
    assert _values(_open(tmp_path)) == expected


def test_a_crash_while_the_id_is_written_leaves_no_id_and_the_directory_is_reused(tmp_path):
    for torn in (b"", b"version: 0\ntopic_id: A"):  # made, or cut short before its newline
        path = partition_dir.partition_path(tmp_path, "t", 0)
        path.mkdir()
        (path / partition_dir.METADATA_FILE).write_bytes(torn)
        assert partition_dir.topic_id_of(path) is None
        prepared = partition_dir.prepare(tmp_path, "t", 0, "A")
        assert (prepared.path, prepared.fresh) == (path, False)  # reused as it is, read as any other
        assert partition_dir.topic_id_of(path) == "A"
        assert _open(tmp_path).log_end_offset == 0
        for name in _names(path):
            (path / name).unlink()
        path.rmdir()


def test_a_new_log_never_writes_over_a_file_it_did_not_make(tmp_path):
    path = tmp_path / "t-0"
    path.mkdir()
    (path / f"{FIRST}.log").write_bytes(b"someone's records")
    with pytest.raises(FileExistsError):
        PartitionLog.open(path, SMALL, fresh=True)
    assert (path / f"{FIRST}.log").read_bytes() == b"someone's records"


def test_a_new_log_syncs_its_id_before_its_first_records(tmp_path):
    log = _open(tmp_path, config=LogConfig(flush_messages=1))
    assert log.directory.identity_unsynced
    _fill(log, 1)  # flushed at once: the id (and the directory's entries) first
    assert not log.directory.identity_unsynced


def test_a_new_log_whose_partitions_root_is_not_there_yet(tmp_path):
    log = _open(tmp_path / "missing" / "partitions")
    assert _names(log.directory.path) == [f"{FIRST}.log", partition_dir.METADATA_FILE]


def test_a_lost_index_file_of_a_segment_with_records_is_rebuilt_not_taken_as_empty(tmp_path):
    config = LogConfig(index_interval_bytes=128, segment_ms=None)
    log = _open(tmp_path, config=config)
    for i in range(10):  # the newest records are the oldest by time: the max is in the first batch
        log.append([Record(b"k", b"v" * 100, (), 10_000 - 100 * i)], leader_epoch=0)
    assert log.segments[0].offset_index.keys
    log.close()
    (log.directory.path / f"{FIRST}.timeindex").unlink()  # lost after the clean stop
    again = _open(tmp_path, config=config)
    assert again.segments[0].max_timestamp == 10_000
    assert again.offset_for_timestamp(10_000) == (0, 10_000)


def test_a_new_log_file_opened_late_is_still_the_file_it_made(tmp_path):
    # its descriptor opens at the first use: a file removed or replaced meanwhile is an
    # error for the log that made it, never an empty file made anew or another file's bytes
    removed, replaced = LogFile(tmp_path / "removed.log", new=True), LogFile(tmp_path / "replaced.log", new=True)
    (tmp_path / "removed.log").unlink()
    with pytest.raises(FileNotFoundError):
        removed.append(b"x")
    assert not (tmp_path / "removed.log").exists()
    (tmp_path / "other").write_bytes(b"another file's bytes")
    os.replace(tmp_path / "other", tmp_path / "replaced.log")
    with pytest.raises(OSError, match="replaced"):
        replaced.read(0, 7)
