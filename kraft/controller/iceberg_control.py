"""Moving an Iceberg topic's table pointer (pure): Iceberg's catalog commit, a
compare-and-set. A commit names the metadata file it was based on; the pointer moves only
from there, so of two writers that raced, one lands and the other reloads the table
and tries again (docs/ICEBERG.md)."""

from __future__ import annotations

from kraft.controller.result import ControllerResult
from kraft.errors import ConcurrentMetadataChange, TopicNotFound
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import IcebergTable


def commit_table(image: MetadataImage, topic: str, topic_id: str, based_on: str | None,
                 metadata_location: str) -> ControllerResult:
    """based_on: the metadata file the commit started from; None for the table's first.
    topic_id: the pointer's key, the topic's id (`<id>~dlq` for its dead-letter table)."""
    own_id, _, table = topic_id.partition("~")
    if image.topic_ids.get(topic) != own_id or table not in ("", "dlq"):
        raise TopicNotFound(f"topic {topic!r} (id {topic_id}) does not exist")
    current = image.iceberg_tables.get(topic_id)
    if current != based_on:
        raise ConcurrentMetadataChange(f"the table of topic {topic!r} moved on since the commit began; "
                                       f"reload it and retry")
    if metadata_location == current:
        return ControllerResult([], {"metadata_location": current})
    return ControllerResult([IcebergTable(topic_id=topic_id, metadata_location=metadata_location)],
                            {"metadata_location": metadata_location})
