"""A well-formed request frame of every API and version kraft serves, built from kio's
schemas: one element per array, a short value in every field, every tagged field set
(so that each length the decoder reads, tagged ones too, is on the wire)."""

from __future__ import annotations

import dataclasses
import datetime
import io
import struct
import uuid

from kio.schema.errors import ErrorCode
from kio.serial import entity_writer
from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField, classify_field, get_field_tag

from kraft.kafka.connection.apis import SERVED
from kraft.kafka.wire.codec import load_request_schema

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_VALUES = {"string": "s", "bytes": b"b", "records": b"r", "uuid": uuid.UUID(int=1), "bool": True,
           "error_code": ErrorCode(0), "float64": 1.0, "timedelta_i32": datetime.timedelta(milliseconds=1),
           "timedelta_i64": datetime.timedelta(milliseconds=1), "datetime_i64": _EPOCH + datetime.timedelta(1)}


def sample(cls, null_at: tuple[str, ...] = ()):
    """An instance of entity class `cls` with every field set; the field at path `null_at`
    (field names from `cls` down, through arrays' single elements) is null instead."""
    values = {}
    for field in dataclasses.fields(cls):
        kind = classify_field(field)
        below = null_at[1:] if null_at[:1] == (field.name,) else ()
        if null_at == (field.name,):
            values[field.name] = None
        elif isinstance(kind, EntityField):
            values[field.name] = sample(kind.type_, below)
        elif isinstance(kind, EntityTupleField):
            values[field.name] = (sample(kind.type_, below),)
        else:
            one = _VALUES.get(field.metadata["kafka_type"], 1)
            values[field.name] = (one,) if isinstance(kind, PrimitiveTupleField) else one
    return cls(**values)


def array_paths(cls, above: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every array in entity class `cls`, nested ones too (tagged ones left
    out: their null is their absence)."""
    paths = []
    for field in dataclasses.fields(cls):
        if get_field_tag(field) is not None:
            continue
        kind = classify_field(field)
        if isinstance(kind, (EntityTupleField, PrimitiveTupleField)):
            paths.append(above + (field.name,))
        if isinstance(kind, (EntityField, EntityTupleField)):
            paths += array_paths(kind.type_, above + (field.name,))
    return paths


def request_frame(api_key: int, version: int, correlation_id: int = 7, null_at: tuple[str, ...] = ()) -> bytes:
    """The frame (without its 4-byte size) of a sample request, with a null at `null_at`."""
    schema = load_request_schema(api_key, version)
    header_cls = schema.__header_schema__
    buf = io.BytesIO()
    entity_writer(header_cls)(buf, header_cls(request_api_key=api_key, request_api_version=version,
                                              correlation_id=correlation_id, client_id="sample"))
    entity_writer(schema)(buf, sample(schema, null_at))
    return buf.getvalue()


def served_versions() -> list[tuple[int, int]]:
    return [(api.key, v) for api in sorted(SERVED.values(), key=lambda a: a.key)
            for v in range(api.min_version, api.max_version + 1)]


def sized(frame: bytes) -> bytes:
    return struct.pack(">i", len(frame)) + frame
