"""Whether a broker's logs survived its previous run (the clean shutdown it registers with)."""

from __future__ import annotations

import json

from kraft.storage.log_directory import CLEAN_SHUTDOWN_MARKER, LogDirectory
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record
from kraft.storage.run_state import STATE_FILE, RunState


def test_a_new_or_wiped_data_dir_is_not_clean(tmp_path):
    assert RunState(tmp_path, "boot-a").begin() is False


def test_a_kill_on_the_same_boot_is_clean_a_reboot_after_a_kill_is_not(tmp_path):
    RunState(tmp_path, "boot-a").begin()  # then killed: never ends cleanly
    assert RunState(tmp_path, "boot-a").begin() is True  # the page cache kept its writes
    assert RunState(tmp_path, "boot-b").begin() is False  # the machine restarted


def test_a_clean_stop_is_clean_across_a_reboot(tmp_path):
    run = RunState(tmp_path, "boot-a")
    run.begin()
    run.end_cleanly()
    assert RunState(tmp_path, "boot-b").begin() is True
    # and this run is on record as running until it ends cleanly too
    assert json.loads((tmp_path / STATE_FILE).read_text()) == {"boot_id": "boot-b", "closed": False}
    assert RunState(tmp_path, "boot-c").begin() is False


def test_an_unknown_boot_id_or_a_damaged_file_is_not_clean(tmp_path):
    RunState(tmp_path, "").begin()
    assert RunState(tmp_path, "").begin() is False  # "" never matches
    (tmp_path / STATE_FILE).write_text("{not json")
    assert RunState(tmp_path, "boot-a").begin() is False


def test_a_logs_marker_is_trusted_only_after_a_run_that_closed_every_log(tmp_path):
    """A log's clean-shutdown marker is removed without a fsync once the run is on record
    as running; a power cut may bring the marker back, and only a closed run vouches for it."""
    log_dir = tmp_path / "t-0"
    log = PartitionLog.open(log_dir)
    log.append([Record(None, b"v")], leader_epoch=0)
    log.close()  # clean: its marker is written
    run = RunState(tmp_path, "boot-a")
    run.begin()
    assert run.previous_closed is False  # nothing on record before: a new data dir
    assert not LogDirectory(log_dir, previous_run_closed=False).was_clean_shutdown()
    assert LogDirectory(log_dir, previous_run_closed=None).was_clean_shutdown()  # a log on its own
    run.end_cleanly()
    again = RunState(tmp_path, "boot-b")
    again.begin()
    assert again.previous_closed is True
    log = PartitionLog.open(log_dir, previous_run_closed=True)
    assert not (log_dir / CLEAN_SHUTDOWN_MARKER).exists() and log.log_end_offset == 1
    log.close(clean=False)  # the power is cut: the run stays on record as not closed
    (log_dir / CLEAN_SHUTDOWN_MARKER).touch()  # what the unsynced removal may leave
    third = RunState(tmp_path, "boot-c")
    third.begin()
    assert not LogDirectory(log_dir, previous_run_closed=third.previous_closed).was_clean_shutdown()
