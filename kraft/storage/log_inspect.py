"""Read a partition replica's log files without opening them for writing.

For checkers and tests that compare replicas on disk (nothing is recovered, marked or
truncated): every complete, CRC-valid batch of every segment, in offset order.
"""

from __future__ import annotations

from pathlib import Path

from kraft.storage.record_batch import BatchHeader, decode_records, iter_batches, verify_crc


def read_batches(partition_dir: Path) -> list[tuple[int, int, bytes]]:
    """(base offset, leader epoch, raw batch bytes) of each valid batch."""
    out = []
    for segment in sorted(Path(partition_dir).glob("*.log")):
        data = segment.read_bytes()
        for pos, header in iter_batches(data):
            raw = data[pos:pos + header.size]
            if not verify_crc(raw):
                break  # a torn tail: recovery would cut it here
            out.append((header.base_offset, header.leader_epoch, raw))
    return out


def read_records(partition_dir: Path) -> list[tuple[int, int, bytes | None, bytes | None]]:
    """(offset, leader epoch, key, value) of each data record (transaction markers are
    the broker's, not records anyone wrote)."""
    out = []
    for _, epoch, raw in read_batches(partition_dir):
        if BatchHeader.parse(raw).is_control:
            continue
        for r in decode_records(raw, verify=False):
            assert r.offset is not None  # decoded from the log: offsets are set
            out.append((r.offset, epoch, r.key, r.value))
    return out


def control_offsets(partition_dir: Path) -> list[int]:
    """The offsets control batches (transaction markers) take, ascending."""
    out: list[int] = []
    for _, _, raw in read_batches(partition_dir):
        header = BatchHeader.parse(raw)
        if header.is_control:
            out.extend(range(header.base_offset, header.last_offset + 1))
    return out


def producer_batches(partition_dir: Path) -> list[tuple[int, int, int, int, int]]:
    """(base offset, last offset, producer id, producer epoch, base sequence) of each
    valid batch an idempotent producer wrote."""
    out = []
    for _, _, raw in read_batches(partition_dir):
        header = BatchHeader.parse(raw)
        if header.producer_id >= 0 and not header.is_control:
            out.append((header.base_offset, header.last_offset, header.producer_id,
                        header.producer_epoch, header.base_sequence))
    return out


def partition_dirs(data_dir: Path, topic: str, partition: int) -> list[Path]:
    path = Path(data_dir) / "partitions" / f"{topic}-{partition}"
    return [path] if path.is_dir() else []
