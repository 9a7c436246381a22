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

from kio.schema.errors import ErrorCode
from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField, classify_field, is_optional

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@functools.cache
def _fields(cls) -> tuple[tuple[str, object, str, bool], ...]:
    """(name, classification, kafka_type, has_default) of each field of an entity class."""
    out = []
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        out.append((f.name, classify_field(f), f.metadata.get("kafka_type", ""), has_default))
    return tuple(out)


@functools.cache
def _nullable(cls) -> frozenset[str]:
    """The names of an entity class's fields that may be null."""
    return frozenset(f.name for f in dataclasses.fields(cls) if is_optional(f))


def _primitive(kafka_type: str, value, nullable: bool):
    if value is None:
        return None
    if kafka_type == "error_code":
        return ErrorCode(int(value))
    if kafka_type.startswith("timedelta_"):
        return datetime.timedelta(milliseconds=int(value))
    if kafka_type == "datetime_i64":  # -1 ("none"): null where the field may be, else written as -1
        return None if value < 0 and nullable else _EPOCH + datetime.timedelta(milliseconds=int(value))
    if kafka_type == "uuid":
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    if kafka_type == "bytes" and isinstance(value, str):
        return value.encode()
    return value


def build(cls, data: dict):
    """An instance of entity class `cls` from `data`; keys the version lacks are ignored."""
    kwargs = {}
    for name, kind, kafka_type, has_default in _fields(cls):
        if name not in data:
            if has_default:
                continue
            raise KeyError(f"{cls.__module__}.{cls.__qualname__} needs field {name!r}")
        value = data[name]
        if isinstance(kind, EntityTupleField):
            value = None if value is None else tuple(build(kind.type_, item) for item in value)
        elif isinstance(kind, EntityField):
            value = None if value is None else build(kind.type_, value)
        elif isinstance(kind, PrimitiveTupleField):
            value = None if value is None else tuple(value)
        else:
            value = _primitive(kafka_type, value, name in _nullable(cls))
        kwargs[name] = value
    return cls(**kwargs)


def millis(value) -> int:
    """A codec duration or timestamp back to milliseconds (requests carry them)."""
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    if isinstance(value, datetime.datetime):
        return int((value - _EPOCH) / datetime.timedelta(milliseconds=1))
    return int(value)
