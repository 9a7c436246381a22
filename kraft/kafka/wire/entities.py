"""Plain values in, the codec's typed response entities out, for any API version.

Handlers describe an answer once, as dicts and lists with Kafka's field names; `build`
keeps the fields the chosen version has and converts ints to the codec's types
(error codes, millisecond durations and timestamps, UUIDs). A field the version needs
and the handler left out is a bug in the handler, said by name.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import uuid
from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode
from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField, classify_field, is_optional

from kraft.kafka.wire.wire_writer import Encoded

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _same(value):
    return value


def _error_code(value):
    return None if value is None else ErrorCode(int(value))


def _timedelta(value):
    return None if value is None else datetime.timedelta(milliseconds=int(value))


def _uuid(value):
    return value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(value)


def _bytes(value):
    return value.encode() if isinstance(value, str) else value


def _datetime(nullable: bool):
    def convert(value):
        if value is None:
            return None
        if value < 0 and nullable:  # -1 ("none"): null where the field may be, else written as -1
            return None
        return _EPOCH + datetime.timedelta(milliseconds=int(value))
    return convert


def _converter(field: dataclasses.Field, nullable: bool):
    """How a plain value becomes the field's codec value (ints stay as they are)."""
    kind = classify_field(field)
    if isinstance(kind, EntityTupleField):
        item = kind.type_
        return lambda value: None if value is None else tuple(
            v if type(v) is Encoded else build(item, v) for v in value)
    if isinstance(kind, EntityField):
        entity = kind.type_
        return lambda value: None if value is None else build(entity, value)
    if isinstance(kind, PrimitiveTupleField):
        return lambda value: None if value is None else tuple(value)
    kafka_type = field.metadata.get("kafka_type", "")
    if kafka_type == "error_code":
        return _error_code
    if kafka_type.startswith("timedelta_"):
        return _timedelta
    if kafka_type == "datetime_i64":
        return _datetime(nullable)
    if kafka_type == "uuid":
        return _uuid
    if kafka_type == "bytes":
        return _bytes
    return _same


@functools.cache
def field_kinds(cls) -> tuple[tuple[str, object, str, bool], ...]:
    """(name, classification, kafka_type, has_default) of each field of an entity class."""
    out = []
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        out.append((f.name, classify_field(f), f.metadata.get("kafka_type", ""), has_default))
    return tuple(out)


@functools.cache
def _converters(cls) -> tuple[tuple[str, Callable[[Any], Any], bool], ...]:
    """(name, converter, has_default) of each field of an entity class, made once."""
    out = []
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        out.append((f.name, _converter(f, is_optional(f)), has_default))
    return tuple(out)


def build(cls, data: dict):
    """An instance of entity class `cls` from `data`; keys the version lacks are ignored."""
    kwargs = {}
    for name, convert, has_default in _converters(cls):
        if name in data:
            kwargs[name] = convert(data[name])
        elif not has_default:
            raise KeyError(f"{cls.__module__}.{cls.__qualname__} needs field {name!r}")
    return cls(**kwargs)


def millis(value) -> int:
    """A codec duration or timestamp back to milliseconds (requests carry them)."""
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    if isinstance(value, datetime.datetime):
        return int((value - _EPOCH) / datetime.timedelta(milliseconds=1))
    return int(value)
