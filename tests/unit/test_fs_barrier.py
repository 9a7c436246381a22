"""One file system sync (syncfs) for many logs, where it is a durability barrier.

A broker's clean stop: each log's last state written, the file system made durable
once, then every log marked clean, so the next start trusts them (no recovery) and
finds every record. A burst of new leader epochs (thousands of new leaders after a
restart): the checkpoints written without fsyncs and the file system synced once."""

from __future__ import annotations

import asyncio

import pytest

from kraft.replication.replica_manager import ReplicaManager
from kraft.storage.fs_sync import barrier_holds, file_system_type
from kraft.replication.io_worker import BURST
from kraft.storage.leader_epoch_cache import CHECKPOINT_NAME, read_checkpoint
from kraft.storage.log_directory import CLEAN_SHUTDOWN_MARKER
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record
from fsyncs import fsyncs_seen

LOGS = 30


def hosting_written_logs(data_dir, logs: int = LOGS, records: int = 3) -> tuple[ReplicaManager, list]:
    """A replica manager that opened `logs` replicas and appended to each (no fsync)."""
    manager = ReplicaManager(1, data_dir, lambda topic: {}, 5000, None, None)

    async def open_and_write():
        replicas = [await manager.roles.open_replica("t", "topic-id", i) for i in range(logs)]
        for replica in replicas:
            for i in range(records):
                replica.log.append([Record(None, b"v%d" % i, (), i)], leader_epoch=0)
        return replicas
    return manager, asyncio.run(open_and_write())


def reopened_ends(replicas) -> list[int]:
    """Each log opened again as the next start does after a run that closed every log;
    its marker must be there (else it would be recovered, not trusted)."""
    ends = []
    for replica in replicas:
        path = replica.log.directory.path
        assert (path / CLEAN_SHUTDOWN_MARKER).exists(), path.name
        log = PartitionLog.open(path, previous_run_closed=True)
        ends.append(log.log_end_offset)
        log.close()
    return ends


def needs_a_barrier(path) -> None:
    if not barrier_holds(path):
        pytest.skip(f"syncfs is no durability barrier on this file system ({file_system_type(path)!r}): "
                    "each log fsyncs its own there (tests/cluster/test_lazy_fs.py)")


def test_a_clean_stop_syncs_the_file_system_once_instead_of_each_log(tmp_path, monkeypatch):
    needs_a_barrier(tmp_path)
    manager, replicas = hosting_written_logs(tmp_path / "node")
    fsynced = fsyncs_seen(monkeypatch)

    assert manager.logs.close_all_cleanly(replicas) is None

    assert fsynced == []  # one syncfs made the 30 logs' records, snapshots and indexes durable
    monkeypatch.undo()
    assert reopened_ends(replicas) == [3] * LOGS


@pytest.mark.parametrize("leaders", [BURST, 3])
def test_new_leader_epochs_are_written_in_one_burst_or_fsynced_each(tmp_path, monkeypatch, leaders):
    needs_a_barrier(tmp_path)
    manager, replicas = hosting_written_logs(tmp_path / "node", logs=leaders, records=0)
    fsynced = fsyncs_seen(monkeypatch)

    async def elect_and_wait():
        worker = asyncio.create_task(manager.io.run())
        for replica in replicas:  # what becoming leader in epoch 7 records
            replica.log.leader_epoch_cache.assign(7, replica.log.log_end_offset)
        for _ in range(400):  # the worker's writes, bounded: 400 x 25 ms
            if all(read_checkpoint(r.log.directory.path / CHECKPOINT_NAME) for r in replicas):
                break
            await asyncio.sleep(0.025)
        worker.cancel()
    asyncio.run(elect_and_wait())

    for replica in replicas:
        assert [e.epoch for e in read_checkpoint(replica.log.directory.path / CHECKPOINT_NAME)] == [7]
    # a burst: no fsync, one syncfs; a few: each checkpoint's own (and its directory's)
    checkpoints = [name for name in fsynced if name.startswith(CHECKPOINT_NAME)]
    assert len(checkpoints) == (0 if leaders >= BURST else leaders), fsynced
    for replica in replicas:
        replica.log.close()
