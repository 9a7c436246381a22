"""Where a partition replica lives on disk, and which topic incarnation it belongs to.

Kafka's layout: `<data_dir>/partitions/<topic>-<partition>` (249-character topic names
still fit a 255-byte file name), with the topic id in a `partition.metadata` file. A
directory whose id differs belongs to a deleted topic of the same name (the node was
down when it was deleted) and must not be reused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kraft.storage.log_directory import fsync_directory, replace_durably

METADATA_FILE = "partition.metadata"


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
    if path.exists() and topic_id_of(path) != topic_id:
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
