"""Log compaction (cleanup.policy=compact), the rules only: what a cleaning pass keeps.

After Kafka's log cleaner. Pure: no I/O and no clock (``now_ms`` is passed in);
log_cleaner.py reads and writes the files.

- The latest record of each key wins. The key map covers every record below the
  last stable offset (the high watermark, or lower while a transaction is open or
  its outcome unreplicated), the active segment included, so a key updated there
  drops its older values from the cleaned segments. Above it nothing counts: an
  uncommitted update may still be truncated away, an open transaction aborted.
- Only closed segments lying wholly below that offset are cleaned; the active
  segment never is, nor the data of an open transaction.
- Records of aborted transactions count for no key and are removed. A COMMIT or
  ABORT marker stays while data of its transaction remains before it, and then
  until delete.retention.ms has passed, like a tombstone (compaction_txn.py).
- A tombstone (null value) that is its key's latest record is kept until its
  segment is older than ``delete.retention.ms`` (by the segment's last-modified
  time, which a rewrite preserves), then removed.
- Records with a null key are kept as they are: they have no key to be superseded
  by (produce does not refuse them here, unlike Kafka).
- Offsets never change. A batch keeps its header (base offset, last offset delta,
  leader epoch, producer fields, timestamps) and loses only records. A run of
  batches that lose every record becomes one header-only "filler" batch per
  leader epoch covering the same offsets, so batches stay contiguous: recovery,
  segment chaining and follower appends keep their gapless checks, and the leader
  epoch of every offset survives. A producer's last batch is kept (header-only if
  need be), as Kafka does, so its last sequence survives for idempotence.
- Other control batches and batches this log cannot decode (compressed) are kept
  whole, unless aborted.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

INT32_MAX = 2**31 - 1
DEFAULT_DELETE_RETENTION_MS = 86_400_000
DEFAULT_MIN_CLEANABLE_DIRTY_RATIO = 0.5


@dataclass(frozen=True)
class CleanerSettings:
    """The topic configs compaction follows (Kafka names in from_topic_configs)."""

    compact: bool = False
    delete: bool = True
    delete_retention_ms: int = DEFAULT_DELETE_RETENTION_MS
    min_cleanable_dirty_ratio: float = DEFAULT_MIN_CLEANABLE_DIRTY_RATIO

    @classmethod
    def from_topic_configs(cls, configs: Mapping[str, str]) -> CleanerSettings:
        policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
        return cls(
            compact="compact" in policy,
            delete="delete" in policy,
            delete_retention_ms=int(configs.get("delete.retention.ms", DEFAULT_DELETE_RETENTION_MS)),
            min_cleanable_dirty_ratio=float(configs.get("min.cleanable.dirty.ratio",
                                                        DEFAULT_MIN_CLEANABLE_DIRTY_RATIO)),
        )


class RecordRef(NamedTuple):
    offset: int
    key: bytes | None
    is_tombstone: bool


class BatchRef(NamedTuple):
    base_offset: int
    last_offset: int
    leader_epoch: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int = -1
    records: tuple[RecordRef, ...] | None = None  # None: not decodable here, kept whole
    is_control: bool = False
    payload: Any = None  # the caller's handle on the batch bytes; never looked at here
    is_transactional: bool = False
    marker: bool | None = None  # a control batch's marker: True COMMIT, False ABORT; None: no marker


class SegmentStats(NamedTuple):
    base_offset: int
    next_offset: int
    size: int


# -- which segments, and when --------------------------------------------------------------

def cleanable_count(segments: Sequence[SegmentStats], high_watermark: int) -> int:
    """How many leading segments may be cleaned: closed (never the last, active one),
    non-empty, and wholly below the high watermark."""
    count = 0
    for segment in segments[:-1]:
        if segment.size == 0 or segment.next_offset > high_watermark:
            break
        count += 1
    return count


def dirty_ratio(cleanable: Sequence[SegmentStats], first_dirty_offset: int) -> float:
    """Share of the cleanable bytes not yet cleaned (at or after ``first_dirty_offset``)."""
    total = sum(s.size for s in cleanable)
    if total == 0:
        return 0.0
    dirty = sum(s.size for s in cleanable if s.next_offset > first_dirty_offset)
    return dirty / total


def worth_cleaning(cleanable: Sequence[SegmentStats], first_dirty_offset: int, min_ratio: float) -> bool:
    ratio = dirty_ratio(cleanable, first_dirty_offset)
    return ratio > 0 and ratio >= min_ratio


def group_segments(segments: Sequence[SegmentStats], max_bytes: int) -> list[range]:
    """Consecutive segments merged into one cleaned segment while their current sizes
    fit ``max_bytes`` (segment.bytes) and relative offsets still fit an int32, as
    Kafka groups them: small cleaned segments merge on a later pass."""
    groups: list[range] = []
    start = 0
    while start < len(segments):
        end, size = start + 1, segments[start].size
        while (end < len(segments) and size + segments[end].size <= max_bytes
               and segments[end].next_offset - 1 - segments[start].base_offset <= INT32_MAX):
            size += segments[end].size
            end += 1
        groups.append(range(start, end))
        start = end
    return groups


def tombstones_expired(segment_last_modified_ms: int, now_ms: int, delete_retention_ms: int) -> bool:
    return now_ms - segment_last_modified_ms > delete_retention_ms


# -- which records -------------------------------------------------------------------------

def note_latest(latest: dict[bytes, int], batch: BatchRef, limit: int) -> None:
    """Add ``batch``'s keyed records below ``limit`` to the key -> latest offset map."""
    if batch.records is None or batch.is_control:
        return
    for record in batch.records:
        if record.key is not None and record.offset < limit:
            latest[record.key] = record.offset


def record_survives(record: RecordRef, latest: Mapping[bytes, int], expired: bool) -> bool:
    if record.key is None:
        return True
    if latest.get(record.key, record.offset) > record.offset:
        return False  # a later value of this key exists
    return not (record.is_tombstone and expired)


KEEP_ALL = "all"


def decide(batch: BatchRef, latest: Mapping[bytes, int], expired: bool,
           must_keep: bool = False, aborted: bool = False) -> str | tuple[int, ...] | None:
    """KEEP_ALL, the indexes of the surviving records (possibly none, when the batch
    must stay as a header), or None when the batch goes entirely. Markers are decided
    by compaction_txn; an ``aborted`` transaction's batch loses every record."""
    if batch.is_control:
        return KEEP_ALL
    if aborted:
        if not must_keep:
            return None
        return KEEP_ALL if batch.records is None else ()  # a header needs the records opened
    if batch.records is None:
        return KEEP_ALL
    kept = tuple(i for i, r in enumerate(batch.records) if record_survives(r, latest, expired))
    if len(kept) == len(batch.records):
        return KEEP_ALL
    if kept or must_keep:
        return kept
    return None


class Copy(NamedTuple):
    batch: BatchRef


class Trim(NamedTuple):
    batch: BatchRef
    kept: tuple[int, ...]


class Filler(NamedTuple):
    """One header-only batch standing for dropped batches of one leader epoch."""

    base_offset: int
    last_offset: int
    leader_epoch: int
    base_timestamp: int
    max_timestamp: int


Piece = Copy | Trim | Filler


def layout(decided: Iterable[tuple[BatchRef, str | tuple[int, ...] | None]]) -> Iterator[Piece]:
    """The cleaned segment's batches, in order, covering exactly the input's offsets.
    Streams: only the current run of dropped batches is held."""
    run: Filler | None = None
    for batch, decision in decided:
        if decision is None:
            if run is not None and run.leader_epoch == batch.leader_epoch and run.last_offset + 1 == batch.base_offset:
                run = run._replace(last_offset=batch.last_offset,
                                   max_timestamp=max(run.max_timestamp, batch.max_timestamp))
                continue
            if run is not None:
                yield run
            run = Filler(batch.base_offset, batch.last_offset, batch.leader_epoch,
                         batch.base_timestamp, batch.max_timestamp)
            continue
        if run is not None:
            yield run
            run = None
        yield Copy(batch) if isinstance(decision, str) else Trim(batch, decision)  # str: KEEP_ALL
    if run is not None:
        yield run
