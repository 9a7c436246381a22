"""kraft's compiled writer (kraft/kafka/wire/wire_writer.py) writes every Kafka message kio
knows byte for byte as kio's own writer does: every request, response and header schema
at every version, with every field set (tagged ones away from their defaults, so their
tags are written) and again with optional fields null and tagged ones at their defaults."""

from __future__ import annotations

import dataclasses
import datetime
import io
import uuid
from pkgutil import resolve_name

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.index import schema_name_map
from kio.serial import entity_writer as kio_writer
from kio.serial._implicit_defaults import get_tagged_field_default
from kio.serial._introspect import (EntityField, EntityTupleField, PrimitiveTupleField, classify_field, get_field_tag,
                                    get_schema_field_type, is_optional)

from kraft.kafka.wire import wire_writer
from kraft.kafka.wire.codec import load_request_schema, load_response_schema

_SAMPLES = {
    "int8": -7, "int16": -300, "int32": 70_000, "int64": -(1 << 40), "uint8": 200, "uint16": 60_000,
    "uint32": 4_000_000_000, "uint64": 1 << 60, "float64": 2.5, "string": "naïve-€", "bytes": b"\x00\xff" * 70,
    "records": b"r" * 200, "bool": True, "error_code": ErrorCode.not_leader_or_follower,
    "timedelta_i32": datetime.timedelta(milliseconds=1500), "timedelta_i64": datetime.timedelta(days=3),
    "datetime_i64": datetime.datetime(2026, 11, 27, 1, 2, 3, 456000, tzinfo=datetime.timezone.utc),
    "uuid": uuid.UUID("6e2d8a3c-0f1b-4c6e-9d2a-5b7c8e9f0a1b"),
}


def sample(cls, full: bool, depth: int = 0):
    """An instance with every field set (`full`), or with optional ones null and tagged
    ones at their defaults."""
    values = {}
    for field in dataclasses.fields(cls):
        tagged = get_field_tag(field) is not None
        if tagged and not full:
            values[field.name] = (field.default if field.default is not dataclasses.MISSING
                                  else get_tagged_field_default(field))
            continue
        if not full and is_optional(field):
            values[field.name] = None
            continue
        kind = classify_field(field)
        if isinstance(kind, EntityTupleField):
            values[field.name] = tuple(sample(kind.type_, full, depth + 1) for _ in range(2 if depth < 3 else 0))
        elif isinstance(kind, EntityField):
            values[field.name] = sample(kind.type_, full, depth + 1)
        elif isinstance(kind, PrimitiveTupleField):
            values[field.name] = (_SAMPLES[get_schema_field_type(field)],) * 3
        else:
            values[field.name] = _SAMPLES[get_schema_field_type(field)]
    return cls(**values)


def kio_bytes(entity) -> bytes:
    buf = io.BytesIO()
    kio_writer(type(entity))(buf, entity)
    return buf.getvalue()


def ours(entity) -> bytes:
    out = bytearray()
    wire_writer.entity_writer(type(entity))(out, entity)
    return bytes(out)


def every_entity_class() -> set[type]:
    """Each request and response kio knows, at every version, and the headers they name."""
    classes = {resolve_name(path) for versions in schema_name_map.values()
               for kinds in versions.values() for path in kinds.values()}
    return classes | {cls.__header_schema__ for cls in classes if getattr(cls, "__header_schema__", None)}


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_every_message_is_written_as_kio_writes_it():
    classes = every_entity_class()
    assert len(classes) > 600  # every version of every API, and the headers
    differ = [f"{cls.__module__}.{cls.__qualname__} ({'full' if full else 'nulls'})"
              for cls in sorted(classes, key=lambda c: c.__module__) for full in (True, False)
              if ours(entity := sample(cls, full)) != kio_bytes(entity)]
    assert not differ, differ[:20]


def test_the_frames_the_listener_sends_match_kio():
    request = load_request_schema(1, 17)
    response = load_response_schema(1, 17)
    for entity in (sample(request, True), sample(response, True), sample(request, False)):
        header_cls = type(entity).__header_schema__
        header = sample(header_cls, True)
        framed = wire_writer.frame(header, entity)
        body = kio_bytes(header) + kio_bytes(entity)
        assert framed == len(body).to_bytes(4, "big") + body


def test_a_null_where_the_message_allows_none_is_refused_as_kio_refuses_it():
    from kio.schema.metadata.v12 import response as metadata
    broker = metadata.MetadataResponseBroker(node_id=1, host=None, port=9092, rack=None)  # host may not be null
    with pytest.raises(TypeError):
        kio_bytes(broker)
    with pytest.raises(TypeError, match="host may not be null"):
        ours(broker)
    assert ours(dataclasses.replace(broker, host="h")) == kio_bytes(dataclasses.replace(broker, host="h"))


def test_a_value_too_long_for_its_legacy_length_is_refused():
    legacy = load_response_schema(18, 0)  # ApiVersions v0: not flexible
    entity = sample(legacy, True)
    header = sample(load_request_schema(18, 0).__header_schema__, True)
    too_long = dataclasses.replace(header, client_id="x" * 40_000)
    with pytest.raises(Exception):
        ours(too_long)
    assert ours(entity) == kio_bytes(entity)
