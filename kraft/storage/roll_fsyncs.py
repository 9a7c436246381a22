"""Which of a log's rolled segments are known to be on disk.

A rolled segment is fsynced either at once (no scheduler given) or later, by the
owner's worker thread (ReplicaManager: a 128 MiB fsync would stall its event loop).
The recovery point is the offset below which every segment has been fsynced; its
file tells recovery after kill -9 where to start checking (log_loader). It only moves
forward in roll order, and back when a cut makes a fsynced segment's tail doubtful.
"""
from __future__ import annotations

from typing import Any

import threading
from collections.abc import Callable

from kraft.storage.log_directory import LogDirectory
from kraft.storage.segment import Segment

Schedule = Callable[[Any, Segment], None]  # (the PartitionLog, the sealed segment)


class RollFsyncs:
    def __init__(self, directory: LogDirectory, point: int) -> None:
        """`point`: the recovery point read at open (0 for a new log: nothing is on disk)."""
        self.directory = directory
        self.schedule: Schedule | None = None
        self.pending: list[Segment] = []  # handed to `schedule`, fsync not finished
        self._point = point
        self._lock = threading.Lock()  # the file is written from worker threads too
        # made durable before the recovery point moves past it (the leader-epoch checkpoint)
        self.before_write: Callable[[], None] | None = None

    @property
    def deferred(self) -> bool:
        return self.schedule is not None

    def rolled(self, log: object, sealed: Segment) -> None:
        """After `sealed` was sealed and its successor created."""
        if self.schedule is None:
            self.directory.fsync()
            self._set(sealed.next_offset)
            self.write()
        else:
            self.pending.append(sealed)
            self.schedule(log, sealed)

    def fsync(self, segment: Segment) -> bool:
        """Worker thread. False when the segment was closed meanwhile (deleted,
        truncated away, replaced by compaction, or the log closed)."""
        if segment.log.closed:  # a closed file has nothing left unsynced to fail on
            return False
        try:
            self.directory.sync_identity()
            segment.flush()
            self.directory.fsync()
        except (OSError, ValueError, TypeError):  # closed meanwhile: no fd, or a closed one
            return False
        return True

    def fsynced(self, segment: Segment, ok: bool, segments: list[Segment]) -> bool:
        """Event loop, after fsync(); `segments` is the log's list, [] once it is closed.
        True when the recovery point moved and its file should be rewritten."""
        if segment in self.pending:
            self.pending.remove(segment)
        if not ok or not segments or segment is segments[-1] or segment not in segments:
            return False
        point = segment.next_offset
        if self.pending:  # an older roll is still being fsynced
            point = min(point, self.pending[0].base_offset)
        if point <= self._point:
            return False
        self._set(point)
        return True

    def fsync_pending_now(self) -> None:
        """flush() and close(): everything appended so far is promised on disk."""
        self.directory.sync_identity()
        for segment in self.pending:
            segment.flush()

    def cut(self, segments: list[Segment]) -> None:
        """After a truncation: the segment holding the new end is no longer known whole."""
        self.pending = [s for s in self.pending if s in segments]
        base = segments[-1].base_offset
        if self._point > base:
            self._set(base)
            self.write()

    def write(self) -> None:
        """Any thread: the file gets the value current when it is written."""
        with self._lock:
            if self.before_write is not None:
                self.before_write()
            self.directory.write_recovery_point(self._point)

    def _set(self, offset: int) -> None:
        with self._lock:
            self._point = offset
