"""Keys of the internal topics' records (offsets, consumer groups, transactions): a JSON
list that starts with a version string, so a key of another kind or version, or a stray
record, is told apart and skipped rather than misread."""

from __future__ import annotations

from typing import Any

import orjson


def versioned_key(version: str, *parts: object) -> bytes:
    return orjson.dumps([version, *parts])


def parse_versioned_key(key: bytes | None, version: str, arity: int) -> list[Any] | None:
    """The `arity` parts after `version` of a key versioned_key wrote; None for any other key."""
    if key is None:
        return None
    try:
        parts = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parts, list) and len(parts) == arity + 1 and parts[0] == version:
        return parts[1:]
    return None
