"""Zig-zag varints as used inside Kafka RecordBatch v2 records.

Kafka's varint/varlong are protobuf-style base-128 little-endian groups of the
zig-zag encoded value, so small negative numbers (e.g. -1 for "null") stay short.
"""
from __future__ import annotations

VARINT_MAX_BYTES = 5  # a 32-bit value needs at most 5 groups of 7 bits
VARLONG_MAX_BYTES = 10


class VarintError(ValueError):
    """The bytes do not hold a well-formed varint (truncated or too long)."""


def zigzag(n: int) -> int:
    # Python ints are unbounded; the 64-bit shift matches Kafka for every int64.
    return (n << 1) ^ (n >> 63)


def unzigzag(z: int) -> int:
    return (z >> 1) ^ -(z & 1)


def write_varint(out: bytearray, n: int) -> None:
    """Append the zig-zag varint encoding of ``n`` to ``out``."""
    z = zigzag(n)
    if z < 0x80:  # fast path: the common small lengths and deltas
        out.append(z)
        return
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def _encode(n: int) -> bytes:
    out = bytearray()
    write_varint(out, n)
    return bytes(out)


# Encoded forms of -1 .. 16383 (null markers, deltas, lengths of records up to 16 KiB),
# looked up instead of computed: record encoding needs several per record.
_SMALL_END = 1 << 14
_SMALL = tuple(_encode(n) for n in range(-1, _SMALL_END))


def varint_bytes(n: int) -> bytes:
    """The zig-zag varint encoding of ``n`` as bytes."""
    if -1 <= n < _SMALL_END:
        return _SMALL[n + 1]
    return _encode(n)


def read_varint(buf: bytes | bytearray | memoryview, pos: int, max_bytes: int = VARINT_MAX_BYTES) -> tuple[int, int]:
    """Decode one zig-zag varint at ``pos``; return ``(value, next_pos)``."""
    try:
        b = buf[pos]
    except IndexError:
        raise VarintError(f"varint truncated at byte {pos}") from None
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos + 1
    z = b & 0x7F
    shift = 7
    end = pos + max_bytes
    pos += 1
    while True:
        if pos >= end:
            raise VarintError(f"varint longer than {max_bytes} bytes")
        try:
            b = buf[pos]
        except IndexError:
            raise VarintError(f"varint truncated at byte {pos}") from None
        pos += 1
        z |= (b & 0x7F) << shift
        if b < 0x80:
            return unzigzag(z), pos
        shift += 7


def read_varlong(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    return read_varint(buf, pos, VARLONG_MAX_BYTES)
