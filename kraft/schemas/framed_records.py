"""Confluent's wire format for a record's key or value, read back: the magic byte 0, the
schema id as a 4-byte big-endian int, then the payload (Avro binary; JSON text for JSON
Schema; for Protobuf the message indexes (protobuf_indexes.py) then the binary message).

`unframe` tells a framed value from any other bytes; `decode` turns a payload into JSON
data with the schema its id names: Avro in Avro's JSON encoding (avro_binary.py), JSON as
it is, Protobuf through the protobuf runtime's JSON mapping (JSON names, fields at their
default values shown too: what Confluent REST Proxy prints with Java's JsonFormat). Pure."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from kraft.schemas import avro_binary, protobuf_indexes
from kraft.schemas.avro import AvroSchema
from kraft.schemas.formats import InvalidSchema, ParsedSchema
from kraft.schemas.protobuf import ProtobufSchema

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")  # the magic byte, the schema id
MAX_SCHEMA_ID = 2**31 - 1


class NotDecodable(ValueError):
    """The payload is not data of the schema its id names (the message says why)."""


@dataclass(frozen=True)
class Frame:
    schema_id: int
    payload: bytes


@dataclass(frozen=True)
class Decoded:
    data: Any  # JSON-ready
    message: str | None = None  # Protobuf: the full name of the message the indexes name


def frame(schema_id: int, payload: bytes) -> bytes:
    """The bytes a Confluent serializer writes for `payload` under `schema_id`."""
    return HEADER.pack(MAGIC_BYTE, schema_id) + payload


def unframe(data: bytes | None) -> Frame | None:
    """The schema id and payload of a framed value; None for other bytes (too short, another
    first byte, or an id no registry gives)."""
    if data is None or len(data) < HEADER.size or data[0] != MAGIC_BYTE:
        return None
    _, schema_id = HEADER.unpack_from(data)
    if not 0 < schema_id <= MAX_SCHEMA_ID:
        return None
    return Frame(schema_id, data[HEADER.size:])


def decode(schema: ParsedSchema, payload: bytes) -> Decoded:
    """The payload as JSON data, read with `schema`; NotDecodable if it is not its data."""
    if isinstance(schema, AvroSchema):
        try:
            return Decoded(avro_binary.decode(schema.root, payload))
        except avro_binary.AvroDecodeError as exc:
            raise NotDecodable(f"not Avro data of the schema: {exc}") from None
    if isinstance(schema, ProtobufSchema):
        return _decode_protobuf(schema, payload)
    if schema.schema_type == "JSON":
        try:
            return Decoded(json.loads(payload.decode("utf-8"), parse_int=_json_int))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise NotDecodable(f"not JSON text: {exc}") from None
    raise NotDecodable(f"records of schema type {schema.schema_type} are not decoded here")


def _json_int(text: str) -> int | float:
    """An integer as JSON tools carry it: beyond 64 bits as a float (as JavaScript reads it)."""
    number = int(text)
    return number if -2**63 <= number < 2**64 else float(number)


def _decode_protobuf(schema: ProtobufSchema, payload: bytes) -> Decoded:
    try:
        indexes, at = protobuf_indexes.decode(payload)
        name = schema.message_name(indexes)
        message = schema.message_class(name).FromString(payload[at:])
    except (ValueError, InvalidSchema, DecodeError, RecursionError) as exc:
        raise NotDecodable(f"not Protobuf data of the schema: {exc}") from None
    try:
        data = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an Any naming a type not in the schema
        raise NotDecodable(f"the Protobuf message has no JSON form: {exc}") from None
    return Decoded(data, name)
