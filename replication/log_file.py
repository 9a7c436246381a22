"""The ``.log`` file of a segment: raw batch bytes, appended and read by position.

Reads use pread so the append position and concurrent readers never share a file
offset; writes go straight to the OS (no user-space buffer to lose on kill -9).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from crc32c import crc32c

from replication.log_errors import CorruptBatchError
from replication.record_batch import ATTRIBUTES_POS, HEADER_SIZE, BatchHeader

SCAN_CHUNK = 64 * 1024  # header walks read this much at a time
VERIFY_CHUNK = 1024 * 1024  # CRC checks need the bodies too, so read larger


class LogFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self._fd).st_size

    def append(self, data: bytes) -> int:
        """Write ``data`` at the end; return the position it starts at."""
        position = self.size
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)
        return position

    def read(self, position: int, length: int) -> bytes:
        return os.pread(self._fd, length, position)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self.size = size

    def fsync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def batches(self, start: int = 0, end: int | None = None, *, verify: bool = False) -> Iterator[tuple[int, BatchHeader]]:
        """Yield ``(position, header)`` for each batch in ``[start, end)``.

        Raises CorruptBatchError at the first thing that is not a whole batch
        (with a matching CRC when ``verify``), so recovery can cut the file there.
        """
        end = self.size if end is None else end
        chunk = VERIFY_CHUNK if verify else SCAN_CHUNK
        window, window_start = b"", start
        pos = start
        while pos < end:
            off = pos - window_start
            if off + HEADER_SIZE > len(window):
                window, window_start, off = os.pread(self._fd, min(chunk, end - pos), pos), pos, 0
            if len(window) - off < HEADER_SIZE:
                raise CorruptBatchError(f"{self.path.name}: batch header at byte {pos} is truncated")
            header = BatchHeader.parse(window, off)
            size = header.size
            if pos + size > end:
                raise CorruptBatchError(f"{self.path.name}: batch at byte {pos} runs past the end ({end})")
            if verify:
                if off + size > len(window):
                    window, window_start, off = os.pread(self._fd, max(chunk, size), pos), pos, 0
                body = memoryview(window)[off + ATTRIBUTES_POS:off + size]
                if len(body) != size - ATTRIBUTES_POS or crc32c(body) != header.crc:
                    raise CorruptBatchError(f"{self.path.name}: batch at byte {pos} fails its CRC")
            yield pos, header
            pos += size
