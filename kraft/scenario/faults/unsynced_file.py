"""What one file holds that its disk copy does not yet: the writes and size changes
since its last fsync. Pure; the lazy filesystem (faults/lazy_fs.py) keeps one per file.

A read sees the file as a process would (disk bytes, overlaid with the unsynced
writes); `flush` puts the unsynced state on disk (the caller then fsyncs); dropping
the object is the power cut: the disk copy is what survives.

Writes are kept as non-overlapping extents sorted by offset, so a page rewritten a
thousand times (a journal written through mmap) costs one extent, and an append that
continues the last extent grows it in place.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable


class UnsyncedFile:
    def __init__(self, disk_size: int):
        self.disk_size = disk_size  # the disk copy's length
        self.size = disk_size  # the length a process sees
        self.kept = disk_size  # disk bytes from here on are cut off by a truncate (read as zeros)
        self._starts: list[int] = []
        self._blobs: list[bytearray] = []

    @property
    def unsynced_bytes(self) -> int:
        return sum(len(b) for b in self._blobs)

    @property
    def dirty(self) -> bool:
        return bool(self._blobs) or self.size != self.disk_size or self.kept != self.disk_size

    def write(self, offset: int, data: bytes) -> None:
        if not data:
            return
        end = offset + len(data)
        starts, blobs = self._starts, self._blobs
        i = bisect_right(starts, offset) - 1  # the extent starting at or before offset
        if i >= 0 and starts[i] + len(blobs[i]) == offset and (i + 1 == len(starts) or starts[i + 1] >= end):
            blobs[i] += data  # the common case: an append continuing the last write
        else:
            self._replace(offset, end, bytearray(data))
        self.size = max(self.size, end)

    def _replace(self, offset: int, end: int, blob: bytearray) -> None:
        """Put blob at [offset, end), keeping the parts of extents it does not cover."""
        starts, blobs = self._starts, self._blobs
        lo = max(0, bisect_right(starts, offset) - 1)
        hi = bisect_left(starts, end)
        new_starts, new_blobs = [], []
        for s, b in zip(starts[lo:hi], blobs[lo:hi]):
            e = s + len(b)
            if e <= offset:  # ends before the write: untouched
                new_starts.append(s)
                new_blobs.append(b)
                continue
            if s < offset:
                new_starts.append(s)
                new_blobs.append(b[:offset - s])
            if e > end:
                new_starts.append(end)
                new_blobs.append(b[end - s:])
        new_starts.append(offset)
        new_blobs.append(blob)
        order = sorted(range(len(new_starts)), key=new_starts.__getitem__)
        starts[lo:hi] = [new_starts[k] for k in order]
        blobs[lo:hi] = [new_blobs[k] for k in order]

    def truncate(self, length: int) -> None:
        self.size = length
        self.kept = min(self.kept, length)
        i = bisect_left(self._starts, length)
        del self._starts[i:], self._blobs[i:]
        if self._blobs and self._starts[-1] + len(self._blobs[-1]) > length:
            del self._blobs[-1][length - self._starts[-1]:]

    def read(self, offset: int, count: int, read_disk: Callable[[int, int], bytes]) -> bytes:
        """Bytes [offset, offset+count) as a process sees them; read_disk(offset, count)
        reads the disk copy (it may return fewer bytes at its end)."""
        count = max(0, min(count, self.size - offset))
        if count == 0:
            return b""
        end = offset + count
        out = bytearray(count)
        from_disk = min(end, self.kept) - offset
        if from_disk > 0:
            disk = read_disk(offset, from_disk)
            out[:len(disk)] = disk
        lo = max(0, bisect_right(self._starts, offset) - 1)
        for s, b in zip(self._starts[lo:], self._blobs[lo:]):
            if s >= end:
                break
            a, z = max(s, offset), min(s + len(b), end)
            if a < z:
                out[a - offset:z - offset] = b[a - s:z - s]
        return bytes(out)

    def flush(self, pwrite: Callable[[bytes, int], object], ftruncate: Callable[[int], None]) -> None:
        """Put everything on the disk copy: the caller fsyncs it afterwards."""
        if self.kept < self.disk_size:
            ftruncate(self.kept)
        for s, b in zip(self._starts, self._blobs):
            pwrite(bytes(b), s)
        ftruncate(self.size)  # a held extension past the last write, or nothing to do
        self.disk_size = self.kept = self.size
        self._starts, self._blobs = [], []
