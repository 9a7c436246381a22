"""The schema formats by the names Confluent's API gives them (`schemaType`): AVRO,
JSON (JSON Schema) and PROTOBUF; AVRO when a request or a stored record names none, as
Confluent. Pure.

Each format's module is imported when the format is first asked for: a node that never
meets a Protobuf or JSON schema never loads protoc or jsonschema (a tenth of a second of
every node's start-up otherwise)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from kraft.schemas.formats import SchemaFormat

DEFAULT_TYPE = "AVRO"
_WHERE = {"AVRO": ("kraft.schemas.avro.schema", "AVRO"), "JSON": ("kraft.schemas.json_schema.schema", "JSON_SCHEMA"),
          "PROTOBUF": ("kraft.schemas.protobuf.schema", "PROTOBUF")}


class _Formats(Mapping[str, SchemaFormat]):
    def __getitem__(self, name: str) -> SchemaFormat:
        module, attribute = _WHERE[name]
        found: SchemaFormat = getattr(importlib.import_module(module), attribute)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


FORMATS: Mapping[str, SchemaFormat] = _Formats()
