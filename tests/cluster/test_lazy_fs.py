"""The lazy filesystem behind the lab's power cuts, on a real FUSE mount.

What a power cut must drop is exactly what a process wrote and did not fsync: file
data, truncates, pages written through mmap without msync. What it must keep is what
was fsynced (fsync, fdatasync, O_SYNC, msync). And the storage layer of a node on it
keeps every record its flush settings promise.
"""

from __future__ import annotations

import asyncio
import mmap
import os
from pathlib import Path

import pytest

from kraft.replication.replica_manager import ReplicaManager
from kraft.server import lazy_disks
from kraft.storage import fs_sync, partition_dir
from kraft.storage.log_directory import CLEAN_SHUTDOWN_MARKER
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record

OK, WHY = lazy_disks.available()
pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(not OK, reason=f"the lazy filesystem cannot mount here: {WHY}")]


@pytest.fixture
def disk(tmp_path):
    d = lazy_disks.LazyDisk(tmp_path / "disk", tmp_path / "mnt")
    d.mount()
    yield d
    d.close()


def write(path: Path, data: bytes, sync: bool = False, mode: str = "wb") -> None:
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def test_a_power_cut_keeps_exactly_what_was_fsynced(disk):
    m = disk.mountpoint
    write(m / "never-synced", b"gone")
    write(m / "synced", b"kept", sync=True)
    write(m / "synced", b"+lost", mode="ab")
    with open(m / "datasync", "wb") as f:
        f.write(b"kept by fdatasync")
        f.flush()
        os.fdatasync(f.fileno())
    fd = os.open(m / "o_sync", os.O_WRONLY | os.O_CREAT | os.O_SYNC)
    os.write(fd, b"kept by O_SYNC")
    os.close(fd)
    (m / "dir" / "sub").mkdir(parents=True)
    write(m / "dir" / "sub" / "deep", b"x" * 100_000)
    # before the cut a process sees everything it wrote
    assert (m / "synced").read_bytes() == b"kept+lost"
    assert (m / "dir" / "sub" / "deep").stat().st_size == 100_000
    held = disk.stats()
    assert held["unsynced_files"] == 3 and held["unsynced_bytes"] == 4 + 5 + 100_000

    dropped = disk.cut()

    assert dropped["unsynced_bytes"] == held["unsynced_bytes"]
    assert (m / "never-synced").read_bytes() == b""  # names survive, unsynced contents do not
    assert (m / "synced").read_bytes() == b"kept"
    assert (m / "datasync").read_bytes() == b"kept by fdatasync"
    assert (m / "o_sync").read_bytes() == b"kept by O_SYNC"
    assert (m / "dir" / "sub" / "deep").read_bytes() == b""
    assert disk.stats()["unsynced_bytes"] == 0


def test_a_rename_without_fsync_first_leaves_an_empty_file_and_with_it_the_new_bytes(disk):
    m = disk.mountpoint
    for name in ("careless", "careful"):
        write(m / name, b"version 1", sync=True)
        write(m / f"{name}.tmp", b"version 2", sync=name == "careful")
        os.replace(m / f"{name}.tmp", m / name)
        assert (m / name).read_bytes() == b"version 2"
    disk.cut()
    assert (m / "careless").read_bytes() == b""  # the old file is gone, the new bytes never landed
    assert (m / "careful").read_bytes() == b"version 2"
    assert sorted(p.name for p in m.iterdir()) == ["careful", "careless"]


def test_a_truncate_is_held_back_like_a_write(disk):
    m = disk.mountpoint
    write(m / "f", bytes(range(100)), sync=True)
    os.truncate(m / "f", 10)
    write(m / "f", b"tail", mode="ab")
    assert (m / "f").read_bytes() == bytes(range(10)) + b"tail"
    disk.cut()
    assert (m / "f").read_bytes() == bytes(range(100))


def test_pages_written_through_mmap_survive_only_after_msync(disk):
    path = disk.mountpoint / "journal"
    write(path, bytes(8192), sync=True)
    fd = os.open(path, os.O_RDWR)
    try:
        with mmap.mmap(fd, 8192) as mm:
            mm[0:7] = b"entry 1"
            mm.flush()  # msync: what a Raft journal does before it acknowledges
            mm[4096:4103] = b"entry 2"  # never msynced
    finally:
        os.close(fd)
    disk.cut()
    data = path.read_bytes()
    assert data[0:7] == b"entry 1"
    assert data[4096:4103] == bytes(7)


def test_a_new_replica_keeps_every_record_its_flush_setting_promises(disk):
    """A partition created, written with flush.messages=1, then the power cut: its
    directory still names its topic (else a node deletes it as another topic's) and
    every appended record is there. Without flush settings nothing was fsynced, not even
    the new directory's id: the node finds no replica, or an empty one, and starts it
    empty as at creation."""
    root = disk.mountpoint / "partitions"
    root.mkdir()
    for topic, flush in (("flushed", 1), ("default", None)):
        prepared = partition_dir.prepare(root, topic, 0, f"id-{topic}")
        assert prepared.unsynced  # the id is made durable by the first fsync of records, not before
        assert prepared.fresh  # opened as a node opens a new replica: nothing read, index files made later
        log = PartitionLog.open(prepared.path, LogConfig(flush_messages=flush), unsynced_identity=True, fresh=True)
        for i in range(20):
            # 1 KiB each: index entries, whose files are made after the id was synced
            log.append([Record(None, f"v{i}".encode().ljust(1024, b"."))], leader_epoch=0)
        log.close(clean=False)  # as kill -9: nothing more reaches the disk
    disk.cut()
    assert partition_dir.topic_id_of(partition_dir.partition_path(root, "flushed", 0)) == "id-flushed"
    for topic, expect_end in (("flushed", 20), ("default", 0)):
        path = partition_dir.prepare(root, topic, 0, f"id-{topic}").path  # as the node's next start
        log = PartitionLog.open(path, LogConfig())
        try:
            assert log.log_end_offset == expect_end, topic
        finally:
            log.close()
    assert not (root / partition_dir.STRAY_DIR).exists()  # nothing was set aside


def test_a_clean_stop_keeps_every_record_through_a_power_cut(disk):
    """syncfs does not reach a FUSE daemon (the kernel passes it on to virtiofs only): on
    this disk a broker's clean stop must fsync log by log, or the power cut after it
    takes records from logs the next start trusts without recovery."""
    assert not fs_sync.barrier_holds(disk.mountpoint)
    manager = ReplicaManager(1, disk.mountpoint / "node", lambda topic: {}, 5000, None, None)

    async def open_and_write():
        replicas = [await manager.roles.open_replica("t", "topic-id", i) for i in range(5)]
        for replica in replicas:
            for i in range(3):
                replica.log.append([Record(None, f"v{i}".encode().ljust(1024, b"."))], leader_epoch=0)
        return replicas
    replicas = asyncio.run(open_and_write())
    assert manager.logs.close_all_cleanly(replicas) is None
    disk.cut()
    for replica in replicas:
        path = replica.log.directory.path
        assert (path / CLEAN_SHUTDOWN_MARKER).exists()  # trusted at the next start: no recovery
        log = PartitionLog.open(path, previous_run_closed=True)
        try:
            assert log.log_end_offset == 3 and log.read(0, 10**6), path.name
        finally:
            log.close()


def test_the_mount_answers_errors_as_the_disk_would(disk):
    m = disk.mountpoint
    with pytest.raises(FileNotFoundError):
        (m / "missing").read_bytes()
    (m / "d").mkdir()
    write(m / "d" / "f", b"x")
    with pytest.raises(OSError):
        (m / "d").rmdir()  # not empty
    with pytest.raises(FileExistsError):
        os.open(m / "d" / "f", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    # a large write in one go is held and read back whole
    big = os.urandom(3 * 1024 * 1024)
    write(m / "big", big)
    assert (m / "big").read_bytes() == big
    os.unlink(m / "big")
    assert disk.stats()["unsynced_bytes"] == 1  # only d/f's byte: an unlinked file's are forgotten


def test_a_delay_is_refused_out_of_range_and_kept_back_to_zero(disk):
    for bad in (b"delay -1", b"delay 60001", b"delay soon", b"delay " + b"9" * 900):
        assert "error" in disk._ask(bad), bad
    disk.set_delay(60_000)  # the upper bound itself is a delay
    disk.set_delay(0)
    write(disk.mountpoint / "f", b"fast again", sync=True)
    assert (disk.backing / "f").read_bytes() == b"fast again"
    with pytest.raises(lazy_disks.LazyDiskError, match="refused the delay"):
        disk.set_delay(-5)
