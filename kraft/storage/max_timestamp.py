"""ListOffsets' MAX_TIMESTAMP (-3, KIP-734): the record with the largest timestamp.

Among the records in [start, end) (the log start, and the high watermark or the last
stable offset): the largest timestamp, and of the records stamped with it the first by
offset. Control batches (transaction markers) are left out: no consumer reads them.

Each segment knows its largest batch timestamp and the batch that first reached it, so
usually one batch is decoded; a segment whose largest timestamp lies outside the range
(below the log start, above the high watermark, a marker) is walked batch by batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from kraft.storage.record_batch import BatchHeader, decode_records
from kraft.storage.segment import Segment


class MaxTimestamp(NamedTuple):
    offset: int
    timestamp: int
    leader_epoch: int  # of the batch that holds it


class _Candidate(NamedTuple):
    timestamp: int
    segment: Segment
    position: int
    header: BatchHeader


def record_with_max_timestamp(segments: Sequence[Segment], start: int, end: int) -> MaxTimestamp | None:
    """None when [start, end) holds no record (markers aside)."""
    best: _Candidate | None = None
    live = [s for s in segments if s.size and s.next_offset > start and s.base_offset < end]
    for segment in sorted(live, key=lambda s: (-s.max_timestamp, s.base_offset)):
        if best is not None and (segment.max_timestamp < best.timestamp or (
                segment.max_timestamp == best.timestamp and segment.base_offset > best.header.base_offset)):
            break  # nothing here can be larger, or as large and earlier
        found = _best_in(segment, start, end)
        if found is not None and (best is None or found.timestamp > best.timestamp or (
                found.timestamp == best.timestamp and found.header.base_offset < best.header.base_offset)):
            best = found
    if best is None:
        return None
    data = best.segment.log.read(best.position, best.header.size)
    for record in decode_records(data):
        if record.offset is not None and start <= record.offset < end and record.timestamp_ms == best.timestamp:
            return MaxTimestamp(record.offset, best.timestamp, best.header.leader_epoch)
    return None


def _best_in(segment: Segment, start: int, end: int) -> _Candidate | None:
    quick = _batch_reaching_max(segment)
    if quick is not None and _inside(quick[1], start, end):
        return _Candidate(segment.max_timestamp, segment, *quick)
    best: _Candidate | None = None
    found = segment.find_position(start) if start > segment.base_offset else None
    for position, header in segment.log.batches(found[0] if found else 0):
        if header.base_offset >= end:
            break
        if header.is_control or header.last_offset < start:
            continue
        timestamp: int | None = header.max_timestamp
        if not _inside(header, start, end):  # straddles the log start or the end: its records decide
            data = segment.log.read(position, header.size)
            timestamp = max((r.timestamp_ms for r in decode_records(data)
                             if r.offset is not None and start <= r.offset < end), default=None)
        if timestamp is not None and (best is None or timestamp > best.timestamp):
            best = _Candidate(timestamp, segment, position, header)
    return best


def _batch_reaching_max(segment: Segment) -> tuple[int, BatchHeader] | None:
    """The first batch whose max timestamp is the segment's (the segment tracks its offset)."""
    found = segment.find_position(segment.offset_of_max_timestamp)
    if found is None or found[1].max_timestamp != segment.max_timestamp:
        return None
    return found


def _inside(header: BatchHeader, start: int, end: int) -> bool:
    return not header.is_control and header.base_offset >= start and header.last_offset < end
