"""The leader-epoch cache (KIP-101, KIP-279): which epoch's leader wrote from which offset.

A replica keeps (epoch, start_offset) pairs, both strictly increasing, and persists
them in ``leader-epoch-checkpoint`` (Kafka's text format: version line, count
line, then "epoch start_offset" lines). After a leader change a follower asks the
new leader for the end offset of its own latest epoch and truncates there,
instead of trusting its high watermark.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from kraft.storage.log_directory import read_whole, replace_durably

CHECKPOINT_NAME = "leader-epoch-checkpoint"
CHECKPOINT_VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class EpochEntry(NamedTuple):
    epoch: int
    start_offset: int


class LeaderEpochCache:
    def __init__(self, path: Path | None, entries: list[EpochEntry] | None = None) -> None:
        self.path = path  # None keeps the cache in memory only
        self._entries: list[EpochEntry] = list(entries or [])
        # set by an owner with a worker for disk work (sync_with): a new epoch's entry is
        # written there, not on the caller's thread; _unsynced until it is
        self._schedule_sync: Callable[[LeaderEpochCache], None] | None = None
        self._unsynced = False
        self._sync_queued = False

    def sync_with(self, schedule: Callable[[LeaderEpochCache], None]) -> None:
        """From now on assign() keeps the new entry in memory and calls schedule(self);
        the owner runs sync() in a worker thread. Whoever writes a recovery point calls
        sync() first (RollFsyncs), and a clean close does: the file never lags data that
        recovery would not walk again. Truncations still write at once."""
        self._schedule_sync = schedule
        if self._unsynced and not self._sync_queued:  # changed at load (persist_to)
            self._sync_queued = True
            schedule(self)

    def sync(self, fsync: bool = True) -> None:
        """Write the checkpoint durably if an assign left it behind (any thread);
        `fsync=False` at a clean stop, whose one barrier makes it durable (fs_sync)."""
        self._sync_queued = False
        if not self._unsynced or self.path is None:
            return
        self._unsynced = False
        try:
            write_checkpoint(self.path, self._entries, fsync)
        except FileNotFoundError:
            if self.path.parent.exists():
                self._unsynced = True
                raise
            # the log was deleted meanwhile (its replica removed): nothing to keep
        except BaseException:
            self._unsynced = True
            raise

    def unsynced_again(self) -> None:
        """A sync(fsync=False) whose file system sync then failed: not durable after all."""
        self._unsynced = True

    @classmethod
    def load(cls, path: Path) -> LeaderEpochCache:
        """Read the checkpoint; a missing file gives an empty cache."""
        entries = read_checkpoint(path)
        return cls(path, entries if entries is not None else [])

    @property
    def entries(self) -> tuple[EpochEntry, ...]:
        return tuple(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1].epoch if self._entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> bool:
        """Record that ``epoch`` starts at ``start_offset``; True when the cache changed.

        Entries that would break monotonicity (an epoch >= this one, or a start
        offset >= this one) are dropped: they belong to a log suffix that was
        replaced.
        """
        if epoch < 0 or start_offset < 0:
            return False  # batches written without a leader epoch
        if self._entries:
            latest = self._entries[-1]
            if latest.epoch == epoch and latest.start_offset <= start_offset:
                return False
        kept = [e for e in self._entries if e.epoch < epoch and e.start_offset < start_offset]
        entries = [*kept, EpochEntry(epoch, start_offset)]
        if self._schedule_sync is None or self.path is None:
            self._replace(entries)
            return True
        # a follower's first batch of each epoch, and every leadership taken: thousands of
        # partitions at a restart, two fsyncs each, were seconds of a node's event loop
        self._entries, self._unsynced = entries, True
        if not self._sync_queued:
            self._sync_queued = True
            self._schedule_sync(self)
        return True

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """OffsetsForLeaderEpoch: ``(largest epoch <= requested, where it ends)``.

        The end of an epoch is the start offset of the next larger epoch; for the
        latest epoch it is the log end offset. An epoch newer than any known, or
        an empty cache, gives (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET).
        """
        if requested_epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if requested_epoch == self._entries[-1].epoch:
            return requested_epoch, log_end_offset
        epochs = [e.epoch for e in self._entries]
        higher = bisect_right(epochs, requested_epoch)
        if higher == len(epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        end = self._entries[higher].start_offset
        if higher == 0:
            return requested_epoch, end  # older than anything we know: end where we begin
        return self._entries[higher - 1].epoch, end

    def epoch_for(self, offset: int) -> int:
        """The epoch whose leader wrote ``offset`` (ListOffsets answers it with the offset);
        UNDEFINED_EPOCH before the first entry."""
        starts = [e.start_offset for e in self._entries]
        at = bisect_right(starts, offset) - 1
        return self._entries[at].epoch if at >= 0 else UNDEFINED_EPOCH

    def truncate_from_end(self, end_offset: int) -> None:
        """The log was cut to ``end_offset``: forget epochs starting at or after it."""
        if end_offset < 0 or not self._entries or self._entries[-1].start_offset < end_offset:
            return
        starts = [e.start_offset for e in self._entries]
        self._replace(self._entries[:bisect_left(starts, end_offset)])

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at ``start_offset``: the epoch covering it starts there,
        older entries go."""
        starts = [e.start_offset for e in self._entries]
        floor = bisect_right(starts, start_offset) - 1
        if floor < 0 or (floor == 0 and starts[0] == start_offset):
            return
        kept = EpochEntry(self._entries[floor].epoch, start_offset)
        self._replace([kept, *self._entries[floor + 1:]])

    def clear(self) -> None:
        if self._entries:
            self._replace([])

    def persist_to(self, path: Path, changed: bool) -> None:
        """From now on keep the checkpoint at ``path``. What a load changed (entries past
        the log's end or before its start dropped, entries learnt again from batches) is
        left unsynced, not written at once (Kafka flushes a truncation asynchronously,
        KAFKA-15046): the next load derives the same from the same files, and the file is
        written before any recovery point vouches for data past it (RollFsyncs) and at a
        clean close. A restart after a controlled shutdown changed every log the last node
        led, two fsyncs each, most of its opening threads' time."""
        self.path = path
        if changed:
            self._unsynced = True

    def _replace(self, entries: list[EpochEntry]) -> None:
        """Write first, then change what is in memory: a write that fails (a full disk,
        no descriptor left) leaves both as they were, so the caller's retry redoes it."""
        if self.path is not None:
            write_checkpoint(self.path, entries)
        self._entries = entries
        self._unsynced = False

    def __repr__(self) -> str:
        return f"LeaderEpochCache({self._entries})"


def read_checkpoint(path: Path) -> list[EpochEntry] | None:
    """Entries from a checkpoint file; None when it is missing or unreadable."""
    try:
        lines = read_whole(path).decode().splitlines()
        if int(lines[0]) != CHECKPOINT_VERSION or int(lines[1]) != len(lines) - 2:
            return None
        entries = [EpochEntry(*map(int, line.split())) for line in lines[2:]]
    except (FileNotFoundError, IndexError, ValueError, TypeError):
        return None
    for before, after in zip(entries, entries[1:]):
        if after.epoch <= before.epoch or after.start_offset <= before.start_offset:
            return None
    return entries


def write_checkpoint(path: Path, entries: list[EpochEntry], fsync: bool = True) -> None:
    """Replace the checkpoint atomically: write a temp file, fsync, rename, fsync the dir.
    `fsync=False`: written in place (one file operation, not three); the caller syncs
    the file system before anything vouches for it (fs_sync), and a file torn by a crash
    before that does not read (its count line) and is learnt again from the batches."""
    body = "\n".join([str(CHECKPOINT_VERSION), str(len(entries)), *(f"{e.epoch} {e.start_offset}" for e in entries)])
    if fsync:
        replace_durably(path, body + "\n")
    else:
        path.write_text(body + "\n")
