"""Confluent's wire format for a record framed with a registered schema: the magic byte 0,
the schema id as a 4-byte big-endian int, then the payload (Avro binary; JSON text for
JSON Schema; for Protobuf the message indexes, then the binary message). What
confluent-kafka's serializers write and its deserializers expect. Pure."""

from __future__ import annotations

MAGIC_BYTE = 0
HEADER_SIZE = 5
MAX_SCHEMA_ID = 2**31 - 1


class NotFramed(ValueError):
    """The bytes do not start with the magic byte and a schema id."""


def frame(schema_id: int, payload: bytes) -> bytes:
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise ValueError(f"schema id {schema_id} is outside 0..{MAX_SCHEMA_ID}")
    return bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big") + payload


def unframe(data: bytes) -> tuple[int, bytes]:
    """(schema id, payload) of a framed record."""
    if len(data) < HEADER_SIZE:
        raise NotFramed(f"{len(data)} bytes are too few for the schema framing (magic byte and schema id)")
    if data[0] != MAGIC_BYTE:
        raise NotFramed(f"unknown magic byte {data[0]} (a framed record starts with {MAGIC_BYTE})")
    return int.from_bytes(data[1:HEADER_SIZE], "big"), data[HEADER_SIZE:]
