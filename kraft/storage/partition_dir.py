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
    disk whole): a torn id must not read as another topic's, whose records would go."""
    try:
        text = (Path(path) / METADATA_FILE).read_text()
    except (OSError, UnicodeDecodeError):
        return None
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
    if path.exists():
        if found is None and _holds_records(path):
            set_aside(path)
        elif found is not None:
            shutil.rmtree(path)  # a previous topic of the same name
    path.mkdir(parents=True, exist_ok=True)
    meta = path / METADATA_FILE
    tmp = meta.with_name(METADATA_FILE + ".tmp")
    tmp.write_text(f"version: 0\ntopic_id: {topic_id}\n")
    tmp.replace(meta)  # never a name on half an id, fsynced or not
    return Prepared(path, True)


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
