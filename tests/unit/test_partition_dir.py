"""Which replica directory a partition reuses, deletes or sets aside (real files)."""

from __future__ import annotations

import asyncio
import shutil

from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.io_worker import IoWorker
from kraft.replication.log_dir_health import LogDirHealth
from kraft.storage import partition_dir
from kraft.storage.log_directory import LogDirectory


def _replica_with_records(root, topic, metadata: bytes | None):
    path = partition_dir.partition_path(root, topic, 0)
    path.mkdir(parents=True)
    (path / "00000000000000000000.log").write_bytes(b"records of some topic")
    if metadata is not None:
        (path / partition_dir.METADATA_FILE).write_bytes(metadata)
    return path


def test_the_same_topic_id_reuses_the_directory(tmp_path):
    path = _replica_with_records(tmp_path, "t", b"version: 0\ntopic_id: A\n")
    assert partition_dir.prepare(tmp_path, "t", 0, "A").path == path
    assert (path / "00000000000000000000.log").read_bytes() == b"records of some topic"


def test_another_topic_id_is_a_deleted_topic_and_its_records_go(tmp_path):
    path = _replica_with_records(tmp_path, "t", b"version: 0\ntopic_id: OLD\n")
    partition_dir.prepare(tmp_path, "t", 0, "NEW")
    assert not (path / "00000000000000000000.log").exists()
    assert partition_dir.topic_id_of(path) == "NEW"


def test_records_without_a_readable_topic_id_are_set_aside_not_deleted(tmp_path):
    for topic, metadata in (("damaged", b"\x00\x00garbage"), ("missing", None), ("empty", b"")):
        path = _replica_with_records(tmp_path, topic, metadata)
        assert partition_dir.prepare(tmp_path, topic, 0, "A").path == path
        assert list(path.glob("*.log")) == [] and partition_dir.topic_id_of(path) == "A"  # starts empty
        kept = list((tmp_path / partition_dir.STRAY_DIR).glob(f"{topic}-0.*/00000000000000000000.log"))
        assert [k.read_bytes() for k in kept] == [b"records of some topic"], topic


def test_a_directory_without_records_or_id_is_simply_reused(tmp_path):
    path = partition_dir.partition_path(tmp_path, "t", 0)
    path.mkdir()  # a crash between mkdir and writing the id
    assert partition_dir.prepare(tmp_path, "t", 0, "A").path == path
    assert partition_dir.topic_id_of(path) == "A"
    assert not (tmp_path / partition_dir.STRAY_DIR).exists()


def test_a_new_directory_says_its_id_is_not_on_disk_yet_and_an_existing_one_does_not(tmp_path):
    first = partition_dir.prepare(tmp_path, "t", 0, "A")
    assert first.unsynced and first.fresh and partition_dir.topic_id_of(first.path) == "A"
    again = partition_dir.prepare(tmp_path, "t", 0, "A")  # the next start
    assert again == (first.path, False, False)


def test_an_id_cut_short_by_a_power_cut_is_no_id_and_its_records_are_set_aside(tmp_path):
    # a torn id must not read as another topic's, which would delete the records
    path = _replica_with_records(tmp_path, "t", b"version: 0\ntopic_id: AB")
    assert partition_dir.topic_id_of(path) is None
    partition_dir.prepare(tmp_path, "t", 0, "ABCD")
    kept = list((tmp_path / partition_dir.STRAY_DIR).glob("t-0.*/00000000000000000000.log"))
    assert [k.read_bytes() for k in kept] == [b"records of some topic"]


def test_new_ids_are_synced_together_off_the_loop_and_a_deleted_one_is_skipped(tmp_path):
    health = LogDirHealth(tmp_path)
    dirs = []
    for index in range(3):
        prepared = partition_dir.prepare(tmp_path, "t", index, "A")
        dirs.append(LogDirectory(prepared.path, unsynced_identity=prepared.unsynced))
    shutil.rmtree(dirs[0].path)  # its topic deleted before the batch ran: the rest still sync

    async def run():
        worker = IoWorker(DiskTrouble(health))
        for d in dirs:
            worker.sync_identity(d)
        task = asyncio.create_task(worker.run())
        while any(d.identity_unsynced for d in dirs):
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(run(), 10))
    assert not health.failed  # a deleted directory is not a disk failure
    assert not dirs[1].sync_identity()  # done once: nothing left to do
