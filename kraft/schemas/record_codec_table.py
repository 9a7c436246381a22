"""The record codec of a registered schema, by its type (kraft/schemas/record_codecs.py). Pure.
Each codec's module (fastavro, jsonschema, protobuf) is imported at its first use, as the
formats are (format_table.py)."""

from __future__ import annotations

from collections.abc import Mapping

from kraft.schemas.formats import ParsedSchema
from kraft.schemas.record_codecs import RecordCodec


def codec_for(schema_type: str, schema: ParsedSchema, references: Mapping[str, str]) -> RecordCodec:
    """The codec of a parsed schema of `schema_type` (AVRO, JSON, PROTOBUF), with the texts
    of the schemas it references (name -> text, references of references first)."""
    if schema_type == "AVRO":
        from kraft.schemas.avro.records import AvroCodec
        return AvroCodec(schema, references)
    if schema_type == "JSON":
        from kraft.schemas.json_schema.records import JsonSchemaCodec
        return JsonSchemaCodec(schema)
    if schema_type == "PROTOBUF":
        from kraft.schemas.protobuf.records import ProtobufCodec
        return ProtobufCodec(schema)
    raise ValueError(f"no record codec for schema type {schema_type!r}")
