"""Damaged stored data: finding it in a segment, and the offset ranges it spoils.

A batch whose CRC-32C fails, whose length cannot be right or whose offsets do not
follow the batch before it is damage. Nothing in a damaged range may be served; a
replica repairs it by truncating at its start and fetching again from the leader
(replication.replica_repair). The walk here is the one the scrubber runs a chunk at a
time and a read runs over one segment when a batch it was about to serve fails.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crc32c import crc32c

from kraft.errors import CorruptBatchError
from kraft.storage.record_batch import ATTRIBUTES_POS, HEADER_SIZE, BatchHeader

SCAN_CHUNK = 1024 * 1024  # bytes a scrubber step checks


@dataclass(frozen=True)
class Damage:
    start: int  # the first offset that cannot be trusted
    end: int  # the first offset after it that can be (a whole segment's end when unknown)
    reason: str


@dataclass
class SegmentScan:
    """Progress through one segment: the byte position and offset the next step expects."""

    base_offset: int
    end_offset: int  # the segment's next offset when the scan began
    size: int  # the bytes to scan (the file's size when the scan began)
    position: int = 0
    next_offset: int = -1
    damage: list[Damage] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.next_offset < 0:
            self.next_offset = self.base_offset

    @property
    def done(self) -> bool:
        return self.position >= self.size


def scan_step(read: Callable[[int, int], bytes], scan: SegmentScan, budget: int = SCAN_CHUNK) -> int:
    """Check the batches from scan.position on, about ``budget`` bytes of them (at least
    one batch), with ``read(position, length) -> bytes``; returns the bytes checked. A
    batch failing its CRC with a sound header spoils its own offsets and the walk goes
    on; anything that breaks the chain of batches spoils the rest of the segment."""
    start = scan.position
    while not scan.done and scan.position - start < max(budget, 1):
        at = scan.position
        head = read(at, min(HEADER_SIZE, scan.size - at))
        try:
            header = BatchHeader.parse(head)
        except CorruptBatchError as exc:
            _spoil_rest(scan, f"byte {at}: {exc}")
            break
        size = header.size
        if at + size > scan.size:
            _spoil_rest(scan, f"batch at byte {at} declares {size} bytes, {scan.size - at} are left")
            break
        if header.base_offset != scan.next_offset or header.next_offset > scan.end_offset:
            _spoil_rest(scan, f"batch at byte {at} has offsets {header.base_offset}..{header.last_offset}, "
                              f"expected {scan.next_offset}")
            break
        body = read(at + ATTRIBUTES_POS, size - ATTRIBUTES_POS)
        if len(body) != size - ATTRIBUTES_POS:
            _spoil_rest(scan, f"batch at byte {at} cannot be read whole")
            break
        if crc32c(body) != header.crc:
            scan.damage.append(Damage(header.base_offset, header.next_offset,
                                      f"batch at offsets {header.base_offset}..{header.last_offset} "
                                      "fails its CRC"))
        scan.position += size
        scan.next_offset = header.next_offset
    return scan.position - start


def _spoil_rest(scan: SegmentScan, reason: str) -> None:
    if scan.next_offset < scan.end_offset:
        scan.damage.append(Damage(scan.next_offset, scan.end_offset, reason))
    scan.position = scan.size


def scan_whole(read: Callable[[int, int], bytes], base_offset: int, end_offset: int, size: int) -> list[Damage]:
    """Every damaged range of one segment, walked at once."""
    scan = SegmentScan(base_offset, end_offset, size)
    while not scan.done:
        scan_step(read, scan)
    return scan.damage
