"""Where a partition replica lives on disk, and which topic incarnation it belongs to.

Kafka's layout: `<data_dir>/partitions/<topic>-<partition>` (249-character topic names
still fit a 255-byte file name), with the topic id in a `partition.metadata` file. A
directory whose id differs belongs to a deleted topic of the same name (the node was
down when it was deleted) and must not be reused. One that holds records but no
readable id (the file lost or damaged) cannot be told apart: it is neither reused nor
deleted, but moved to `stray-partitions/` in the same root for an operator, and the replica
starts empty and fetches from its leader.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple

from kraft.storage.log_directory import METADATA_FILE, fsync_directory

log = logging.getLogger(__name__)

# in the partitions root, so a rename never crosses filesystems; no replica directory has
# this name (theirs end in -<partition>)
STRAY_DIR = "stray-partitions"


def partition_path(root: Path, topic: str, partition: int) -> Path:
    return Path(root) / f"{topic}-{partition}"


def topic_id_of(path: Path) -> str | None:
    """None when the file is missing, or cut short (a power cut before it reached the
    disk whole): a torn id must not read as another topic's, whose records would go.
    The newline written last is what says it is whole (see _write_id)."""
    try:
        fd = os.open(os.path.join(path, METADATA_FILE), os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
        text = b"".join(chunks).decode()
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
    if not text.endswith("\n"):
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "topic_id":
            return value.strip() or None
    return None


class Prepared(NamedTuple):
    path: Path
    unsynced: bool  # its partition.metadata was just written and is not fsynced yet
    # made just now, and nothing in it but its id: PartitionLog.open has nothing to read
    fresh: bool = False


def prepare(root: Path, topic: str, partition: int, topic_id: str) -> Prepared:
    """The replica's directory for this topic incarnation, created or cleared as needed.
    A new directory's id is written without a fsync, as Kafka's partition.metadata:
    it must reach the disk before the log's first records do (LogDirectory.
    sync_identity, before any fsync of the log's data), not before the replica exists;
    thousands of replicas created at once were three fsyncs each on the way to being
    hosted. Lost in a power cut before then, the directory holds no promised records:
    it is reused, or set aside if it holds some (see the module's docstring)."""
    path = partition_path(root, topic, partition)
    found = topic_id_of(path)
    if found == topic_id:
        return Prepared(path, False)
    if found is not None:
        shutil.rmtree(path)  # a previous topic of the same name
    fresh = _make(path)
    if not fresh and _holds_records(path):  # there already, with no readable id
        set_aside(path)
        fresh = _make(path)
    meta = os.path.join(path, METADATA_FILE)
    if fresh:
        _write_id(meta, topic_id, os.O_EXCL)  # no earlier bytes under this name to replace
    else:
        _write_id(meta + ".tmp", topic_id, os.O_TRUNC)
        os.replace(meta + ".tmp", meta)  # not written over a torn id: never a mix of its bytes and these
    return Prepared(path, True, fresh)


def _make(path: Path) -> bool:
    """Make the directory; False when it was there already (then it is reused as it is)."""
    try:
        try:
            os.mkdir(path)
        except FileNotFoundError:  # the partitions root is not there yet
            os.makedirs(path.parent, exist_ok=True)
            os.mkdir(path)
    except FileExistsError:
        return False
    return True


def _write_id(name: str, topic_id: str, flags: int) -> None:
    """One write, newline last: a power cut leaves the file missing, empty or cut short,
    all of which read as no id (topic_id_of), never as a half id."""
    data = f"version: 0\ntopic_id: {topic_id}\n".encode()
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def _holds_records(path: Path) -> bool:
    return any(f.stat().st_size > 0 for f in path.glob("*.log"))


def set_aside(path: Path) -> Path:
    """Move a replica directory whose topic cannot be told out of the partitions root."""
    stray = path.parent / STRAY_DIR
    stray.mkdir(exist_ok=True)
    target = stray / f"{path.name}.{time.time_ns()}"
    path.rename(target)
    fsync_directory(stray)
    fsync_directory(path.parent)
    log.warning("%s holds records but no readable topic id (%s); moved to %s, the replica starts "
                "empty and fetches from its leader", path, METADATA_FILE, target)
    return target
