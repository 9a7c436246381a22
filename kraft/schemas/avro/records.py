"""Avro records as Confluent's serializers write them: the Avro binary encoding of the
datum (fastavro), with the data in and out as Avro's JSON encoding (a union's value
wrapped in its branch's name, `{"string": "x"}`; bytes as ISO-8859-1 text), as Confluent
REST Proxy reads and renders Avro: in through avro/json_datum.py (or fastavro's JSON
decoder for what that does not take), out through fastavro's JSON writer. Pure."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from fastavro import json_reader, parse_schema, schemaless_writer
from fastavro.validation import validate

from kraft.schemas.avro import binary as avro_binary

from kraft.schemas.avro import json_datum as avro_json_datum
from kraft.schemas.avro.schema import AvroSchema
from kraft.schemas.record_codecs import DataMismatch, Undecodable


class AvroCodec:
    def __init__(self, schema: object, references: Mapping[str, str]) -> None:
        if not isinstance(schema, AvroSchema):
            raise TypeError(f"an Avro codec needs an AvroSchema, got {type(schema).__name__}")
        named: dict[str, Any] = {}
        for text in references.values():  # the referenced named types first, by full name
            parse_schema(json.loads(text), named_schemas=named)
        self._schema = parse_schema(json.loads(schema.canonical()), named_schemas=named)
        self._root = schema.root
        # most schemas: Avro's JSON straight to the datum, each union's branch as the data names it
        self._direct = avro_json_datum.supported(self._schema)

    def encode(self, data: object) -> bytes:
        try:
            if self._direct:
                value = avro_json_datum.datum(self._schema, data)
            else:
                text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
                value = next(iter(json_reader(io.StringIO(text), self._schema)))
                validate(value, self._schema, raise_errors=True)
            out = io.BytesIO()
            schemaless_writer(out, self._schema, value)
        except DataMismatch as e:
            raise DataMismatch(f"the data does not fit the Avro schema {e}") from None
        except RecursionError:
            raise DataMismatch("the data is nested too deeply") from None
        except Exception as e:  # noqa: BLE001 - fastavro says "does not fit" in many exception types
            raise DataMismatch(f"the data does not fit the Avro schema: {_reason(e)}") from None
        return out.getvalue()

    def decode(self, payload: bytes) -> object:
        """Avro's JSON encoding of the payload, read by avro/binary.py: bounded on hostile
        bytes (an item count of 2**62 nulls is refused before any is read; fastavro's
        reader would loop through them)."""
        try:
            return avro_binary.decode(self._root, payload)
        except avro_binary.AvroDecodeError as e:
            raise Undecodable(f"the payload is not Avro written with the schema: {_reason(e)}") from None


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 500 else text[:500] + "..."
