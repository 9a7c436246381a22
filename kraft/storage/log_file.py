"""The ``.log`` file of a segment: raw batch bytes, appended and read by position.

Reads use pread so the append position and concurrent readers never share a file
offset; writes go straight to the OS (no user-space buffer to lose on kill -9).

Page cache: an owner with a worker thread can drop the written bytes behind the
newest CACHE_WINDOW_BYTES from the page cache (cold_range / drop_cached), as
Redpanda manages its own cache instead of the kernel's. Followers and tailing
readers read the newest bytes; the rest is on its way to disk anyway. Measured on
a VM (bench/README.md): once gigabytes of fresh page cache pile up, every write
costs about six times the CPU it costs while written pages are being recycled.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from crc32c import crc32c

from kraft.errors import CorruptBatchError
from kraft.storage.descriptors import Descriptor
from kraft.storage.file_slice import FileSlice
from kraft.storage.record_batch import ATTRIBUTES_POS, HEADER_SIZE, BatchHeader

SCAN_CHUNK = 64 * 1024  # header walks read this much at a time
VERIFY_CHUNK = 1024 * 1024  # CRC checks need the bodies too, so read larger
CACHE_WINDOW_BYTES = 8 * 1024 * 1024  # the newest bytes of a file kept in the page cache
_WAIT_WRITE_WAIT = 1 | 2 | 4  # SYNC_FILE_RANGE_WAIT_BEFORE | _WRITE | _WAIT_AFTER


def _sync_file_range() -> Callable[..., int] | None:
    """Linux's sync_file_range(2) (not in the os module), or None elsewhere."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return fn


_sync_range = _sync_file_range()


_FLAGS = os.O_RDWR | os.O_APPEND


class LogFile:
    def __init__(self, path: Path, *, new: bool = False) -> None:
        """`new`: make the file, which must not exist (a new log's directory, just made);
        its descriptor is opened at first use, so that thousands of new logs hold none."""
        self.path = path
        # open while used, within the node's descriptor budget (descriptors.py)
        if new:
            fd = os.open(path, _FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                made = os.fstat(fd)
            finally:
                os.close(fd)
            self._fd = Descriptor.of_path(path, _FLAGS, identity=(made.st_dev, made.st_ino))
            self.size = 0
        else:
            self._fd = Descriptor.of_path(path, _FLAGS | os.O_CREAT)
            with self._fd as fd:
                self.size = os.fstat(fd).st_size
        # whether bytes may sit in the page cache only: an existing file's are unknown
        # until its loader says a clean shutdown left them on disk (on_disk)
        self.unsynced = not new
        self._cold_end = self.size  # bytes below were handed to drop_cached (or predate us)

    def append(self, data: bytes) -> int:
        """Write ``data`` at the end; return the position it starts at."""
        position = self.size
        view = memoryview(data)
        fd = self._fd.acquire()
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError:
            os.ftruncate(fd, position)  # no torn batch left for the next append to follow
            raise
        finally:
            self._fd.release()
        self.unsynced = True
        self.size += len(data)
        return position

    def read(self, position: int, length: int) -> bytes:
        fd = self._fd.acquire()
        try:
            return os.pread(fd, length, position)
        finally:
            self._fd.release()

    def slice(self, position: int, length: int) -> FileSlice:
        """The range as a FileSlice (its own descriptor) for sendfile."""
        with self._fd as fd:
            return FileSlice(fd, position, length)

    def truncate(self, size: int) -> None:
        with self._fd as fd:
            os.ftruncate(fd, size)
        self.unsynced = True
        self.size = size
        self._cold_end = min(self._cold_end, size)

    def cold_range(self, window: int = CACHE_WINDOW_BYTES) -> tuple[int, int] | None:
        """Once the file has grown two windows since the last range: the next range of
        bytes to drop_cached, everything but the newest `window`. It starts a window
        back, again: pages still being written out last time could not be dropped."""
        if self.size - self._cold_end < 2 * window:
            return None
        start = max(0, self._cold_end - window)
        self._cold_end = self.size - window
        return start, self._cold_end

    def drop_cached(self, start: int, end: int) -> None:
        """Worker thread (it waits for the disk): write [start, end) out, then drop it
        from the page cache; only clean pages can be dropped. Not a durability step
        (no metadata, no device cache flush), and a file closed meanwhile is skipped.
        Without sync_file_range the advice starts the writeback, and the next range,
        which begins a window earlier, drops what has become clean since."""
        try:
            fd = self._fd.acquire_if_open()
        except OSError:  # closed meanwhile
            return
        if fd < 0:  # closed, or closed for room: its pages age out on their own
            return
        try:
            if _sync_range is not None:
                _sync_range(fd, start, end - start, _WAIT_WRITE_WAIT)  # -1 (EBADF...) is fine
            try:
                os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)
            except OSError:
                pass
        finally:
            self._fd.release()

    def fsync(self) -> None:
        """Only when something changed since the last one: a clean stop of thousands of
        idle logs was a fsync each (and a reopen, for those closed for room)."""
        if not self.unsynced:
            return
        self.unsynced = False  # first: a write during the fsync marks it again
        try:
            with self._fd as fd:  # any descriptor of the file reaches all its written data
                os.fsync(fd)
        except BaseException:
            self.unsynced = True
            raise

    def on_disk(self) -> None:
        """The loader's word, after a clean shutdown: every byte was fsynced."""
        self.unsynced = False

    def close(self) -> None:
        self._fd.close()

    @property
    def closed(self) -> bool:
        return self._fd.gone

    def batches(self, start: int = 0, end: int | None = None, *, verify: bool = False,
                stop_short: bool = False) -> Iterator[tuple[int, BatchHeader]]:
        """Yield ``(position, header)`` for each batch in ``[start, end)``.

        Raises CorruptBatchError at the first thing that is not a whole batch
        (with a matching CRC when ``verify``), so recovery can cut the file there;
        with ``stop_short`` a batch that runs past ``end`` just ends the walk (a read
        budget, not the file's end).
        """
        end = self.size if end is None else end
        chunk = VERIFY_CHUNK if verify else SCAN_CHUNK
        window, window_start = b"", start
        pos = start
        while pos < end:
            off = pos - window_start
            if off + HEADER_SIZE > len(window):
                window, window_start, off = self.read(pos, min(chunk, end - pos)), pos, 0
            if len(window) - off < HEADER_SIZE:
                if stop_short:
                    return
                raise CorruptBatchError(f"{self.path.name}: batch header at byte {pos} is truncated")
            header = BatchHeader.parse(window, off)
            size = header.size
            if pos + size > end:
                if stop_short:
                    return
                raise CorruptBatchError(f"{self.path.name}: batch at byte {pos} runs past the end ({end})")
            if verify:
                if off + size > len(window):
                    window, window_start, off = self.read(pos, max(chunk, size)), pos, 0
                body = memoryview(window)[off + ATTRIBUTES_POS:off + size]
                if len(body) != size - ATTRIBUTES_POS or crc32c(body) != header.crc:
                    raise CorruptBatchError(f"{self.path.name}: batch at byte {pos} fails its CRC")
            yield pos, header
            pos += size
