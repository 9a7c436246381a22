"""Responses whose record bytes go from the segment files to the socket (sendfile).

A handler puts a unique marker where the records belong and keeps the file slices
aside (Spliced); the response is encoded as usual, small, with the markers in it.
`frame_parts` then gives each marker's bytes field its real length, fixes the frame
size and cuts the frame around the markers: bytes to write, slices to sendfile. Only
for non-flexible versions, where a bytes field is an int32 length and the bytes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from kraft.storage.file_slice import FileSlice

_INT32 = struct.Struct(">i")


def new_marker() -> bytes:
    """Cannot occur in a response by chance: random, and names no topic or field."""
    return b"\0kraft-sendfile\0" + os.urandom(12)


@dataclass
class Spliced:
    """A handler's answer: the body (markers in place of record bytes) and, per
    marker, the slices that replace it. Whoever ends up holding it closes it."""

    body: dict
    slices: dict[bytes, list[FileSlice]] = field(default_factory=dict)

    def close(self) -> None:
        for parts in self.slices.values():
            for part in parts:
                part.close()


def frame_parts(frame: bytes, slices: dict[bytes, list[FileSlice]]) -> list[bytes | FileSlice]:
    """The encoded frame with each marker replaced by its slices."""
    found = sorted((frame.find(marker), marker) for marker in slices)
    out = bytearray(frame)
    grown = 0
    for at, marker in found:
        if at < 4 or _INT32.unpack_from(frame, at - 4)[0] != len(marker):
            raise ValueError("a splice marker is not the whole of a bytes field")
        length = sum(part.length for part in slices[marker])
        _INT32.pack_into(out, at - 4, length)
        grown += length - len(marker)
    _INT32.pack_into(out, 0, len(frame) - 4 + grown)
    parts: list[bytes | FileSlice] = []
    cursor = 0
    for at, marker in found:
        parts.append(bytes(out[cursor:at]))
        parts.extend(slices[marker])
        cursor = at + len(marker)
    parts.append(bytes(out[cursor:]))
    return [part for part in parts if not isinstance(part, bytes) or part]
