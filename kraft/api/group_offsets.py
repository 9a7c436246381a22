"""The body of an offsets change for a consumer group (pure):
`{"offsets": [{"topic_name": "t", "partition_id": 0, "offset": 0}, ...]}`."""

from __future__ import annotations

from kraft.errors import BadRequest

FIELDS = ("topic_name", "partition_id", "offset")


def group_offsets(doc: dict) -> dict[tuple[str, int], int]:
    """(topic, partition) -> offset; BadRequest naming the first thing wrong."""
    entries = doc.get("offsets")
    if not isinstance(entries, list) or not entries:
        raise BadRequest('"offsets" must be a non-empty list of {"topic_name", "partition_id", "offset"}')
    out: dict[tuple[str, int], int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            raise BadRequest(f"offsets[{i}] must have exactly the fields {', '.join(FIELDS)}")
        topic, partition, offset = (entry[name] for name in FIELDS)
        if not isinstance(topic, str) or not topic:
            raise BadRequest(f"offsets[{i}].topic_name must be a topic name")
        if not _whole(partition) or partition < 0:
            raise BadRequest(f"offsets[{i}].partition_id must be a partition number, got {partition!r}")
        if not _whole(offset) or not 0 <= offset < 2**63:
            raise BadRequest(f"offsets[{i}].offset must be an offset (0 or more), got {offset!r}")
        if (topic, partition) in out:
            raise BadRequest(f"offsets[{i}] names {topic}-{partition} a second time")
        out[(topic, partition)] = offset
    return out


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
