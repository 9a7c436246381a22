"""Which tables the catalog holds, by name, from the metadata image's pointers. Pure, and
free of the Iceberg libraries (the HTTP routes import it at every node's start)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from kraft.metadata.records import KEPT_TABLE

NAMESPACE = "kraft"
DLQ = "~dlq"  # `<topic>~dlq`: the topic's dead-letter table (no topic name holds a "~")


class Pointers(Protocol):
    """What the catalog reads of the metadata image (kraft.metadata.image)."""

    @property
    def topic_ids(self) -> Mapping[str, str]: ...  # topic name -> id

    @property
    def iceberg_tables(self) -> Mapping[str, str]: ...  # topic id -> current metadata file


def live_key(image: Pointers, name: str) -> str | None:
    """Where the image keeps the pointer of a live topic's table: the topic's id
    (`<id>~dlq` for the dead-letter table); None when there is no such topic."""
    topic_id = image.topic_ids.get(name.removesuffix(DLQ))
    return None if topic_id is None else topic_id + (DLQ if name.endswith(DLQ) else "")


def pointer_key(image: Pointers, name: str) -> str | None:
    """The pointer a reader of table `name` gets: the live topic's table, else the table
    kept from a deleted topic of that name (iceberg.delete=false)."""
    key = live_key(image, name)
    if key is not None and key in image.iceberg_tables:
        return key
    return KEPT_TABLE + name if KEPT_TABLE + name in image.iceberg_tables else None


def table_names(image: Pointers) -> list[str]:
    """The tables the image holds pointers of, by name: live topics' and kept ones."""
    names = {topic_id: name for name, topic_id in image.topic_ids.items()}
    out = set()
    for key in image.iceberg_tables:
        if key.startswith(KEPT_TABLE):
            out.add(key[len(KEPT_TABLE):])
            continue
        topic_id, dlq, _ = key.partition(DLQ)
        if topic_id in names:
            out.add(names[topic_id] + dlq)
    return sorted(out)
