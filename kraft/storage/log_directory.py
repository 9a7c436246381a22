"""A partition's directory on disk: which segments it holds and whether it was shut down cleanly.

Files: ``<base:020d>.log/.index/.timeindex`` per segment (and ``.txnindex`` for one
that holds ABORT markers), ``leader-epoch-checkpoint``,
``recovery-point`` (segments below this offset are known to be fsynced),
``log-start-offset`` (set once DeleteRecords, or a leader's, moved the log start inside
a segment; absent: the first segment's base offset), and
``.clean_shutdown`` while the log is closed after a clean shutdown (absent after
kill -9, which is what tells the next open to run recovery).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kraft.storage.fs_sync import fsync_path

CLEAN_SHUTDOWN_MARKER = ".clean_shutdown"
METADATA_FILE = "partition.metadata"  # the topic id (partition_dir)
RECOVERY_POINT = "recovery-point"
LOG_START = "log-start-offset"
LOG_SUFFIX = ".log"
INDEX_SUFFIXES = (".index", ".timeindex", ".txnindex")


def fsync_directory(directory: Path) -> None:
    """Make creations, renames and deletions in ``directory`` durable."""
    fsync_path(directory)


def read_whole(path: Path | str) -> bytes:
    """A small file's bytes in four calls (open, two reads, close): pathlib's read_bytes
    makes about nine (its buffered reader's fstats, ioctl and seeks), and a start reads
    a few such files per log."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def replace_durably(path: Path, text: str, sync_directory: bool = True) -> None:
    """Replace a small file atomically with its bytes on disk first: write a temp file,
    fsync it, rename it over ``path`` and (unless told not to) fsync the directory, so a
    power cut leaves the old file or the new one, never a name on unwritten bytes."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync_directory:
        fsync_directory(path.parent)


class LogDirectory:
    def __init__(self, path: Path | str, *, unsynced_identity: bool = False,
                 previous_run_closed: bool | None = None, made: bool = False) -> None:
        """`previous_run_closed`: what the broker's run state says of its previous run
        (RunState.begin, recorded durably as not closed before any log opens); None for
        a log opened on its own, whose marker alone says whether it was closed cleanly.
        `made`: the caller made the directory (partition_dir.prepare)."""
        self.path = Path(path)
        if not made:
            try:  # one call where it is there already, as at every start
                os.mkdir(self.path)
            except FileExistsError:
                pass
            except FileNotFoundError:
                self.path.mkdir(parents=True, exist_ok=True)
        self._previous_run_closed = previous_run_closed
        # partition.metadata and this directory's own entry, written and not fsynced yet
        self._identity_unsynced = unsynced_identity
        self._identity_lock = threading.Lock()  # synced from worker threads too
        self._names: frozenset[str] | None = None  # the directory's entries, while a load asks (listed)

    @contextmanager
    def listed(self) -> Iterator[None]:
        """One listing of the directory for a load: which files are there is asked of it
        (has) instead of a stat or a failed open each, and segment_bases reads it. Only
        the load's own changes happen meanwhile; relist() after one that adds files."""
        self._names = frozenset(os.listdir(self.path))
        try:
            yield
        finally:
            self._names = None

    def relist(self) -> None:
        if self._names is not None:
            self._names = frozenset(os.listdir(self.path))

    @property
    def names(self) -> frozenset[str] | None:
        """The listing while a load holds one (listed), else None."""
        return self._names

    def has(self, name: str) -> bool:
        if self._names is not None:
            return name in self._names
        return os.path.exists(os.path.join(self.path, name))

    @property
    def identity_unsynced(self) -> bool:
        return self._identity_unsynced

    def sync_identity(self, *, parent: bool = True) -> bool:
        """Make the directory's id (partition.metadata) and its entry in the partitions
        root durable, once; before any of the log's data is fsynced, so records on disk
        never sit in a directory that a power cut leaves nameless. `parent=False`: the
        caller fsynced the root after this directory was made (one fsync for many).
        False when there was nothing to do, or the directory is gone (deleted)."""
        with self._identity_lock:
            if not self._identity_unsynced:
                return False
            self._identity_unsynced = False
            try:
                fd = os.open(self.path / METADATA_FILE, os.O_RDONLY)
            except FileNotFoundError:
                return False
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_directory(self.path)
            if parent:
                fsync_directory(self.path.parent)
            return True

    def segment_bases(self) -> list[int]:
        """Base offsets of the segments present, oldest first; removes leftovers
        (index files whose log is gone, temp files) from interrupted operations."""
        names = self._names if self._names is not None else os.listdir(self.path)
        bases: set[int] = set()
        orphans: list[str] = []
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if dot and suffix == "tmp":
                orphans.append(name)
            elif dot and "." + suffix == LOG_SUFFIX and _is_base(stem):
                bases.add(int(stem))
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if dot and "." + suffix in INDEX_SUFFIXES and _is_base(stem) and int(stem) not in bases:
                orphans.append(name)
        for orphan in orphans:
            try:
                os.unlink(os.path.join(self.path, orphan))
            except FileNotFoundError:
                pass
        return sorted(bases)

    @property
    def marker(self) -> Path:
        return self.path / CLEAN_SHUTDOWN_MARKER

    def was_clean_shutdown(self) -> bool:
        """The marker, trusted only when the broker's previous run closed every log: its
        removal at the open before is not fsynced, so a power cut may bring it back."""
        return self._previous_run_closed is not False and self.has(CLEAN_SHUTDOWN_MARKER)

    def mark_clean_shutdown(self) -> None:
        """Made once everything it vouches for is on disk, so it needs no fsync of its
        own: a power cut that loses it costs only a recovery of this log."""
        with open(self.marker, "wb"):
            pass

    def clear_clean_shutdown(self) -> None:
        """Called once the log is open: from here on a crash must trigger recovery. The
        broker's run state already says so durably (see was_clean_shutdown): a fsync
        here was most of a restart's time to open thousands of logs."""
        try:
            os.unlink(self.marker)
        except FileNotFoundError:
            return
        if self._previous_run_closed is None:
            fsync_directory(self.path)

    def fsync(self) -> None:
        self.sync_identity()
        fsync_directory(self.path)

    def read_recovery_point(self) -> int:
        """0 when the file is missing or unreadable: every segment is in doubt. A new
        log has no file (nothing is fsynced yet, and writing one would be a fsync per
        log created); the first roll that reaches the disk writes it."""
        if not self.has(RECOVERY_POINT):
            return 0
        try:
            return int(read_whole(self.path / RECOVERY_POINT))
        except (OSError, ValueError):
            return 0

    def write_recovery_point(self, offset: int) -> None:
        """Replace it atomically. The new file's bytes are fsynced before the rename (a
        power cut could otherwise leave the name on an empty file, which reads as "no
        recovery point"); the rename is not: a stale value only means more scanning."""
        replace_durably(self.path / RECOVERY_POINT, str(offset), sync_directory=False)

    def read_log_start(self) -> int | None:
        """None when the file is missing or unreadable: the first segment's base rules."""
        if not self.has(LOG_START):
            return None
        try:
            return int(read_whole(self.path / LOG_START))
        except (OSError, ValueError):
            return None

    def write_log_start(self, offset: int) -> None:
        """Durable before it returns, rename included: a deletion a client was told about
        must not come undone at the next open."""
        replace_durably(self.path / LOG_START, str(offset))


def _is_base(stem: str) -> bool:
    return len(stem) == 20 and stem.isascii() and stem.isdigit()
