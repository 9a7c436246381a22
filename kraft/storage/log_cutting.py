"""Cutting a partition's log: truncation (a follower diverged, a repair), a restart at
a new offset (a follower far behind), retention, the log start moved by DeleteRecords,
and log compaction's swap of closed segments. Part of PartitionLog (partition_log.py),
whose state it changes: segments, leader epochs, producers, damage, the log start."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kraft.errors import OffsetOutOfRange
from kraft.storage import producer_snapshots
from kraft.storage.damage import Damage
from kraft.storage.leader_epoch_cache import LeaderEpochCache
from kraft.storage.log_config import LogConfig
from kraft.storage.log_directory import LogDirectory
from kraft.storage.producer_state import ProducerStateTable
from kraft.storage.retention_policy import SegmentStats, segments_below_start, segments_to_delete
from kraft.storage.roll_fsyncs import RollFsyncs
from kraft.storage.segment import Segment


class LogCutting:
    """PartitionLog's cuts; the state below is PartitionLog's own."""

    directory: LogDirectory
    config: LogConfig
    leader_epoch_cache: LeaderEpochCache
    producers: ProducerStateTable
    roll_fsyncs: RollFsyncs
    cuts: int  # truncations and segment swaps so far: a scan of older bytes is stale
    _segments: list[Segment]
    _damage: list[Damage]
    _start_floor: int

    if TYPE_CHECKING:
        @property
        def log_start_offset(self) -> int: ...

        @property
        def log_end_offset(self) -> int: ...

        def roll(self) -> Segment: ...

        def _check_open(self) -> None: ...

    def truncate_to(self, offset: int) -> int:
        """Drop every batch holding ``offset`` or later (a batch straddling it goes
        whole); return the new log end offset."""
        self._check_open()
        if offset >= self.log_end_offset:
            # nothing to cut, but an epoch that began here (and wrote nothing) goes too
            self.leader_epoch_cache.truncate_from_end(max(offset, self.log_end_offset))
            return self.log_end_offset
        if offset < self.log_start_offset:
            self.truncate_fully_and_start_at(offset)
            return offset
        producer_snapshots.delete_after(self.directory.path, offset)  # first: crash-safe order
        self.cuts += 1
        while self._segments[-1].base_offset > offset:
            self._segments.pop().delete()
        self._segments[-1].truncate_to(offset)
        self.roll_fsyncs.cut(self._segments)
        self.leader_epoch_cache.truncate_from_end(self.log_end_offset)
        # what the producers wrote in the cut batches is forgotten: rebuild from what is left
        self.producers = producer_snapshots.load(self.directory.path, self._segments)
        if self.log_end_offset < self._start_floor:  # the cut took the batch the log start is in
            self.truncate_fully_and_start_at(self._start_floor)
        return self.log_end_offset

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Empty the log and restart it at ``offset`` (a follower far behind the leader's log start)."""
        self._check_open()
        producer_snapshots.delete_after(self.directory.path, -1)
        self.cuts += 1
        for segment in self._segments:
            segment.delete()
        self._segments = [Segment.create(self.directory.path, offset, self.config.index_interval_bytes)]
        self.roll_fsyncs.cut(self._segments)
        self.leader_epoch_cache.clear()
        self.producers = ProducerStateTable()
        self._damage = []
        self._start_floor = offset
        self.directory.write_log_start(offset)  # an older, larger start must not come back

    def apply_retention(self, now_ms: int, retention_ms: int | None = None, retention_bytes: int | None = None,
                        max_offset: int | None = None) -> int:
        """Delete whole old segments per retention.ms / retention.bytes (see
        retention_policy), never past ``max_offset``; return how many went."""
        self._check_open()
        if not self._oldest_may_go(now_ms, retention_ms, retention_bytes, max_offset):
            return 0
        stats = [SegmentStats(s.base_offset, s.next_offset, s.size, s.max_timestamp) for s in self._segments]
        count = segments_to_delete(stats, now_ms, retention_ms, retention_bytes, max_offset)
        if count == 0:
            return 0
        if count == len(self._segments):
            self.roll()  # the log keeps an empty active segment at its end
        self._delete_oldest(count)
        return count

    def _oldest_may_go(self, now_ms: int, retention_ms: int | None, retention_bytes: int | None,
                       max_offset: int | None) -> bool:
        """segments_to_delete's first step alone: when the oldest segment stays, they all
        do. Every log is asked every retention pass, most with nothing to delete: this
        keeps the pass to a look at one segment each (thousands of partitions)."""
        first = self._segments[0]
        if first.size == 0 or (max_offset is not None and first.next_offset > max_offset):
            return False
        if retention_ms is not None and retention_ms >= 0 and now_ms - first.max_timestamp > retention_ms:
            return True
        return retention_bytes is not None and retention_bytes >= 0 \
            and sum(s.size for s in self._segments) - first.size >= retention_bytes

    def advance_start(self, offset: int) -> bool:
        """DeleteRecords on the leader, or a follower taking its leader's log start: the
        log starts at ``offset`` from now on (durably, before this returns) and the segments
        wholly below it are deleted. Never moves back; False when it did not move. An
        offset past the log end raises OffsetOutOfRange (the caller bounds it by the high
        watermark first)."""
        self._check_open()
        if offset <= self.log_start_offset:
            return False
        if offset > self.log_end_offset:
            raise OffsetOutOfRange.outside(offset, self.log_start_offset, self.log_end_offset)
        self.directory.write_log_start(offset)  # first: the deletions can be redone, the promise not
        self._start_floor = offset
        self._after_start_moved()
        return True

    def _after_start_moved(self) -> None:
        last = self._segments[-1]
        if last.next_offset <= self.log_start_offset and not last.is_empty:
            self.roll()  # the whole log is below the start: keep an empty segment at its end
        count = segments_below_start([SegmentStats(s.base_offset, s.next_offset, s.size, s.max_timestamp)
                                      for s in self._segments], self.log_start_offset)
        if count:
            self._delete_oldest(count)
        else:
            self._damage = [d for d in self._damage if d.end > self.log_start_offset]
            self.leader_epoch_cache.truncate_from_start(self.log_start_offset)

    def _delete_oldest(self, count: int) -> None:
        doomed, self._segments = self._segments[:count], self._segments[count:]
        for segment in doomed:
            segment.delete()
        self._damage = [d for d in self._damage if d.end > self.log_start_offset]
        self.leader_epoch_cache.truncate_from_start(self.log_start_offset)
        # the producer table keeps what the deleted batches taught it (Kafka does too)
        producer_snapshots.delete_before(self.directory.path, self._segments[0].base_offset)

    def replace_segments(self, old: tuple[Segment, ...], install: Callable[[], list[Segment]]) -> bool:
        """Log compaction (log_cleaner): swap the run ``old`` of closed segments for the
        list ``install()`` returns once it has moved the cleaned files into place (it may
        reuse some of ``old``). Offsets, log start and log end stay as they are. False,
        and ``install`` not called, when ``old`` is no longer a run of closed segments
        here (retention or truncation got there first)."""
        self._check_open()
        at = next((i for i, s in enumerate(self._segments) if s is old[0]), None) if old else None
        if at is None or at + len(old) >= len(self._segments) or any(
                a is not b for a, b in zip(self._segments[at:at + len(old)], old)):
            return False
        new = install()
        self.cuts += 1
        self._segments[at:at + len(old)] = new
        reused = {id(s) for s in new}
        for segment in old:
            if id(segment) not in reused:
                segment.close()  # its files were replaced by path: never delete() them
        return True
