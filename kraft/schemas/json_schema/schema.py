"""The JSON format (JSON Schema) of the schema registry, as Confluent's.

- parse: the text is JSON and a valid schema of the draft its $schema names (4, 6, 7,
  2019-09 or 2020-12; draft 7 when none), each $ref resolvable among the schema itself and
  the references given (never fetched from the network);
- canonical: the schema as given, compact (Confluent stores JSON Schema without reordering);
- normalized: the same with every object's keys sorted (Confluent's normalize=true);
- read_errors: Confluent's JSON Schema compatibility rules (json_schema/diff.py), one
  verbose message per incompatible difference."""

from __future__ import annotations

import json
from typing import Any, Mapping

from kraft.schemas.formats import InvalidSchema, ParsedSchema
from kraft.schemas.json_schema.build import build
from kraft.schemas.json_schema.diff import ComparisonTooLarge, differences
from kraft.schemas.json_schema.differences import COMPATIBLE, message
from kraft.schemas.json_schema.load import LoadedSchema, WrittenNumber, load
from kraft.schemas.json_schema.model import Node


def compact(value: Any) -> str:
    """JSON as Confluent's Jackson writes it: no spaces, non-ASCII as is, numbers as written."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{compact(key)}:{compact(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(compact(item) for item in value) + "]"
    if isinstance(value, WrittenNumber):
        return value.text
    return json.dumps(value, ensure_ascii=False)


def sorted_keys(value: Any) -> Any:
    """Every object's keys in Java's String order (UTF-16 code units), arrays as they are."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value, key=lambda k: k.encode("utf-16-be"))}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


class JsonSchema:
    schema_type = "JSON"

    def __init__(self, loaded: LoadedSchema, references: Mapping[str, str]) -> None:
        self.document = loaded.document
        self.draft = loaded.draft
        self.references = dict(references)
        self.root: Node = build(loaded)
        self._canonical = compact(self.document)

    def canonical(self) -> str:
        return self._canonical

    def normalized(self) -> ParsedSchema:
        return JSON_SCHEMA.parse(compact(sorted_keys(self.document)), self.references)

    def read_errors(self, writer: ParsedSchema) -> list[str]:
        if not isinstance(writer, JsonSchema):
            return [f"the schema type changed from {writer.schema_type} to {self.schema_type}"]
        try:
            found = differences(writer.root, self.root)
        except (ComparisonTooLarge, RecursionError):
            return ["the schemas are too large or too deeply recursive to compare"]
        return [message(difference) for difference in found if difference.type not in COMPATIBLE]

    def __repr__(self) -> str:
        return f"JsonSchema({self._canonical[:80]!r})"


class JsonSchemaFormat:
    name = "JSON"

    def parse(self, text: str, references: Mapping[str, str]) -> JsonSchema:
        try:
            return JsonSchema(load(text, references), references)
        except InvalidSchema:
            raise
        except RecursionError:
            raise InvalidSchema("the schema is too deeply nested") from None
        except Exception as e:  # a schema the checks let through and the build could not take
            raise InvalidSchema(f"the schema is not a valid JSON Schema: {type(e).__name__}: {e}") from None


JSON_SCHEMA = JsonSchemaFormat()
