"""Avro's binary encoding read back into Avro's JSON encoding, walking the parsed schema
(avro/model.py): what a framed record's payload holds, shown as Confluent's REST Proxy
shows an Avro record (a non-null union branch as {"type name": value}, bytes and fixed
as a string of the code points 0-255). Pure.

Hostile input is bounded: the walk never reads past the payload, a block of items counts
against MAX_ITEMS before any is read (an array of nulls takes no bytes), and nesting
deeper than MAX_DEPTH (a record that holds itself) is refused."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from kraft.schemas.avro.model import ArrayOf, AvroType, Enum, Fixed, MapOf, Named, Primitive, Record, UnionOf

MAX_ITEMS = 1_000_000  # array items and map entries in one payload
MAX_DEPTH = 256
_MAX_VARINT_BYTES = 10  # a long's zig-zag varint


class AvroDecodeError(ValueError):
    """The bytes are not data of the schema (truncated, a bad union branch or enum index,
    bytes left over...)."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.items = 0

    def take(self, count: int) -> bytes:
        if count < 0 or self.at + count > len(self.data):
            raise AvroDecodeError(f"the data ends early (wanted {count} bytes at byte {self.at})")
        out = self.data[self.at:self.at + count]
        self.at += count
        return out

    def long(self) -> int:
        number = 0
        for shift in range(_MAX_VARINT_BYTES):
            if self.at >= len(self.data):
                raise AvroDecodeError(f"the data ends early (inside a number at byte {self.at})")
            byte = self.data[self.at]
            self.at += 1
            number |= (byte & 0x7F) << (7 * shift)
            if not byte & 0x80:
                if number >> 64:
                    raise AvroDecodeError("a number wider than 64 bits")
                return (number >> 1) ^ -(number & 1)
        raise AvroDecodeError("a number is longer than 10 bytes")

    def count_items(self, count: int) -> None:
        self.items += count
        if self.items > MAX_ITEMS:
            raise AvroDecodeError(f"more than {MAX_ITEMS} array items or map entries")


def decode(schema: AvroType, data: bytes) -> Any:
    """The value `data` holds, in Avro's JSON encoding; AvroDecodeError if it is not one
    value of `schema` exactly."""
    reader = _Reader(data)
    value = _read(schema, reader, 0)
    if reader.at != len(data):
        raise AvroDecodeError(f"{len(data) - reader.at} bytes left after the value")
    return value


def _latin1(raw: bytes) -> str:
    return raw.decode("latin-1")


def _read_primitive(kind: str, r: _Reader) -> Any:
    if kind == "null":
        return None
    if kind == "boolean":
        flag = r.take(1)[0]
        if flag > 1:
            raise AvroDecodeError(f"a boolean byte of {flag}")
        return flag == 1
    if kind in ("int", "long"):
        return r.long()
    if kind == "float":
        return struct.unpack("<f", r.take(4))[0]
    if kind == "double":
        return struct.unpack("<d", r.take(8))[0]
    raw = r.take(r.long())
    if kind == "bytes":
        return _latin1(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AvroDecodeError("a string that is not UTF-8") from None


def _blocks(r: _Reader) -> Iterator[int]:
    """The item counts of an array's or map's blocks, until the empty block."""
    while True:
        count = r.long()
        if count == 0:
            return
        if count < 0:  # a negative count is followed by the block's size in bytes
            count = -count
            r.long()
        r.count_items(count)
        yield count


def _read(schema: AvroType, r: _Reader, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise AvroDecodeError(f"the value nests deeper than {MAX_DEPTH}")
    if isinstance(schema, Primitive):
        return _read_primitive(schema.kind, r)
    if isinstance(schema, Record):
        return {f.name: _read(f.type, r, depth + 1) for f in schema.fields}
    if isinstance(schema, Enum):
        index = r.long()
        if not 0 <= index < len(schema.symbols):
            raise AvroDecodeError(f"enum {schema.fullname} has no symbol {index}")
        return schema.symbols[index]
    if isinstance(schema, Fixed):
        return _latin1(r.take(schema.size))
    if isinstance(schema, ArrayOf):
        return [_read(schema.items, r, depth + 1) for count in _blocks(r) for _ in range(count)]
    if isinstance(schema, MapOf):
        out: dict[str, Any] = {}
        for count in _blocks(r):
            for _ in range(count):
                key = _read_primitive("string", r)
                out[key] = _read(schema.values, r, depth + 1)
        return out
    if isinstance(schema, UnionOf):
        index = r.long()
        if not 0 <= index < len(schema.branches):
            raise AvroDecodeError(f"a union of {len(schema.branches)} types has no branch {index}")
        branch = schema.branches[index]
        value = _read(branch, r, depth + 1)
        if isinstance(branch, Primitive) and branch.kind == "null":
            return None
        return {branch.fullname if isinstance(branch, Named) else branch.kind: value}
    raise AvroDecodeError(f"an Avro type this reader does not know: {schema!r}")
