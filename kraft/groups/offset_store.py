"""Committed offsets as records of the offsets topic, and the coordinator's view of them.

A commit is one record per partition, keyed by (group, topic, partition): on a
compacted topic only the latest survives, and replaying a partition's log from the
start rebuilds every group's committed offsets (how a new coordinator loads them).
A tombstone (value None) deletes the commit. Keys and values are JSON so that the
topic stays readable with the ordinary consume API. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from kraft.storage.record import Record

KEY_VERSION = "offset/1"


@dataclass(frozen=True)
class CommittedOffset:
    offset: int  # the next offset to consume, as in Kafka
    metadata: str
    commit_timestamp_ms: int
    log_offset: int = -1  # where the commit sits in the offsets topic (orders replays)
    # The topic's id when committed: a commit for a deleted topic must not apply to a new
    # topic of the same name (Kafka deletes such offsets; here they simply stop matching).
    topic_id: str = ""


def offset_key(group: str, topic: str, partition: int) -> bytes:
    return orjson.dumps([KEY_VERSION, group, topic, partition])


def commit_record(group: str, topic: str, partition: int, offset: int, metadata: str,
                  now_ms: int, topic_id: str = "") -> Record:
    value = orjson.dumps({"offset": offset, "metadata": metadata, "commit_timestamp": now_ms,
                          "topic_id": topic_id})
    return Record(offset_key(group, topic, partition), value, (), now_ms)


def tombstone_record(group: str, topic: str, partition: int, now_ms: int) -> Record:
    return Record(offset_key(group, topic, partition), None, (), now_ms)


def parse_key(key: bytes | None) -> tuple[str, str, int] | None:
    """(group, topic, partition) of an offset record's key; None for anything else, so a
    stray record in the topic is skipped rather than crashing a coordinator's load."""
    if key is None:
        return None
    try:
        parts = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    if (isinstance(parts, list) and len(parts) == 4 and parts[0] == KEY_VERSION
            and isinstance(parts[1], str) and isinstance(parts[2], str)
            and isinstance(parts[3], int) and not isinstance(parts[3], bool)):
        return parts[1], parts[2], parts[3]
    return None


def parse_value(value: bytes, log_offset: int) -> CommittedOffset | None:
    try:
        obj = orjson.loads(value)
        return CommittedOffset(int(obj["offset"]), str(obj.get("metadata", "")),
                               int(obj.get("commit_timestamp", 0)), log_offset, str(obj.get("topic_id", "")))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class OffsetCache:
    """Committed offsets of the groups of one offsets-topic partition."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[tuple[str, int], CommittedOffset]] = {}

    def replay(self, record: Record) -> None:
        """Apply one record read back from the offsets topic, in log order."""
        key = parse_key(record.key)
        if key is None:
            return
        group, topic, partition = key
        if record.value is None:
            self.forget(group, topic, partition)
            return
        assert record.offset is not None  # records read back from a log carry offsets
        committed = parse_value(record.value, record.offset)
        if committed is not None:
            self.put(group, topic, partition, committed)

    def put(self, group: str, topic: str, partition: int, committed: CommittedOffset) -> None:
        """Later log positions win, whatever order acknowledgements arrive in."""
        offsets = self._groups.setdefault(group, {})
        old = offsets.get((topic, partition))
        if old is None or committed.log_offset >= old.log_offset:
            offsets[(topic, partition)] = committed

    def forget(self, group: str, topic: str, partition: int) -> None:
        offsets = self._groups.get(group)
        if offsets is not None:
            offsets.pop((topic, partition), None)
            if not offsets:
                del self._groups[group]

    def get(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._groups.get(group, {}).get((topic, partition))

    def of_group(self, group: str) -> dict[tuple[str, int], CommittedOffset]:
        return dict(self._groups.get(group, {}))

    def groups(self) -> list[str]:
        return sorted(self._groups)
