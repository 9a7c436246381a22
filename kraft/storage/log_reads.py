"""Where a read's bytes are, and whether they may be handed out: the file ranges of whole
batches from an offset, within a byte budget and below an offset bound (PartitionLog.read
and read_slices), and the check every batch read passes (length and CRC-32C)."""

from __future__ import annotations

from bisect import bisect_right

from kraft.errors import CorruptBatchError
from kraft.storage.record_batch import crc_holds, iter_batches
from kraft.storage.segment import Segment


class BrokenSegment(Exception):
    """A header walk met a batch that cannot be one: the segment needs a damage scan."""

    def __init__(self, segment: Segment) -> None:
        self.segment = segment


def read_ranges(segments: list[Segment], offset: int, max_bytes: int,
                max_offset: int | None) -> list[tuple[Segment, int, int]]:
    """(segment, position, length) of the batches from the one holding `offset`: at least
    one batch, then up to `max_bytes`, none reaching `max_offset`."""
    ranges: list[tuple[Segment, int, int]] = []
    budget = max_bytes
    index = bisect_right(segments, offset, key=lambda s: s.base_offset) - 1
    for segment in segments[index:]:
        try:
            position, length, next_offset = segment.locate(offset, budget, max_offset, min_one=not ranges)
        except CorruptBatchError:
            raise BrokenSegment(segment) from None
        if length:
            ranges.append((segment, position, length))
            budget -= length
        if budget <= 0 or next_offset < segment.next_offset:
            break  # stopped by the budget or max_offset, not by the segment's end
        offset = next_offset
    return ranges


def whole_and_sound(data: bytes) -> bool:
    """Whole batches, each matching its CRC-32C: what a read may hand out."""
    end = 0
    try:
        for pos, header in iter_batches(data):
            if not crc_holds(data, pos, header):
                return False
            end = pos + header.size
    except CorruptBatchError:
        return False
    return end == len(data)
