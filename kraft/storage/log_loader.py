"""Loading a partition's segments at open, with crash recovery when needed.

After a clean shutdown (marker present) every segment trusts its index files and
only walks the batches after its last index entry. After kill -9 every segment
from the recovery point on (at least the newest) is checked batch by batch (CRC,
contiguous offsets) and its torn or corrupt tail cut; segments below the recovery
point were fsynced. A rolled segment is fsynced off the event loop, so the newest
sealed ones may be above it. The leader-epoch cache is brought back in line with
whatever the log now holds.

A log whose directory partition_dir.prepare has just made (`new_log`) has nothing on
disk to read but its id: its first segment is made, and nothing is listed, recovered or
read. A crash anywhere after that leaves a directory this loader opens as any other: an
id and no segment (a new first segment is made), a .log file with no index files (a
segment's index files are made at their first entry; see Segment._load_indexes).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from kraft.storage import cleaned_swap, producer_snapshots
from kraft.storage.damage import Damage
from kraft.storage.leader_epoch_cache import (
    CHECKPOINT_NAME,
    LeaderEpochCache,
    read_checkpoint,
)
from kraft.storage.log_directory import LogDirectory
from kraft.storage.producer_state import ProducerStateTable
from kraft.storage.record_batch import BatchHeader
from kraft.storage.segment import Segment


class Loaded(NamedTuple):
    segments: list[Segment]
    epochs: LeaderEpochCache
    producers: ProducerStateTable
    lost: list[Damage]  # ranges found damaged at load (see load_segments)
    recovery_point: int  # RollFsyncs
    log_start: int | None  # the log-start-offset file's, if any


def load(directory: LogDirectory, index_interval_bytes: int) -> Loaded:
    """What the directory holds, recovered after kill -9 or a power cut. One listing of
    the directory says which files there are to read (LogDirectory.listed)."""
    with directory.listed():
        if directory.has(cleaned_swap.STAGING_NAME) or directory.has(cleaned_swap.SWAP_NAME):
            cleaned_swap.recover(directory.path)  # a compaction swap cut short: finish or drop it
            directory.relist()
        clean = directory.was_clean_shutdown()
        point = directory.read_recovery_point()
        segments, epochs, lost = load_segments(directory, index_interval_bytes, point)
        doubt = None if clean else doubtful_start(segments, point)
        producers = producer_snapshots.load(directory.path, segments, doubt, directory.names)
        return Loaded(segments, epochs, producers, lost, point, directory.read_log_start())


def new_log(directory: LogDirectory, index_interval_bytes: int) -> Loaded:
    """A log in a directory made just now, empty but for its id (partition_dir.Prepared.
    fresh): no segment, checkpoint, snapshot, recovery point or log start to read."""
    segments = [Segment.create_new(directory.path, 0, index_interval_bytes)]
    epochs = LeaderEpochCache(directory.path / CHECKPOINT_NAME, [])
    return Loaded(segments, epochs, ProducerStateTable(), [], 0, None)


def load_segments(directory: LogDirectory, index_interval_bytes: int, recovery_point: int
                  ) -> tuple[list[Segment], LeaderEpochCache, list[Damage]]:
    """The segments, the epoch cache, and what was lost: a closed segment found cut short
    (its index unusable, its data damaged) drops everything after it, so the offsets stay
    gapless, and the dropped range is reported as damage (the replica must leave the ISR
    and fetch it again)."""
    clean = directory.was_clean_shutdown()
    checkpoint = directory.path / CHECKPOINT_NAME
    entries = read_checkpoint(checkpoint) if directory.has(CHECKPOINT_NAME) else None
    # in memory while the batches are walked (an epoch change per batch run would be a
    # durable write each), written once at the end if it changed
    epochs = LeaderEpochCache(None, entries or [])

    def learn(header: BatchHeader) -> None:
        epochs.assign(header.leader_epoch, header.base_offset)

    bases = directory.segment_bases()
    names = directory.names
    if not bases:
        segments = [Segment.create(directory.path, 0, index_interval_bytes)]
    elif clean:
        segments = [Segment.open(directory.path, base, index_interval_bytes, names=names) for base in bases]
        segments[-1].log.on_disk()  # fsynced before the marker was made: a clean stop need not again
    else:
        doubtful = _first_unflushed(bases, recovery_point)
        segments = [Segment.open(directory.path, base, index_interval_bytes, names=names)
                    for base in bases[:doubtful]]
        epochs.truncate_from_end(bases[doubtful])  # re-learnt from the batches that survive
        for base in bases[doubtful:]:
            segments.append(Segment.open(directory.path, base, index_interval_bytes, recover=True, on_batch=learn,
                                         names=names))
        _recover_before_empty_tail(segments, epochs, learn)
    lost = _drop_after_gap(segments)
    if entries is None and any(not s.is_empty for s in segments):
        epochs.clear()  # checkpoint missing or unreadable: re-learn from every batch header
        for segment in segments:
            for _, header in segment.log.batches(0):
                learn(header)
    epochs.truncate_from_end(segments[-1].next_offset)
    epochs.truncate_from_start(segments[0].base_offset)
    epochs.persist_to(checkpoint, changed=list(epochs.entries) != (entries or []))
    return segments, epochs, lost


def doubtful_start(segments: list[Segment], recovery_point: int) -> int:
    """After kill -9 or a power cut: the first offset recovery could not trust (the
    segments load_segments checked, or may have), from which the producer table and the
    transaction indexes are replayed."""
    bases = [s.base_offset for s in segments]
    at = _first_unflushed(bases, recovery_point)
    if len(segments) > 1 and segments[-1].is_empty:
        at = min(at, len(segments) - 2)  # see _recover_before_empty_tail
    return bases[at]


def _first_unflushed(bases: list[int], recovery_point: int) -> int:
    """Index of the first segment that may not be on disk whole: the first at or past
    the recovery point, and never later than the newest."""
    newest = len(bases) - 1
    return next((i for i, base in enumerate(bases) if base >= recovery_point), newest)


def _recover_before_empty_tail(
    segments: list[Segment], epochs: LeaderEpochCache, learn: Callable[[BatchHeader], None]
) -> None:
    """A crash right after a roll or a cut leaves the newest segment empty; then the
    torn tail, if any, is in the one before it."""
    if len(segments) < 2 or not segments[-1].is_empty:
        return
    previous = segments[-2]
    epochs.truncate_from_end(previous.base_offset)
    previous.recover(learn)
    if previous.next_offset != segments[-1].base_offset:
        segments.pop().delete()  # an empty segment past the cut would leave a gap


def _drop_after_gap(segments: list[Segment]) -> list[Damage]:
    """A segment cut by recovery (its indexes were unusable and its data damaged)
    leaves a hole; offsets must stay gapless, so everything after the hole goes."""
    for i in range(len(segments) - 1):
        if segments[i].next_offset != segments[i + 1].base_offset:
            start, end = segments[i].next_offset, segments[-1].next_offset
            for segment in segments[i + 1:]:
                segment.delete()
            del segments[i + 1:]
            return [Damage(start, max(end, start + 1),
                           f"segment {segments[i].base_offset} was cut short at load; later segments dropped")]
    return []
