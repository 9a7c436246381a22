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

from kraft.storage.log_directory import fsync_directory, replace_durably

log = logging.getLogger(__name__)

METADATA_FILE = "partition.metadata"
# in the partitions root, so a rename never crosses filesystems; no replica directory has
# this name (theirs end in -<partition>)
STRAY_DIR = "stray-partitions"


def partition_path(root: Path, topic: str, partition: int) -> Path:
    return Path(root) / f"{topic}-{partition}"


def topic_id_of(path: Path) -> str | None:
    try:
        for line in (Path(path) / METADATA_FILE).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "topic_id":
                return value.strip()
    except OSError:
        pass
    return None


def prepare(root: Path, topic: str, partition: int, topic_id: str) -> Path:
    """The replica's directory for this topic incarnation, created or cleared as needed."""
    path = partition_path(root, topic, partition)
    if path.exists():
        found = topic_id_of(path)
        if found is None and _holds_records(path):
            set_aside(path)
        elif found is not None and found != topic_id:
            shutil.rmtree(path)  # a previous topic of the same name
    if not path.exists():
        path.mkdir(parents=True)
        fsync_directory(path.parent)
    meta = path / METADATA_FILE
    if not meta.exists():
        # durable before the first record: after a power cut an empty file here would
        # read as another topic's directory and the replica would be deleted
        replace_durably(meta, f"version: 0\ntopic_id: {topic_id}\n")
    return path


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
