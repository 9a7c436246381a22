"""Every length in a request frame checked against the bytes left, before kio reads it (sans-IO).

kio's native reader reserves room for an array as soon as it reads the array's length:
a Metadata request whose compact array claims 2^32-1 elements asked for 32 GiB and the
process aborted. This walk follows kio's own view of the schema (kio.serial._introspect,
the same classification kio compiles its reader from), reads only lengths and markers,
allocates nothing per element, and refuses a frame when:

- a string, bytes or records field, or a tagged field, is longer than what is left;
- an array claims more elements than the bytes left could hold (each element needs at
  least its minimal encoded size, and at least one byte, as Kafka's own reader demands);
- a null stands where the schema allows none (an array, a string, a struct);
- a known tagged field does not fill exactly the size it declares (kio reads the field
  and ignores the size, so the two must agree before kio runs).

Unknown tagged fields, which the protocol says to skip, are cut out of the frame (kio
stops at them): `check` returns the frame kio may read.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Union, get_args, get_origin

from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    get_schema_field_type,
    is_optional,
)


class FrameRefused(ValueError):
    """The frame is not a well-formed request of the schema it names."""


# (frame, position, edits) -> the position after the field; edits collects the unknown
# tagged fields to cut out, as (start, end, replacement) spans
Walk = Callable[[bytes, int, list], int]

_FIXED_SIZES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint8": 1, "uint16": 2, "uint32": 4,
                "uint64": 8, "float64": 8, "bool": 1, "uuid": 16, "error_code": 2, "timedelta_i32": 4,
                "timedelta_i64": 8, "datetime_i64": 8}
_VARIABLE = ("string", "bytes", "records")
_VARINT_BYTES = 5  # Kafka's unsigned varint: 32 bits in at most five bytes


def check(frame: bytes, header_cls: type, body_cls: type) -> bytes:
    """The frame kio may read: `frame` itself, or a copy without its unknown tagged fields.
    Raises FrameRefused. Bytes after the body are left alone (Kafka ignores them)."""
    edits: list = []
    position = _entity_walk(header_cls, False)(frame, 0, edits)
    position = _entity_walk(body_cls, False)(frame, position, edits)
    if position > len(frame):  # fixed-size fields are skipped unchecked: this is their check
        raise FrameRefused(f"the frame ends {position - len(frame)} bytes before its {body_cls.__name__} does")
    return _apply(frame, edits) if edits else frame


def read_uvarint(frame: bytes, position: int, what: str) -> tuple[int, int]:
    """(value, position after it)."""
    value = shift = 0
    for index in range(position, position + _VARINT_BYTES):
        if index >= len(frame):
            raise FrameRefused(f"the frame ends inside {what}")
        byte = frame[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index + 1
        shift += 7
    raise FrameRefused(f"{what}: a varint longer than {_VARINT_BYTES} bytes")


_ONE_BYTE = tuple(bytes([n]) for n in range(128))


def encode_uvarint(value: int) -> bytes:
    if 0 <= value < 128:  # most lengths, counts and tags: one byte, made once
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _apply(frame: bytes, edits: list) -> bytes:
    parts, kept_from = [], 0
    for start, end, replacement in sorted(edits):
        parts += [frame[kept_from:start], replacement]
        kept_from = end
    parts.append(frame[kept_from:])
    return b"".join(parts)


# --- one walk per field kind; each knows its minimal encoded size -------------------------

@dataclasses.dataclass(frozen=True)
class _Step:
    walk: Walk
    min_size: int
    fixed: bool = False  # always min_size bytes: skipped, not walked (check() checks the end)


def _fixed(size: int) -> _Step:
    def walk(frame: bytes, position: int, edits: list) -> int:
        return position + size
    return _Step(walk, size, fixed=True)


def _compact_bytes(nullable: bool, what: str) -> _Step:
    def walk(frame: bytes, position: int, edits: list) -> int:
        length, position = read_uvarint(frame, position, what)
        if length == 0:
            if not nullable:
                raise FrameRefused(f"{what}: null where the schema allows none")
            return position
        if position + length - 1 > len(frame):
            raise FrameRefused(f"{what}: {length - 1} bytes claimed, {len(frame) - position} left")
        return position + length - 1
    return _Step(walk, 1)


def _legacy_bytes(width: int, nullable: bool, what: str) -> _Step:
    def walk(frame: bytes, position: int, edits: list) -> int:
        if position + width > len(frame):
            raise FrameRefused(f"the frame ends inside {what}")
        length = int.from_bytes(frame[position:position + width], "big", signed=True)
        position += width
        if length < 0:
            if length == -1 and nullable:
                return position
            raise FrameRefused(f"{what}: length {length}" + (" (null where the schema allows none)"
                                                               if length == -1 else ""))
        if position + length > len(frame):
            raise FrameRefused(f"{what}: {length} bytes claimed, {len(frame) - position} left")
        return position + length
    return _Step(walk, width)


def _array(element: _Step, compact: bool, nullable: bool, what: str) -> _Step:
    least = max(1, element.min_size)  # an element takes a byte at least, as in Kafka's reader
    element_walk = element.walk

    def walk(frame: bytes, position: int, edits: list) -> int:
        if compact:
            count, position = read_uvarint(frame, position, what)
            count -= 1  # compact arrays carry their length plus one; zero is null
        else:
            if position + 4 > len(frame):
                raise FrameRefused(f"the frame ends inside {what}")
            count = int.from_bytes(frame[position:position + 4], "big", signed=True)
            position += 4
        if count < 0:
            if count == -1 and nullable:
                return position
            raise FrameRefused(f"{what}: array length {count}" + (" (null where the schema allows none)"
                                                                  if count == -1 else ""))
        if count * least > len(frame) - position:
            raise FrameRefused(f"{what}: {count} elements claimed, {len(frame) - position} bytes left")
        if element.fixed:
            return position + count * element.min_size
        for _ in range(count):
            position = element_walk(frame, position, edits)
        return position
    return _Step(walk, 1 if compact else 4)


def _nullable_struct(inner: _Step, what: str) -> _Step:
    inner_walk = inner.walk

    def walk(frame: bytes, position: int, edits: list) -> int:
        if position >= len(frame):
            raise FrameRefused(f"the frame ends inside {what}")
        marker = frame[position]
        if marker == 0xFF:  # -1: null (KIP-893)
            return position + 1
        if marker != 1:
            raise FrameRefused(f"{what}: null marker {marker} (1 or -1 expected)")
        return inner_walk(frame, position + 1, edits)
    return _Step(walk, 1)


# --- schemas: kio's dataclasses, compiled once per (class, nullability) --------------------

def _primitive(kafka_type: str, flexible: bool, nullable: bool, what: str) -> _Step:
    if kafka_type in _FIXED_SIZES:
        return _fixed(_FIXED_SIZES[kafka_type])
    if kafka_type not in _VARIABLE:
        raise TypeError(f"{what}: kafka type {kafka_type!r} is unknown to the bounds check")
    if flexible:
        return _compact_bytes(nullable, what)
    return _legacy_bytes(2 if kafka_type == "string" else 4, nullable, what)


def _flexible(cls: type) -> bool:
    """kio's mark of a schema version with compact lengths and tagged fields."""
    return bool(getattr(cls, "__flexible__"))


def _array_nullable(field: dataclasses.Field) -> bool:
    return get_origin(field.type) in (UnionType, Union) and NoneType in get_args(field.type)


def _field_step(cls: type, field: dataclasses.Field, tagged: bool) -> _Step:
    """The walk of one field, as kio reads it (kio.serial._introspect decides the kind)."""
    what = f"{cls.__name__}.{field.name}"
    flexible = _flexible(cls)
    if cls.__name__ == "RequestHeader" and field.name == "client_id":
        return _legacy_bytes(2, True, what)  # always a legacy nullable string, as in Kafka
    kind = classify_field(field)
    if isinstance(kind, PrimitiveField):
        # kio reads a tagged primitive as not nullable (its absence is its null)
        return _primitive(get_schema_field_type(field), flexible, is_optional(field) and not tagged, what)
    if isinstance(kind, EntityField):
        return _entity_step(kind.type_, is_optional(field))
    if isinstance(kind, PrimitiveTupleField):
        element = _primitive(get_schema_field_type(field), flexible, False, what)
    elif isinstance(kind, EntityTupleField):
        element = _entity_step(kind.type_, False)
    else:
        raise TypeError(f"{what}: field kind {kind!r} is unknown to the bounds check")
    return _array(element, flexible, _array_nullable(field), what)


@functools.cache
def _entity_step(cls: type, nullable: bool) -> _Step:
    fields = dataclasses.fields(cls)
    regular = [_field_step(cls, f, False) for f in fields if get_field_tag(f) is None]
    tagged = {int(tag): _field_step(cls, f, True) for f in fields if (tag := get_field_tag(f)) is not None}
    flexible = _flexible(cls)
    min_size = sum(s.min_size for s in regular) + (1 if flexible else 0)
    if not flexible and all(s.fixed for s in regular):
        step = _fixed(min_size)
    else:
        step = _Step(_fields_walk(regular, tagged if flexible else None, cls.__name__), min_size)
    return _nullable_struct(step, cls.__name__) if nullable else step


def _fields_walk(regular: list[_Step], tagged: dict[int, _Step] | None, what: str) -> Walk:
    """Fixed-size fields are summed into a skip before the next variable one."""
    steps: list[tuple[int, Walk]] = []
    skip = 0
    for step in regular:
        if step.fixed:
            skip += step.min_size
        else:
            steps.append((skip, step.walk))
            skip = 0
    plan, tail = tuple(steps), skip
    tags_walk = _tagged_fields(tagged, what) if tagged is not None else None

    def walk(frame: bytes, position: int, edits: list) -> int:
        for skip, field_walk in plan:
            position = field_walk(frame, position + skip, edits)
        position += tail
        if tags_walk is None:
            return position
        if position < len(frame) and frame[position] == 0:  # no tagged fields: most entities
            return position + 1
        return tags_walk(frame, position, edits)
    return walk


def _entity_walk(cls: type, nullable: bool) -> Walk:
    return _entity_step(cls, nullable).walk


def _tagged_fields(known: dict[int, _Step], what: str) -> Walk:
    walks = {tag: step.walk for tag, step in known.items()}

    def walk(frame: bytes, position: int, edits: list) -> int:
        count_at = position
        count, position = read_uvarint(frame, position, f"{what}'s tagged fields")
        if count * 2 > len(frame) - position:  # a tag and a size: two bytes at least each
            raise FrameRefused(f"{what}: {count} tagged fields claimed, {len(frame) - position} bytes left")
        count_end, kept = position, count
        for _ in range(count):
            start = position
            tag, position = read_uvarint(frame, position, f"{what}'s tag")
            size, position = read_uvarint(frame, position, f"{what}'s tag {tag}")
            end = position + size
            if end > len(frame):
                raise FrameRefused(f"{what}: tag {tag} of {size} bytes, {len(frame) - position} left")
            field_walk = walks.get(tag)
            if field_walk is None:  # unknown: skipped, as the protocol says
                edits.append((start, end, b""))
                kept -= 1
            elif field_walk(frame, position, edits) != end:
                raise FrameRefused(f"{what}: tag {tag} does not fill the {size} bytes it declares")
            position = end
        if kept != count:
            edits.append((count_at, count_end, encode_uvarint(kept)))
        return position
    return walk
