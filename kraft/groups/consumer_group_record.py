"""A KIP-848 consumer group as one record of the offsets topic. Pure.

The key names the group (JSON, like the offset keys beside it, so the topic stays
readable); the value is the whole group (ConsumerGroup.to_record), written after every
change. The topic is compacted, so the latest record per group is what a new
coordinator loads; a tombstone (value None) deletes the group.
"""

from __future__ import annotations

from typing import Any

import orjson

from kraft.storage.json_keys import parse_versioned_key, versioned_key
from kraft.storage.record import Record

GROUP_KEY_VERSION = "consumer-group/1"


def group_key(group_id: str) -> bytes:
    return versioned_key(GROUP_KEY_VERSION, group_id)


def parse_group_key(key: bytes | None) -> str | None:
    """The group id of a consumer group record's key; None for any other key."""
    parts = parse_versioned_key(key, GROUP_KEY_VERSION, 1)
    return parts[0] if parts is not None and isinstance(parts[0], str) else None


def group_record(group_id: str, value: dict[str, Any] | None, now_ms: int) -> Record:
    return Record(group_key(group_id), None if value is None else orjson.dumps(value), (), now_ms)


def parse_group_value(value: bytes) -> dict[str, Any] | None:
    """The group's fields; None when the value cannot be read (skipped at load)."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
