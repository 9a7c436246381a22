"""Whether a broker's logs survived its previous run (the clean shutdown it registers with)."""

from __future__ import annotations

import json

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
