"""A range of a log file handed to the network as it is (sendfile), not read into Python.

The slice owns a duplicate of the segment's descriptor, so it stays readable if the
segment is closed or deleted (retention, a roll) before the bytes are sent; whoever
takes a slice closes it. A file cut shorter meanwhile (only a truncation below what
was read could do that) shows as a short send, which the sender must treat as a
broken frame.
"""

from __future__ import annotations

import os


class FileSlice:
    def __init__(self, fd: int, position: int, length: int):
        self.file = open(os.dup(fd), "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.position = position
        self.length = length

    def read(self) -> bytes:
        """The bytes themselves, for a sender that cannot use sendfile."""
        return os.pread(self.file.fileno(), self.length, self.position)

    def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"FileSlice({self.position}+{self.length})"
