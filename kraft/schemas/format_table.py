"""The schema formats by the names Confluent's API gives them (`schemaType`): AVRO,
JSON and PROTOBUF; AVRO when a request names none, as Confluent. Pure.

Each format lives in a module of its own; the table holds those present."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from kraft.schemas.formats import SchemaFormat

DEFAULT_TYPE = "AVRO"
# schemaType -> (module, the SchemaFormat it exports)
_MODULES = {"AVRO": ("kraft.schemas.avro", "AVRO"),
            "JSON": ("kraft.schemas.json_schema", "JSON_SCHEMA"),
            "PROTOBUF": ("kraft.schemas.protobuf", "PROTOBUF")}


def _load() -> dict[str, SchemaFormat]:
    table: dict[str, SchemaFormat] = {}
    for name, (module_name, attribute) in _MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the format's own library is missing: a broken install, said loudly
            continue
        table[name] = getattr(module, attribute)
    return table


FORMATS: Mapping[str, SchemaFormat] = _load()


def schema_types() -> list[str]:
    """What GET /schemas/types answers."""
    return sorted(FORMATS)
