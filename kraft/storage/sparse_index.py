"""A sparse, sorted, append-only index file of fixed-size (key, value) entries.

Both of a segment's indexes are this shape (Kafka's file formats, big-endian):
    .index      relative offset int32 -> file position int32
    .timeindex  timestamp int64       -> relative offset int32
Keys strictly increase and values never decrease, so lookups are a bisect.
Entries are kept in memory (about 0.3% of the log at one entry per 4 KiB) and
written straight to the OS, unbuffered, so a killed process loses none of them.
A new log's first segment makes its files at their first entry (Segment.create_new).
"""
from __future__ import annotations

import os
import struct
from array import array
from bisect import bisect_left, bisect_right
from pathlib import Path

from kraft.storage.descriptors import Descriptor
from kraft.storage.fs_sync import fsync_path
from kraft.storage.log_directory import read_whole

OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")


class SparseIndex:
    def __init__(self, path: Path, entry: struct.Struct, absent: bool = False) -> None:
        """`absent`: the caller knows the file is not there (a listing said so)."""
        self.path = path
        self._absent = absent  # until something makes the file
        self._entry = entry
        self.keys = array("q")
        self.values = array("q")
        self._fd: Descriptor | None = None  # opened at the first entry written, within the budget
        self._unsynced = False  # a change since the last flush (loaded entries were on disk)

    def __len__(self) -> int:
        return len(self.keys)

    # -- loading -------------------------------------------------------------

    def load(self, missing_ok: bool = False) -> bool:
        """Read the file; False when it is missing (unless `missing_ok`: then it is an
        index without entries) or not a sane index (then rebuild it)."""
        if self._absent:
            return missing_ok
        try:
            data = read_whole(self.path)
        except FileNotFoundError:
            return missing_ok
        usable = len(data) - len(data) % self._entry.size  # a torn last entry is dropped
        keys, values = array("q"), array("q")
        for key, value in self._entry.iter_unpack(memoryview(data)[:usable]):
            if keys and (key <= keys[-1] or value < values[-1]):
                return False
            keys.append(key)
            values.append(value)
        if usable != len(data):
            os.truncate(self.path, usable)
            self._unsynced = True
        self.keys, self.values = keys, values
        return True

    def reset(self, make: bool = True) -> None:
        """Drop every entry, in memory and on disk. `make=False`: a missing file stays
        missing (the first entry makes it), as recovery leaves an empty log's."""
        self.keys, self.values = array("q"), array("q")
        self._unsynced = True
        if make:
            with open(self.path, "wb"):
                pass
            self._absent = False
            return
        if self._absent:
            return
        try:
            os.truncate(self.path, 0)
        except FileNotFoundError:
            pass

    # -- queries -------------------------------------------------------------

    def last(self) -> tuple[int, int] | None:
        return (self.keys[-1], self.values[-1]) if self.keys else None

    def floor(self, key: int) -> tuple[int, int] | None:
        """The entry with the largest key <= ``key``."""
        i = bisect_right(self.keys, key) - 1
        return (self.keys[i], self.values[i]) if i >= 0 else None

    def lower(self, key: int) -> tuple[int, int] | None:
        """The entry with the largest key < ``key``."""
        i = bisect_left(self.keys, key) - 1
        return (self.keys[i], self.values[i]) if i >= 0 else None

    # -- changes -------------------------------------------------------------

    def append(self, key: int, value: int) -> None:
        if self.keys and (key <= self.keys[-1] or value < self.values[-1]):
            raise ValueError(f"index {self.path.name}: entry ({key}, {value}) is not after {self.last()}")
        if self._fd is None:
            self._fd = Descriptor.of_path(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._absent = False
        fd = self._fd.acquire()
        try:
            os.write(fd, self._entry.pack(key, value))
        except OSError:
            os.ftruncate(fd, len(self.keys) * self._entry.size)  # no torn entry
            raise
        finally:
            self._fd.release()
        self._unsynced = True
        self.keys.append(key)
        self.values.append(value)

    def truncate_keys_from(self, key: int) -> None:
        """Remove entries whose key >= ``key``."""
        self._truncate_to(bisect_left(self.keys, key))

    def truncate_values_from(self, value: int) -> None:
        """Remove entries whose value >= ``value``."""
        self._truncate_to(bisect_left(self.values, value))

    def _truncate_to(self, count: int) -> None:
        if count >= len(self.keys):
            return
        del self.keys[count:]
        del self.values[count:]
        self._unsynced = True
        os.truncate(self.path, count * self._entry.size)

    def flush(self) -> None:
        """fsync what changed since the last flush, if anything did."""
        if not self._unsynced:
            return
        self._unsynced = False  # first: an entry written during the fsync marks it again
        try:
            if self._fd is not None:
                with self._fd as fd:
                    os.fsync(fd)
            else:  # changed without being written to (a truncation or reset)
                fsync_path(self.path, missing_ok=True)
        except BaseException:
            self._unsynced = True
            raise

    def close(self) -> None:
        if self._fd is not None:
            self._fd.close()
            self._fd = None

    def delete(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
