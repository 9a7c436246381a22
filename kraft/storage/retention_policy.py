"""Which old segments retention deletes: pure rules over segment statistics.

Kafka's rules: by time, a segment goes once its newest record is older than
retention.ms; by size, the oldest segments go while the log would still hold at
least retention.bytes without them. Only whole segments are deleted, oldest
first, never an empty last segment, and never one holding offsets at or past
``max_offset`` (the high watermark), so the log start cannot overtake it.

DeleteRecords moves the log start itself, to any offset up to the high watermark; the
segments wholly below it go then (segments_below_start).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class SegmentStats(NamedTuple):
    base_offset: int
    next_offset: int
    size: int
    max_timestamp: int


def segments_to_delete(
    segments: Sequence[SegmentStats],
    now_ms: int,
    retention_ms: int | None = None,
    retention_bytes: int | None = None,
    max_offset: int | None = None,
) -> int:
    """How many of the oldest ``segments`` to delete (negative limits mean unlimited)."""
    eligible = 0
    for segment in segments:
        if segment.size == 0 or (max_offset is not None and segment.next_offset > max_offset):
            break
        eligible += 1
    count = 0
    if retention_ms is not None and retention_ms >= 0:
        while count < eligible and now_ms - segments[count].max_timestamp > retention_ms:
            count += 1
    if retention_bytes is not None and retention_bytes >= 0:
        remaining = sum(s.size for s in segments[count:])
        while count < eligible and remaining - segments[count].size >= retention_bytes:
            remaining -= segments[count].size
            count += 1
    return count


def segments_below_start(segments: Sequence[SegmentStats], log_start: int) -> int:
    """How many of the oldest ``segments`` hold only offsets below ``log_start``, never
    counting the last one: the log keeps a segment at its end (the caller rolls first when
    even the last one lies below the start)."""
    count = 0
    for segment in segments[:-1]:
        if segment.next_offset > log_start:
            break
        count += 1
    return count
