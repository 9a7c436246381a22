"""Compacting one partition log: the I/O around the rules in compaction.py.

A pass has three steps so the slow middle one can run off the event loop:

1. ``select`` (on the loop, cheap): which closed segments are cleanable (below the
   last stable offset) and whether the dirty ratio makes a pass worth it; snapshots
   what the pass will read, the aborted transactions among it included.
2. ``prepare`` (any thread): reads the segments through its own file descriptors,
   builds the key -> latest offset map, writes the cleaned segments (and their
   aborted-transaction indexes) into the staging directory and fsyncs them. It never
   touches the live log's objects.
3. ``install`` (on the loop): if the log still holds the same segments and nothing
   below the map's limit was rewritten meanwhile (same leader-epoch entries),
   commits the swap (cleaned_swap) and puts the new segments in the log's list.
   Otherwise the staged files are thrown away and the next pass starts over.

The first dirty offset (where the last pass stopped) is kept in
``cleaner-offset-checkpoint`` in the partition directory, for the dirty ratio.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from kraft.storage import cleaned_swap, log_transactions
from kraft.storage.batch_rewrite import filler, trim
from kraft.storage.compaction import (
    KEEP_ALL,
    BatchRef,
    CleanerSettings,
    Copy,
    Filler,
    RecordRef,
    SegmentStats,
    cleanable_count,
    decide,
    group_segments,
    layout,
    note_latest,
    tombstones_expired,
    worth_cleaning,
)
from kraft.storage.compaction_txn import TxnCleaning
from kraft.storage.leader_epoch_cache import EpochEntry
from kraft.errors import CorruptBatchError, StorageError, UnsupportedCompressionError
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import HEADER_SIZE, BatchHeader, decode_records, iter_batches
from kraft.storage.segment import Segment
from kraft.storage.txn_index import TxnIndexEntry

CHECKPOINT_NAME = "cleaner-offset-checkpoint"
READ_CHUNK = 1024 * 1024


class CleanAborted(StorageError):
    """The log changed under a pass (or the pass was stopped): nothing was swapped."""


@dataclass(frozen=True)
class Source:
    """One segment as the pass reads it: by path, up to the size it had at ``select``."""

    base_offset: int
    next_offset: int
    size: int
    log_path: Path
    last_modified_ms: int


@dataclass
class CleanJob:
    directory: Path
    run: tuple[Segment, ...]  # the cleanable segments, compared by identity at install
    sources: tuple[Source, ...]  # the same, as files
    rest: tuple[Source, ...]  # later segments, read for the key map only
    map_limit: int  # the last stable offset: records at or after it do not count
    epochs: tuple[EpochEntry, ...]  # leader-epoch entries below map_limit at select
    settings: CleanerSettings
    segment_bytes: int
    index_interval_bytes: int
    now_ms: int
    aborted: tuple[TxnIndexEntry, ...] = ()  # aborted transactions overlapping what the pass reads


@dataclass
class Staged:
    groups: list[tuple[tuple[int, ...], bool]] = field(default_factory=list)  # (replaced bases, rewritten)
    bytes_before: int = 0
    bytes_after: int = 0
    records_removed: int = 0

    @property
    def rewritten(self) -> bool:
        return any(rewritten for _, rewritten in self.groups)

    @property
    def replaced_bases(self) -> list[int]:
        return [b for bases, rewritten in self.groups if rewritten for b in bases]

    @property
    def new_bases(self) -> list[int]:
        return [bases[0] for bases, rewritten in self.groups if rewritten]


@dataclass(frozen=True)
class CleanResult:
    installed: bool
    segments_before: int = 0
    segments_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    records_removed: int = 0


# -- the cleaner checkpoint ----------------------------------------------------------------------

def first_dirty_offset(directory: Path) -> int:
    try:
        return int((Path(directory) / CHECKPOINT_NAME).read_text().strip())
    except (OSError, ValueError):
        return -1  # never cleaned: everything is dirty


def _write_first_dirty(directory: Path, offset: int) -> None:
    path = Path(directory) / CHECKPOINT_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{offset}\n")
    os.replace(tmp, path)  # losing it only costs one extra pass: no fsync


# -- 1. select ---------------------------------------------------------------------------------

def select(log: PartitionLog, high_watermark: int, settings: CleanerSettings, now_ms: int,
           *, force: bool = False) -> CleanJob | None:
    """The pass worth running now, or None. ``force`` ignores min.cleanable.dirty.ratio."""
    if not settings.compact:
        return None
    segments = log.segments
    stats = [SegmentStats(s.base_offset, s.next_offset, s.size) for s in segments]
    limit = log.last_stable_offset(high_watermark)  # never an open transaction's data
    count = cleanable_count(stats, limit)
    if count == 0:
        return None
    first_dirty = max(first_dirty_offset(log.directory.path), log.log_start_offset)
    if first_dirty > log.log_end_offset:
        first_dirty = log.log_start_offset  # a truncation went below it: start over
    if not force and not worth_cleaning(stats[:count], first_dirty, settings.min_cleanable_dirty_ratio):
        return None
    sources = tuple(_source(s) for s in segments)
    return CleanJob(
        directory=log.directory.path, run=segments[:count], sources=sources[:count],
        rest=tuple(s for s in sources[count:] if s.base_offset < limit),
        map_limit=limit, epochs=_epochs_below(log, limit), settings=settings,
        segment_bytes=log.config.segment_bytes, index_interval_bytes=log.config.index_interval_bytes,
        now_ms=now_ms, aborted=tuple(log_transactions.index_entries(segments, log.log_start_offset, limit)),
    )


def _source(segment: Segment) -> Source:
    path = segment.log.path
    return Source(segment.base_offset, segment.next_offset, segment.size, path,
                  os.stat(path).st_mtime_ns // 1_000_000)


def _epochs_below(log: PartitionLog, limit: int) -> tuple[EpochEntry, ...]:
    return tuple(e for e in log.leader_epoch_cache.entries if e.start_offset < limit)


# -- 2. prepare --------------------------------------------------------------------------------

def prepare(job: CleanJob, stopped: Callable[[], bool] = lambda: False) -> Staged:
    """Write the cleaned segments into the staging directory (see the module doc)."""
    latest: dict[bytes, int] = {}
    last_of_producer: dict[int, int] = {}
    txns = TxnCleaning(job.aborted)
    for source in job.sources + job.rest:
        for batch in _batch_refs(source, job.map_limit, stopped):
            if batch.is_control:
                txns.marker(batch, expired=False, must_keep=True)  # only moves past the transaction
            elif not txns.is_aborted(batch):
                note_latest(latest, batch, job.map_limit)
            if batch.producer_id >= 0:
                last_of_producer[batch.producer_id] = batch.base_offset
    producers_last = set(last_of_producer.values())
    staging = cleaned_swap.fresh_staging(job.directory)
    staged = Staged()
    stats = [SegmentStats(s.base_offset, s.next_offset, s.size) for s in job.sources]
    txns = TxnCleaning(job.aborted)  # one walk over every group, in offset order
    for group in group_segments(stats, job.segment_bytes):
        sources = [job.sources[i] for i in group]
        staged.groups.append(_clean_group(staging, sources, latest, producers_last, txns, job, stopped, staged))
    return staged


def _clean_group(staging: Path, sources: list[Source], latest: dict[bytes, int], producers_last: set[int],
                 txns: TxnCleaning, job: CleanJob, stopped: Callable[[], bool],
                 staged: Staged) -> tuple[tuple[int, ...], bool]:
    bases = tuple(s.base_offset for s in sources)
    before = sum(s.size for s in sources)
    removed = 0
    aborted_kept: list[TxnIndexEntry] = []

    def decided() -> Iterator[tuple[Any, str | tuple[int, ...] | None]]:
        nonlocal removed
        for source in sources:
            expired = tombstones_expired(source.last_modified_ms, job.now_ms, job.settings.delete_retention_ms)
            for batch in _batch_refs(source, None, stopped):
                must_keep = batch.base_offset in producers_last
                decision: str | tuple[int, ...] | None
                if batch.is_control:
                    keep, entry = txns.marker(batch, expired, must_keep)
                    decision = KEEP_ALL if keep else None
                    if entry is not None:
                        aborted_kept.append(entry)
                else:
                    decision = decide(batch, latest, expired, must_keep, txns.is_aborted(batch))
                    if decision is not None:
                        txns.kept(batch)
                # decide() keeps whole (KEEP_ALL) every batch without records
                if batch.records is not None and (decision is None or isinstance(decision, tuple)):
                    removed += len(batch.records) - len(decision or ())
                yield batch, decision

    segment = Segment.create(staging, bases[0], job.index_interval_bytes)
    changed = len(sources) > 1
    try:
        for piece in layout(decided()):
            if isinstance(piece, Copy):
                data = piece.batch.payload
            elif isinstance(piece, Filler):
                data = filler(*piece)
                changed = True
            else:
                data = trim(piece.batch.payload, piece.kept)
                changed = True
            segment.append(data)
        # always written, even empty: it must replace the file of the segment it succeeds
        segment.txn_index.write_all(aborted_kept)
        segment.seal()
    finally:
        segment.close()
    if segment.next_offset != sources[-1].next_offset:
        raise CorruptBatchError(f"cleaned segment {bases[0]} ends at {segment.next_offset}, "
                                f"expected {sources[-1].next_offset}")
    if not changed:
        segment.delete()
        return bases, False
    os.utime(segment.log.path, ns=(job.now_ms * 1_000_000, max(s.last_modified_ms for s in sources) * 1_000_000))
    staged.bytes_before += before
    staged.bytes_after += segment.size
    staged.records_removed += removed
    return bases, True


def _batch_refs(source: Source, limit: int | None, stopped: Callable[[], bool]) -> Iterator[BatchRef]:
    """The batches of ``source`` below ``limit``, decoded to what the rules need."""
    for data, header in _read_batches(source):
        if limit is not None and header.base_offset >= limit:
            return
        if stopped():
            raise CleanAborted("cleaning stopped")
        try:
            records = tuple(RecordRef(r.offset, r.key, r.value is None) for r in decode_records(data)
                            if r.offset is not None)  # always set: decoded from the log
        except UnsupportedCompressionError:
            records = None
        marker = log_transactions.marker_of(data) if header.is_control else None
        yield BatchRef(header.base_offset, header.last_offset, header.leader_epoch, header.base_timestamp,
                       header.max_timestamp, header.producer_id, records, header.is_control, data,
                       header.is_transactional, None if marker is None else marker.commit)


def _read_batches(source: Source) -> Iterator[tuple[bytes, BatchHeader]]:
    """Whole batches of a segment file up to ``source.size``, read through a private
    descriptor (the log may roll, delete or truncate meanwhile: install checks)."""
    try:
        fd = os.open(source.log_path, os.O_RDONLY)
    except FileNotFoundError:
        raise CleanAborted(f"{source.log_path.name} is gone") from None
    try:
        pos = 0
        while pos < source.size:
            chunk = os.pread(fd, min(READ_CHUNK, source.size - pos), pos)
            used = 0
            for at, header in iter_batches(chunk):
                yield chunk[at:at + header.size], header
                used = at + header.size
            if used == 0:  # one batch larger than the chunk
                header = BatchHeader.parse(os.pread(fd, HEADER_SIZE, pos))
                data = os.pread(fd, header.size, pos)
                if len(data) != header.size:
                    raise CleanAborted(f"{source.log_path.name} shrank under the cleaner")
                yield data, header
                used = header.size
            pos += used
    finally:
        os.close(fd)


# -- 3. install --------------------------------------------------------------------------------

def install(log: PartitionLog, job: CleanJob, staged: Staged) -> CleanResult:
    """Swap the staged segments in, on the loop; nothing happens if the log moved on."""
    directory = job.directory
    if not staged.rewritten:
        cleaned_swap.discard_staging(directory)
        _write_first_dirty(directory, job.sources[-1].next_offset)
        return CleanResult(False, len(job.run), len(job.run))
    if log.log_end_offset < job.map_limit or _epochs_below(log, job.map_limit) != job.epochs:
        cleaned_swap.discard_staging(directory)
        return CleanResult(False)
    by_base = {s.base_offset: s for s in job.run}

    def move_into_place() -> list[Segment]:
        cleaned_swap.commit(directory, staged.replaced_bases, staged.new_bases)
        cleaned_swap.complete(directory)
        out: list[Segment] = []
        for bases, rewritten in staged.groups:
            if rewritten:
                out.append(Segment.open(directory, bases[0], job.index_interval_bytes))
            else:
                out.extend(by_base[b] for b in bases)
        return out

    if not log.replace_segments(job.run, move_into_place):
        cleaned_swap.discard_staging(directory)
        return CleanResult(False)
    _write_first_dirty(directory, job.sources[-1].next_offset)
    return CleanResult(True, len(job.run), len(staged.groups), staged.bytes_before, staged.bytes_after,
                       staged.records_removed)


def clean(log: PartitionLog, high_watermark: int, settings: CleanerSettings, now_ms: int,
          *, force: bool = False) -> CleanResult | None:
    """One whole pass on the calling thread (tests, tools); None when none was due."""
    job = select(log, high_watermark, settings, now_ms, force=force)
    if job is None:
        return None
    try:
        staged = prepare(job)
    except BaseException:
        cleaned_swap.discard_staging(job.directory)
        raise
    return install(log, job, staged)
