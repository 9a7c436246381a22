"""Responses whose record bytes go from the segment files to the socket (sendfile).

A handler puts a unique marker where the records belong and keeps the file slices
aside (Spliced); the response is encoded as usual, small, with the markers in it.
`frame_parts` then gives each marker's bytes field its real length, fixes the frame
size and cuts the frame around the markers: bytes to write, slices to sendfile. A bytes
field is an int32 length and the bytes, or in flexible versions (Fetch v12+) an
unsigned varint of length + 1 and the bytes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from kraft.kafka.wire.frame_bounds import encode_uvarint
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




def _length_prefix(length: int, flexible: bool) -> bytes:
    """A bytes field's length as the version writes it: int32, or (flexible versions,
    compact nullable bytes) an unsigned varint of length + 1."""
    return encode_uvarint(length + 1) if flexible else _INT32.pack(length)


def frame_parts(frame: bytes, slices: dict[bytes, list[FileSlice]],
                flexible: bool = False) -> list[bytes | FileSlice]:
    """The encoded frame with each marker replaced by its slices and its length prefix
    by the slices' length (a varint may grow, so the frame is cut and joined again)."""
    found = sorted((frame.find(marker), marker) for marker in slices)
    parts: list[bytes | FileSlice] = []
    cursor = 4  # the frame size, written last
    for at, marker in found:
        old_prefix = _length_prefix(len(marker), flexible)
        start = at - len(old_prefix)
        if at < 4 + len(old_prefix) or frame[start:at] != old_prefix:
            raise ValueError("a splice marker is not the whole of a bytes field")
        parts.append(frame[cursor:start] + _length_prefix(sum(part.length for part in slices[marker]), flexible))
        parts.extend(slices[marker])
        cursor = at + len(marker)
    parts.append(frame[cursor:])
    size = sum(len(part) if isinstance(part, bytes) else part.length for part in parts)
    parts[0] = _INT32.pack(size) + parts[0]  # type: ignore[operator]  # parts[0] is bytes: the head
    return [part for part in parts if not isinstance(part, bytes) or part]
