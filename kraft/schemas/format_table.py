"""The schema formats by the names Confluent's API gives them (`schemaType`): AVRO,
JSON (JSON Schema) and PROTOBUF; AVRO when a request or a stored record names none, as
Confluent. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from kraft.schemas.avro import AVRO
from kraft.schemas.formats import SchemaFormat
from kraft.schemas.json_schema import JSON_SCHEMA
from kraft.schemas.protobuf import PROTOBUF

DEFAULT_TYPE = "AVRO"
FORMATS: Mapping[str, SchemaFormat] = {f.name: f for f in (AVRO, JSON_SCHEMA, PROTOBUF)}
