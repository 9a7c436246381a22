"""The command line's failure-lab run records (real directories)."""

from __future__ import annotations

from kraft.api.console import lab_records


def test_a_new_run_keeps_only_the_newest_records(tmp_path):
    for second in range(lab_records.KEEP_RUNS + 5):
        (tmp_path / f"20260101-{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}-old").mkdir()
    run_id, directory = lab_records.new_run_dir(tmp_path, "Power cut!")
    names = sorted(d.name for d in lab_records.run_dirs(tmp_path))
    assert len(names) == lab_records.KEEP_RUNS and names[-1] == run_id
    assert run_id.endswith("-power-cut") and directory.is_dir()
    assert "20260101-000000-old" not in names  # the oldest went first
