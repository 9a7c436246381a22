"""A registered schema's records: JSON data (as the REST door carries it) to the payload
Confluent's serializers write after the framing header (kraft/schemas/wire_format.py), and
back. One codec per format: avro_records.py, json_schema_records.py, protobuf_records.py.
Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class DataMismatch(ValueError):
    """The data does not fit the schema (it cannot be written with it)."""


class Undecodable(ValueError):
    """The payload is not a record written with the schema."""


class RecordCodec(Protocol):
    def encode(self, data: object) -> bytes:
        """The payload of `data` written with the schema; DataMismatch if it does not fit."""
        ...

    def decode(self, payload: bytes) -> object:
        """The payload as JSON data; Undecodable if it was not written with the schema."""
        ...


def codec_for(schema_type: str, schema: object, references: Mapping[str, str]) -> RecordCodec:
    """The codec of a parsed schema (kraft/schemas/formats.py) of `schema_type`, with the
    texts of the schemas it references (name -> text, references of references first)."""
    # imported here: each codec pulls in its format's library
    if schema_type == "AVRO":
        from kraft.schemas.avro_records import AvroCodec
        return AvroCodec(schema, references)
    if schema_type == "JSON":
        from kraft.schemas.json_schema_records import JsonSchemaCodec
        return JsonSchemaCodec(schema)
    if schema_type == "PROTOBUF":
        from kraft.schemas.protobuf_records import ProtobufCodec
        return ProtobufCodec(schema)
    raise ValueError(f"no record codec for schema type {schema_type!r}")
