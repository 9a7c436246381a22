"""JSON Schema records as Confluent's JSON Schema serializer writes them: the data,
validated against the schema (jsonschema, the schema's own draft, its references resolved
as the registry resolves them), as compact UTF-8 JSON text. Pure."""

from __future__ import annotations

import json
from typing import Any

from jsonschema.exceptions import best_match

from kraft.schemas.json_schema.schema import JsonSchema
from kraft.schemas.json_schema.load import VALIDATORS, load
from kraft.schemas.patterns import PatternTooSlow, pattern_budget
from kraft.schemas.record_codecs import DataMismatch, Undecodable


class JsonSchemaCodec:
    def __init__(self, schema: object) -> None:
        if not isinstance(schema, JsonSchema):
            raise TypeError(f"a JSON Schema codec needs a JsonSchema, got {type(schema).__name__}")
        loaded = load(schema.canonical(), schema.references)
        # the draft the registry checked the schema against (draft 7 for a $schema it does
        # not know), never a second reading of $schema that may fail or differ
        validator_class: Any = VALIDATORS[loaded.draft]
        self._validator = validator_class(loaded.document, registry=loaded.registry)

    def encode(self, data: object) -> bytes:
        try:
            with pattern_budget():
                error = best_match(self._validator.iter_errors(data))
        except PatternTooSlow as e:
            raise DataMismatch(f"the data could not be validated against the schema: {e}") from None
        except RecursionError:
            raise DataMismatch("the data or the schema is nested too deeply to validate") from None
        except Exception as e:  # noqa: BLE001 - a $ref or pattern that fails only on this data
            raise DataMismatch(f"the data could not be validated against the schema: {type(e).__name__}: "
                               f"{str(e)[:300]}") from None
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            raise DataMismatch(f"the data does not fit the JSON Schema at /{where}: {error.message[:500]}")
        try:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (ValueError, UnicodeEncodeError, RecursionError) as e:
            raise DataMismatch(f"the data cannot be written as JSON: {e}") from None

    def decode(self, payload: bytes) -> object:
        try:
            return json.loads(payload.decode("utf-8"), parse_int=_json_int)
        except (ValueError, RecursionError) as e:
            raise Undecodable(f"the payload is not JSON text: {e}") from None


def _json_int(text: str) -> int | float:
    """An integer as JSON tools carry it: beyond 64 bits as a float (as JavaScript reads it;
    the HTTP answer's encoder takes no wider integer)."""
    number = int(text)
    return number if -2**63 <= number < 2**64 else float(number)
