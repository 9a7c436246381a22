"""Kafka message entities to bytes, byte for byte as kio writes them, at a fraction of the cost.

kio's writers check every value against its phantom type as they write it (an
`isinstance` through an ABC per integer, a temporary buffer per flexible entity for its
tagged fields), which made encoding the largest fixed cost of a small request on the
Kafka listener and between brokers. The layout here is kio's own (its field order, types,
tags and defaults, read from the entity classes with kio's introspection); only the
writing is different: one bytearray, pre-bound `struct` packers, no per-value checks (the
values come from kraft's own handlers and `entities.build`, not from outside).
A unit test compares the bytes with kio's for every message version kraft serves.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from collections.abc import Callable
from typing import Any

from kio.serial._implicit_defaults import get_tagged_field_default
from kio.serial._introspect import (EntityField, EntityTupleField, classify_field, get_field_tag,
                                    get_schema_field_type, is_optional)
from kio.serial._shared import NullableEntityMarker

from kraft.kafka.wire.frame_bounds import encode_uvarint

Write = Callable[[bytearray, Any], None]

_NULL_UUID = bytes(16)
_NOT_NULL = struct.pack(">b", NullableEntityMarker.not_null.value)
_NULL = struct.pack(">b", NullableEntityMarker.null.value)
def _packer(fmt: str) -> Write:
    pack = struct.Struct(fmt).pack

    def write(out: bytearray, value: Any) -> None:
        out += pack(value)
    return write


_I16 = struct.Struct(">h").pack
_I32 = struct.Struct(">i").pack
_I64 = struct.Struct(">q").pack


def _error_code(out: bytearray, value: Any) -> None:
    out += _I16(value.value)


def _millis(value: Any) -> int:
    return round(value.total_seconds() * 1000)


def _timedelta_i32(out: bytearray, value: Any) -> None:
    out += _I32(_millis(value))


def _timedelta_i64(out: bytearray, value: Any) -> None:
    out += _I64(_millis(value))


def _datetime_i64(out: bytearray, value: Any) -> None:
    out += _I64(-1 if value is None else round(value.timestamp() * 1000))


def _uuid(out: bytearray, value: Any) -> None:
    out += _NULL_UUID if value is None else value.bytes


def _bool(out: bytearray, value: Any) -> None:
    out += b"\x01" if value else b"\x00"


def _compact_bytes(out: bytearray, value: Any) -> None:
    if value is None:
        out += b"\x00"
        return
    if isinstance(value, str):
        value = value.encode()
    out += encode_uvarint(len(value) + 1)
    out += value


def _legacy_string(out: bytearray, value: Any) -> None:
    if value is None:
        out += _I16(-1)
        return
    data = value.encode()
    out += _I16(len(data))  # struct refuses a length past int16, as kio does
    out += data


def _legacy_bytes(out: bytearray, value: Any) -> None:
    if value is None:
        out += _I32(-1)
        return
    out += _I32(len(value))
    out += value


_FIXED = {"int8": ">b", "int16": ">h", "int32": ">i", "int64": ">q", "uint8": ">B", "uint16": ">H",
          "uint32": ">I", "uint64": ">Q", "float64": ">d"}
_OTHERS: dict[str, Write] = {"uuid": _uuid, "bool": _bool, "error_code": _error_code,
                             "timedelta_i32": _timedelta_i32, "timedelta_i64": _timedelta_i64,
                             "datetime_i64": _datetime_i64}


def _primitive(kafka_type: str, flexible: bool) -> Write:
    if kafka_type in _FIXED:
        return _packer(_FIXED[kafka_type])
    if kafka_type in ("string", "bytes", "records"):
        if flexible:
            return _compact_bytes
        return _legacy_string if kafka_type == "string" else _legacy_bytes
    return _OTHERS[kafka_type]


def _array(item: Write, flexible: bool) -> Write:
    if flexible:
        def write_compact(out: bytearray, items: Any) -> None:
            if items is None:
                out += b"\x00"
                return
            out += encode_uvarint(len(items) + 1)
            for value in items:
                item(out, value)
        return write_compact

    def write_legacy(out: bytearray, items: Any) -> None:
        if items is None:
            out += _I32(-1)
            return
        out += _I32(len(items))
        for value in items:
            item(out, value)
    return write_legacy


# the kinds whose writers above would write a null: refused where the field may not be one,
# as kio refuses it (a Kafka client rejects a null there)
_NULLABLE_KINDS = frozenset({"string", "bytes", "records", "datetime_i64"})


def _never_null(write: Write, name: str) -> Write:
    def write_present(out: bytearray, value: Any) -> None:
        if value is None:
            raise TypeError(f"{name} may not be null")
        write(out, value)
    return write_present


def _nullable_entity(write: Write) -> Write:
    def write_nullable(out: bytearray, value: Any) -> None:
        if value is None:
            out += _NULL
            return
        out += _NOT_NULL
        write(out, value)
    return write_nullable


class Encoded(bytes):
    """An entity already written (a cached part of an answer): written as it is."""


def _or_encoded(write: Write) -> Write:
    def write_item(out: bytearray, value: Any) -> None:
        if type(value) is Encoded:
            out += value
        else:
            write(out, value)
    return write_item


def _field_writer(entity_type: type, field: dataclasses.Field, tagged: bool) -> Write:
    flexible = entity_type.__flexible__  # type: ignore[attr-defined]
    if entity_type.__name__ == "RequestHeader" and field.name == "client_id":
        return _legacy_string  # Kafka's request header keeps the legacy string, flexible or not
    kind = classify_field(field)
    if isinstance(kind, (EntityField, EntityTupleField)):
        item = entity_writer(kind.type_)
        if isinstance(kind, EntityField) and not tagged and is_optional(field):
            item = _nullable_entity(item)
        elif isinstance(kind, EntityTupleField):
            item = _or_encoded(item)
    else:
        kafka_type = get_schema_field_type(field)
        item = _primitive(kafka_type, flexible)
        # a tagged field is optional by its tag's absence, so its value is never null (kio's rule)
        if not kind.is_array and kafka_type in _NULLABLE_KINDS and (tagged or not is_optional(field)):
            item = _never_null(item, f"{entity_type.__qualname__}.{field.name}")
    return _array(item, flexible) if kind.is_array else item


@functools.cache
def entity_writer(entity_type: type) -> Write:
    """The writer of one entity class, built once: fields in order, then (flexible) the
    tagged fields that differ from their defaults, by tag."""
    plain: list[tuple[str, Write]] = []
    tags: list[tuple[int, str, Write, Any]] = []
    for field in dataclasses.fields(entity_type):
        tag = get_field_tag(field)
        write = _field_writer(entity_type, field, tag is not None)
        if tag is None:
            plain.append((field.name, write))
        else:
            default = field.default if field.default is not dataclasses.MISSING else get_tagged_field_default(field)
            tags.append((tag, field.name, write, default))
    tags.sort(key=lambda t: t[0])
    if not entity_type.__flexible__:  # type: ignore[attr-defined]
        if tags:
            raise ValueError(f"{entity_type.__qualname__}: tagged fields on a non-flexible entity")

        def write_fixed(out: bytearray, entity: Any) -> None:
            for name, write in plain:
                write(out, getattr(entity, name))
        return write_fixed

    if not tags:
        def write_untagged(out: bytearray, entity: Any) -> None:
            for name, write in plain:
                write(out, getattr(entity, name))
            out += b"\x00"  # no tagged fields
        return write_untagged

    def write_flexible(out: bytearray, entity: Any) -> None:
        for name, write in plain:
            write(out, getattr(entity, name))
        present = [(tag, name, write) for tag, name, write, default in tags if getattr(entity, name) != default]
        out += encode_uvarint(len(present))
        for tag, name, write in present:
            value = bytearray()
            write(value, getattr(entity, name))
            out += encode_uvarint(tag)
            out += encode_uvarint(len(value))
            out += value
    return write_flexible


def encode_entity(entity_type: type, entity: Any) -> Encoded:
    """One entity written alone, to be placed in a later answer as it is."""
    out = bytearray()
    entity_writer(entity_type)(out, entity)
    return Encoded(out)


def frame(*entities: Any) -> bytes:
    """The length-prefixed frame of entities written one after the other (a header, a body)."""
    out = bytearray(4)
    for entity in entities:
        entity_writer(entity.__class__)(out, entity)
    struct.pack_into(">i", out, 0, len(out) - 4)
    return bytes(out)
