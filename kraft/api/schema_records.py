"""Records in the REST door's schema formats (Confluent REST Proxy's): v3 key/value
objects naming a schema (`schema_id`, `schema_version`, `schema`, `subject`,
`subject_name_strategy`; `type` AVRO, JSONSCHEMA or PROTOBUF, required with a schema's
text, else inferred from the registered schema), v2's avro/jsonschema/protobuf embedded
formats (`key_schema[_id]`, `value_schema[_id]`), and consumed records decoded back to JSON. What is written is framed
as Confluent's serializers frame it (kraft/schemas/wire_format.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.schema_lookup import SCHEMA_TYPE, RegisteredSchema, SchemaDoor, door_of
from kraft.broker.access import Identity
from kraft.errors import (BadRequest, DataDoesNotFitSchema, InvalidValue, KeySchemaMissing, RecordNotDecodable,
                          SchemaNotFound, SchemaRefused, ValueSchemaMissing)
from kraft.schemas.patterns import open_request_budget
from kraft.schemas.record_codecs import DataMismatch, Undecodable
from kraft.schemas.subject_names import subject_name
from kraft.schemas.wire_format import MAX_SCHEMA_ID, NotFramed, frame, unframe

PLAIN_TYPES = ("JSON", "BINARY", "STRING")
SCHEMA_FIELDS = ("subject", "subject_name_strategy", "schema_id", "schema_version", "schema")
MAX_VERSION = 2**31 - 1
# v2's embedded schema formats: Content-Type (produce) / Accept (consume) and consumer "format"
V2_FORMATS = {"avro": "AVRO", "jsonschema": "JSON", "protobuf": "PROTOBUF"}
V2_MEDIA = {f"application/vnd.kafka.{name}.v2+json": name for name in V2_FORMATS}


def encode(schema: RegisteredSchema, data: object, what: str) -> bytes:
    """`data` written with the schema, framed; 42203 when it does not fit. Every record of
    the request shares one bound on the time its schemas' patterns may take."""
    open_request_budget()
    try:
        return frame(schema.schema_id, schema.codec.encode(data))
    except DataMismatch as e:
        raise DataDoesNotFitSchema(f"{what}: {e} (schema {schema.schema_id})") from None


# -- v3 ------------------------------------------------------------------------------------
def _int(spec: dict[str, Any], name: str, low: int, high: int, what: str, latest: bool = False) -> int | None:
    """An optional integer field in low..high (or -1, the latest, where `latest`)."""
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high or latest and value == -1):
        raise InvalidValue(f"{what}.{name} must be an integer between {low} and {high}, got {value!r}")
    return value


def _text(spec: dict[str, Any], name: str, what: str) -> str | None:
    value = spec.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidValue(f"{what}.{name} must be a non-empty string")
    return value


def _check_type(kind: str | None, found: RegisteredSchema, what: str) -> RegisteredSchema:
    if kind is not None and SCHEMA_TYPE[kind] != found.schema_type:
        raise InvalidValue(f"{what}.type is {kind}, but schema {found.schema_id} is {found.rest_format}")
    return found


def names_schema(spec: object) -> bool:
    """Whether a v3 key/value object asks for a schema format (or names a schema, which a
    plain type is refused with: its data is never stored unframed)."""
    # a type of any JSON shape (a list or an object is no key of a dict: a TypeError)
    return isinstance(spec, dict) and (isinstance(spec.get("type"), str) and spec["type"] in SCHEMA_TYPE
                                       or any(spec.get(f) is not None for f in SCHEMA_FIELDS))


async def v3_schema(request: web.Request, topic: str, spec: dict[str, Any], is_key: bool,
                    what: str) -> RegisteredSchema:
    """The registered schema a v3 key/value object names, by Confluent REST Proxy's rules:
    schema_id alone (its subject must hold it), or schema_version (a subject's version), or
    schema (its text, with a type: registered when new), or none of them (the subject's
    latest); the subject is `subject`, else the strategy's name for the topic."""
    kind = spec.get("type")
    if kind is not None and (not isinstance(kind, str) or kind not in SCHEMA_TYPE):
        named = ", ".join(f for f in SCHEMA_FIELDS if spec.get(f) is not None)
        raise BadRequest(f"{what}: {named} go with type AVRO, JSONSCHEMA or PROTOBUF (or no type), not {kind!r}")
    door, who = door_of(request), request.get(IDENTITY_KEY)
    schema_id = _int(spec, "schema_id", 0, MAX_SCHEMA_ID, what)
    version = _int(spec, "schema_version", 1, MAX_VERSION, what, latest=True)
    text, subject = _text(spec, "schema", what), _text(spec, "subject", what)
    strategy = _text(spec, "subject_name_strategy", what) or "TOPIC_NAME"
    if schema_id is not None:
        if version is not None or text is not None:
            raise BadRequest(f"{what}: schema_id names the schema alone (not with schema_version or schema)")
        found = _check_type(kind, await door.by_id(schema_id, who), what)
        return await door.check_in_subject(found, subject or subject_name(strategy, topic, is_key, found.parsed), who)
    if text is not None:
        if version is not None:
            raise BadRequest(f"{what}: schema (a schema's text) goes without schema_version")
        if kind is None:
            # Confluent REST Proxy v3 infers no format from a schema's text: it refuses it too (400)
            raise BadRequest(f"{what}.type is missing: schema (a schema's text) needs type AVRO, JSONSCHEMA "
                             "or PROTOBUF")
        if subject is None:
            parsed = await door.parse(SCHEMA_TYPE[kind], text)
            subject = subject_name(strategy, topic, is_key, parsed)
        return await door.register(subject, SCHEMA_TYPE[kind], text, who)
    subject = subject or subject_name(strategy, topic, is_key, None)
    return _check_type(kind, await door.by_version(subject, -1 if version is None else version, who), what)


def v3_report_fields(schema: RegisteredSchema) -> dict[str, Any]:
    return {"type": schema.rest_format, "subject": schema.subject, "schema_id": schema.schema_id,
            "schema_version": schema.version}


# -- v2 produce ------------------------------------------------------------------------------
async def v2_schemas(request: web.Request, topic: str, body: dict[str, Any], fmt: str,
                     records: list[Any]) -> tuple[RegisteredSchema | None, RegisteredSchema | None]:
    """The key and value schemas of a v2 produce in format `fmt` (avro, jsonschema,
    protobuf): by `*_schema_id`, or `*_schema` registered under the topic's subject."""
    door, who = door_of(request), request.get(IDENTITY_KEY)
    schema_type = V2_FORMATS[fmt]
    found: list[RegisteredSchema | None] = []
    for side in ("key", "value"):
        text, schema_id = body.get(f"{side}_schema"), _int(body, f"{side}_schema_id", 0, MAX_SCHEMA_ID, "request")
        if schema_id is not None:
            schema = await door.by_id(schema_id, who)
            if schema.schema_type != schema_type:
                raise InvalidValue(f"{side}_schema_id {schema_id} is a {schema.rest_format} schema, not {fmt}")
            found.append(schema)
        elif text is not None:
            if not isinstance(text, str) or not text:
                raise InvalidValue(f"{side}_schema must be a schema's text (a string)")
            found.append(await door.register(f"{topic}-{side}", schema_type, text, who))
        else:
            found.append(None)
    key_schema, value_schema = found
    has = [any(isinstance(r, dict) and r.get(side) is not None for r in records) for side in ("key", "value")]
    if has[0] and key_schema is None:
        raise KeySchemaMissing("Request includes keys but does not include key_schema or key_schema_id")
    if has[1] and value_schema is None:
        raise ValueSchemaMissing("Request includes values but does not include value_schema or value_schema_id")
    return key_schema, value_schema


# -- consume ------------------------------------------------------------------------------------
async def decode(door: SchemaDoor, who: Identity | None, data: bytes | None, fmt: str, what: str) -> object:
    """A consumed key or value of a consumer in format `fmt`, as JSON; 42207 when it is not
    framed, names an unknown schema or one of another format, or does not decode."""
    if data is None:
        return None
    try:
        schema_id, payload = unframe(data)
    except NotFramed as e:
        raise RecordNotDecodable(f"{what} is not framed with a schema id: {e}; seek past it to go on") from None
    try:
        schema = await door.by_id(schema_id, who)
    except SchemaNotFound:
        raise RecordNotDecodable(f"{what} names schema {schema_id}, which the registry does not have; "
                                 "seek past it to go on") from None
    except SchemaRefused as e:
        raise RecordNotDecodable(f"{what}: {e.message}; seek past it to go on") from None
    if schema.schema_type != V2_FORMATS[fmt]:
        raise RecordNotDecodable(f"{what} was written with {schema.rest_format} schema {schema_id}, and this "
                                 f"consumer reads {fmt}; seek past it to go on")
    try:
        return schema.codec.decode(payload)
    except Undecodable as e:
        raise RecordNotDecodable(f"{what}: {e} (schema {schema_id}); seek past it to go on") from None
