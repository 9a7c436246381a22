"""A registered schema's records: JSON data (as the REST door carries it) to the payload
Confluent's serializers write after the framing header (kraft/schemas/wire_format.py), and
back. One codec per format: avro/records.py, json_schema/records.py, protobuf/records.py;
record_codec_table.py picks one for a schema. Pure."""

from __future__ import annotations

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

