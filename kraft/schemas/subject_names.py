"""Confluent's subject name strategies, as its serializers and REST Proxy name a subject for
a topic's keys or values: TOPIC_NAME (`<topic>-key` / `<topic>-value`, the default),
RECORD_NAME (the schema's record name) and TOPIC_RECORD_NAME (`<topic>-<record name>`).
The record name is the Avro record's full name, the JSON Schema's `title`, or the full
name of the Protobuf schema's first message. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from kraft.errors import BadRequest, InvalidValue
from kraft.schemas.formats import ParsedSchema

if TYPE_CHECKING:  # by schema_type below: a format's module loads at its first use (format_table.py)
    from kraft.schemas.avro.schema import AvroSchema
    from kraft.schemas.json_schema.schema import JsonSchema
    from kraft.schemas.protobuf.schema import ProtobufSchema

STRATEGIES = ("TOPIC_NAME", "RECORD_NAME", "TOPIC_RECORD_NAME")


def record_name(schema: ParsedSchema) -> str | None:
    """The name RECORD_NAME uses: Avro's record full name, JSON Schema's title, Protobuf's
    first message full name."""
    if schema.schema_type == "AVRO":
        return cast("AvroSchema", schema).record_name
    if schema.schema_type == "JSON":
        document = cast("JsonSchema", schema).document
        title = document.get("title") if isinstance(document, dict) else None
        return title if isinstance(title, str) else None
    if schema.schema_type == "PROTOBUF":
        names = cast("ProtobufSchema", schema).message_names()
        return names[0] if names else None
    return None


def subject_name(strategy: str, topic: str, is_key: bool, schema: ParsedSchema | None) -> str:
    """The subject; `schema` None when only a subject is known so far (then only TOPIC_NAME
    can name one: 400 for the others, as Confluent REST Proxy answers)."""
    if strategy == "TOPIC_NAME":
        return f"{topic}-{'key' if is_key else 'value'}"
    if strategy not in STRATEGIES:
        raise InvalidValue(f"subject_name_strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if schema is None:
        raise BadRequest(f"subject_name_strategy={strategy} names the subject after the schema's record: "
                         "give the schema (schema_id or its text), or the subject")
    subject = subject_for(strategy, topic, is_key, record_name(schema))
    if subject is None:
        raise InvalidValue(f"subject_name_strategy={strategy}: the schema names no record (an Avro record, "
                           "a JSON Schema title, a Protobuf message)")
    return subject


def subject_for(strategy: str, topic: str, is_key: bool, name: str | None) -> str | None:
    """The subject a strategy (one of STRATEGIES) names, given the schema's record name;
    None when a record name strategy meets a schema that names no record."""
    if strategy == "TOPIC_NAME":
        return f"{topic}-{'key' if is_key else 'value'}"
    if name is None:
        return None
    return name if strategy == "RECORD_NAME" else f"{topic}-{name}"
