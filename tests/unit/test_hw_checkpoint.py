"""The HW checkpoint file: written from the IO worker thread and once more at shutdown."""
from __future__ import annotations

import threading

from kraft.storage.hw_checkpoint import HighWatermarkCheckpoint


def test_written_values_survive_a_reopen_and_a_torn_file_reads_as_empty(tmp_path):
    path = tmp_path / "replication-offset-checkpoint"
    cp = HighWatermarkCheckpoint(path)
    cp.write({"t-0": 10, "t-1": 3})
    cp.write({"t-0": 12, "t-1": 3})
    assert HighWatermarkCheckpoint(path).read() == {"t-0": 12, "t-1": 3}
    path.write_bytes(b'{"t-0": 1')  # torn: every HW is learned again from the leader
    assert HighWatermarkCheckpoint(path).read() == {}


def test_a_periodic_write_finishing_after_shutdown_cannot_undo_the_last_one(tmp_path):
    path = tmp_path / "replication-offset-checkpoint"
    cp = HighWatermarkCheckpoint(path)
    stale = {"t-0": 5}  # taken by the duty loop before the final HWs
    cp.close({"t-0": 9})
    worker = threading.Thread(target=cp.write, args=(stale,))
    worker.start()
    worker.join(5)
    assert HighWatermarkCheckpoint(path).read() == {"t-0": 9}


def test_writes_from_many_threads_always_leave_one_whole_map(tmp_path):
    path = tmp_path / "replication-offset-checkpoint"
    cp = HighWatermarkCheckpoint(path)
    maps = [{f"t-{p}": n for p in range(50)} for n in range(20)]
    threads = [threading.Thread(target=cp.write, args=(m,)) for m in maps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert HighWatermarkCheckpoint(path).read() in maps
    assert not path.with_suffix(".tmp").exists()
