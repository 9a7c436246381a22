"""Confluent's Protobuf message indexes: which message of a schema's file a framed record
holds, written after the magic byte and the schema id.

The indexes are the message's path in the file: its position among the file's top-level
messages, then among that message's nested messages, and so on. On the wire: the count,
then each index, all zig-zag varints; the common path [0] (the file's first message) is the
single byte 0. Positions are those of the schema's descriptor, where the entry type of a
map field (and the body of a proto2 group) is a nested message too, counted where its
field is declared: what confluent-kafka's serializers write (and Confluent's registry for
a schema built from a descriptor; its normalized form skips map entries)."""

from __future__ import annotations

from typing import Sequence

from google.protobuf.descriptor_pb2 import DescriptorProto, FileDescriptorProto

from kraft.schemas.formats import InvalidSchema

# protoc refuses nesting deeper than 32 messages; a record claiming more is not one of ours
MAX_DEPTH = 64
_MAX_VARINT_BYTES = 5  # an int32's zig-zag varint
_INT32_MAX = 2**31 - 1


def _zigzag_varint(value: int) -> bytes:
    number = (value << 1) ^ (value >> 31)
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode(indexes: Sequence[int]) -> bytes:
    """The bytes of a message path; [0] as the single byte 0."""
    if not indexes:
        raise ValueError("a message path has at least one index")
    if len(indexes) > MAX_DEPTH or any(not 0 <= i <= _INT32_MAX for i in indexes):
        raise ValueError(f"not a message path: {list(indexes)!r}")
    if list(indexes) == [0]:
        return b"\x00"
    return _zigzag_varint(len(indexes)) + b"".join(_zigzag_varint(i) for i in indexes)


def _read_varint(buffer: bytes, at: int) -> tuple[int, int]:
    number = 0
    for shift in range(_MAX_VARINT_BYTES):
        if at + shift >= len(buffer):
            raise ValueError("the message indexes end early")
        byte = buffer[at + shift]
        number |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            if number > 0xFFFFFFFF:
                raise ValueError("a message index is wider than 32 bits")
            return (number >> 1) ^ -(number & 1), at + shift + 1
    raise ValueError("a message index is wider than 32 bits")


def decode(buffer: bytes) -> tuple[list[int], int]:
    """The message path at the start of `buffer` and how many bytes it took; ValueError if
    the bytes are not one (negative or too many indexes, a truncated or overlong varint)."""
    count, at = _read_varint(buffer, 0)
    if count == 0:
        return [0], at
    if not 0 < count <= MAX_DEPTH:
        raise ValueError(f"a message path of {count} indexes")
    indexes = []
    for _ in range(count):
        index, at = _read_varint(buffer, at)
        if index < 0:
            raise ValueError(f"a negative message index ({index})")
        indexes.append(index)
    return indexes, at


def message_name(file: FileDescriptorProto, indexes: Sequence[int]) -> str:
    """The full name of the message at `indexes` in `file`; InvalidSchema if none is."""
    candidates: Sequence[DescriptorProto] = file.message_type
    names = [file.package] if file.package else []
    for depth, index in enumerate(indexes):
        if not 0 <= index < len(candidates):
            raise InvalidSchema(f"no message at index path {list(indexes)!r} "
                                f"(level {depth} has {len(candidates)} messages)")
        message = candidates[index]
        names.append(message.name)
        candidates = message.nested_type
    if not indexes:
        raise InvalidSchema("an empty message index path")
    return ".".join(names)


def message_indexes(file: FileDescriptorProto, full_name: str) -> list[int]:
    """The index path of the message `full_name` (with or without a leading dot) in `file`."""
    name = full_name.lstrip(".")
    prefix = f"{file.package}." if file.package else ""
    if not name.startswith(prefix):
        raise InvalidSchema(f"message {name!r} is not in package {file.package!r}")
    path: list[int] = []
    candidates: Sequence[DescriptorProto] = file.message_type
    for part in name[len(prefix):].split("."):
        found = next((i for i, m in enumerate(candidates) if m.name == part), None)
        if found is None:
            raise InvalidSchema(f"no message {name!r} in the schema")
        path.append(found)
        candidates = candidates[found].nested_type
    return path
