"""A range of a log file handed to the network as it is (sendfile), not read into Python.

The slice owns a duplicate of the segment's descriptor, so it stays readable if the
segment is closed or deleted (retention, a roll) before the bytes are sent; whoever
takes a slice closes it. Duplicates are counted (descriptors.SLICES): with as many held
as the node allows (a Fetch of thousands of partitions holds one per partition until it
is sent), a slice holds a copy of its bytes instead, so answers never exhaust the
process's descriptors. A file cut shorter meanwhile (only a truncation below what was
read could do that) shows as a short send, which the sender must treat as a broken frame.
"""

from __future__ import annotations

import io
import os

from kraft.storage.descriptors import SLICES


class FileSlice:
    def __init__(self, fd: int, position: int, length: int):
        self.position = position
        self.length = length
        self.file: io.FileIO | None = None  # None: the bytes are copied, in _data
        self._data = b""
        if SLICES.take():
            try:
                self.file = open(os.dup(fd), "rb", buffering=0)  # noqa: SIM115 - closed by close()
            except BaseException:
                SLICES.give()
                raise
        else:
            self._data = os.pread(fd, length, position)

    def read(self) -> bytes:
        """The bytes themselves, for a sender that cannot use sendfile."""
        if self.file is None:
            return self._data
        return os.pread(self.file.fileno(), self.length, self.position)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
            SLICES.give()
        self._data = b""

    def __repr__(self) -> str:
        return f"FileSlice({self.position}+{self.length})"
