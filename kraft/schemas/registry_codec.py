"""The records of `_schemas` as Confluent Schema Registry writes them: JSON keys and
values, so that the topic written here is read by any tool that reads Confluent's, and
the reverse. Pure.

Keys (fields in this order; compaction keeps the latest record per exact key bytes):
  {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}   value: a SchemaValue, null on permanent delete
  {"keytype":"CONFIG","subject":S|null,"magic":0}          value: {"compatibilityLevel","normalize",
                                                           "compatibilityGroup","defaultMetadata","overrideMetadata",
                                                           "defaultRuleSet","overrideRuleSet"} (any), null resets
  {"keytype":"MODE","subject":S|null,"magic":0}            value: {"mode":M}, null resets
  {"keytype":"DELETE_SUBJECT","subject":S,"magic":0}       value: {"subject":S,"version":V}: versions <= V soft-deleted
  {"keytype":"CLEAR_SUBJECT","subject":S,"magic":0}        value: {"subject":S}: its soft-deleted versions removed
  {"keytype":"NOOP","magic":0}                             value: null (a marker Confluent's writer uses)
SchemaValue: {"subject","version","id","schemaType" (absent for AVRO),"schema","references","metadata",
"ruleSet","deleted"} (metadata and ruleSet only when the version has them: older records lack them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kraft.schemas import registry_contracts as contracts
from kraft.schemas.format_table import DEFAULT_TYPE
from kraft.schemas.formats import SchemaReference


@dataclass(frozen=True)
class SchemaRecord:
    subject: str
    version: int
    id: int
    schema_type: str
    schema: str
    references: tuple[SchemaReference, ...]
    deleted: bool
    metadata: str | None = None  # canonical JSON text (registry_contracts.py)
    rule_set: str | None = None


@dataclass(frozen=True)
class SubjectConfig:
    """A config as set (globally or for a subject); what it leaves unset comes from the
    global config, then the defaults. Contracts are canonical JSON text."""
    level: str | None = None
    normalize: bool | None = None
    compatibility_group: str | None = None
    default_metadata: str | None = None
    override_metadata: str | None = None
    default_rule_set: str | None = None
    override_rule_set: str | None = None


@dataclass(frozen=True)
class RecordKey:
    keytype: str
    subject: str | None = None
    version: int | None = None


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def encode_key(key: RecordKey) -> bytes:
    if key.keytype == "SCHEMA":
        return _dumps({"keytype": "SCHEMA", "subject": key.subject, "version": key.version, "magic": 1})
    if key.keytype == "NOOP":
        return _dumps({"keytype": "NOOP", "magic": 0})
    return _dumps({"keytype": key.keytype, "subject": key.subject, "magic": 0})


def schema_key(subject: str, version: int) -> RecordKey:
    return RecordKey("SCHEMA", subject, version)


def references_json(references: tuple[SchemaReference, ...]) -> list[dict[str, Any]]:
    return [{"name": r.name, "subject": r.subject, "version": r.version} for r in references]


def encode_schema_value(record: SchemaRecord) -> bytes:
    value: dict[str, Any] = {"subject": record.subject, "version": record.version, "id": record.id}
    if record.schema_type != DEFAULT_TYPE:
        value["schemaType"] = record.schema_type
    value["schema"] = record.schema
    value.update(_beside_text(record))
    value["deleted"] = record.deleted
    return _dumps(value)


def _beside_text(record: SchemaRecord) -> dict[str, Any]:
    """What a schema carries besides its type and text, in Confluent's order."""
    out: dict[str, Any] = {}
    if record.references:
        out["references"] = references_json(record.references)
    if record.metadata is not None:
        out["metadata"] = contracts.as_json(record.metadata)
    if record.rule_set is not None:
        out["ruleSet"] = contracts.as_json(record.rule_set)
    return out


# SubjectConfig's fields -> the config value's JSON names, and whether each is a contract
CONFIG_FIELDS = (("level", "compatibilityLevel", False), ("normalize", "normalize", False),
                 ("compatibility_group", "compatibilityGroup", False),
                 ("default_metadata", "defaultMetadata", True), ("override_metadata", "overrideMetadata", True),
                 ("default_rule_set", "defaultRuleSet", True), ("override_rule_set", "overrideRuleSet", True))


def encode_config_value(config: SubjectConfig) -> bytes:
    value: dict[str, Any] = {}
    for attr, name, contract in CONFIG_FIELDS:
        if (field := getattr(config, attr)) is not None:
            value[name] = contracts.as_json(field) if contract else field
    return _dumps(value)


def encode_mode_value(mode: str) -> bytes:
    return _dumps({"mode": mode})


def encode_delete_subject_value(subject: str, version: int) -> bytes:
    return _dumps({"subject": subject, "version": version})


def schema_fields(record: SchemaRecord) -> dict[str, Any]:
    """A schema as the API answers it (GET /schemas/ids/{id}): Confluent's field order."""
    out: dict[str, Any] = {}
    if record.schema_type != DEFAULT_TYPE:
        out["schemaType"] = record.schema_type
    out.update(_beside_text(record))
    out["schema"] = record.schema
    return out


def api_json(record: SchemaRecord) -> dict[str, Any]:
    """A version as the API answers it (GET /subjects/{s}/versions/{v})."""
    return {"subject": record.subject, "version": record.version, "id": record.id, **schema_fields(record)}


class MalformedRecord(ValueError):
    """A record of `_schemas` that is not one of the formats above (skipped on replay)."""


def _object(data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRecord(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedRecord("not a JSON object")
    return obj


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedRecord(f"{name} is not an integer")
    return value


def _str(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise MalformedRecord(f"{name} is not a string")
    return value


def decode_key(data: bytes) -> RecordKey:
    obj = _object(data)
    keytype = _str(obj, "keytype")
    subject = obj.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise MalformedRecord("subject is not a string")
    version = _int(obj, "version") if keytype == "SCHEMA" else None
    if keytype in ("SCHEMA", "DELETE_SUBJECT", "CLEAR_SUBJECT") and subject is None:
        raise MalformedRecord(f"a {keytype} key needs a subject")
    return RecordKey(keytype, subject, version)


def decode_references(items: object) -> tuple[SchemaReference, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise MalformedRecord("references is not a list")
    refs = []
    for item in items:
        if not isinstance(item, dict):
            raise MalformedRecord("a reference is not an object")
        refs.append(SchemaReference(_str(item, "name"), _str(item, "subject"), _int(item, "version")))
    return tuple(refs)


def decode_schema_value(data: bytes) -> SchemaRecord:
    obj = _object(data)
    schema_type = obj.get("schemaType") or DEFAULT_TYPE
    if not isinstance(schema_type, str):
        raise MalformedRecord("schemaType is not a string")
    return SchemaRecord(_str(obj, "subject"), _int(obj, "version"), _int(obj, "id"), schema_type,
                        _str(obj, "schema"), decode_references(obj.get("references")),
                        bool(obj.get("deleted", False)), _contract(obj, "metadata"), _contract(obj, "ruleSet"))


def _contract(obj: dict[str, Any], name: str) -> str | None:
    """A stored metadata or rule set in canonical form (not validated again: the record
    may come from another registry, and what it accepted is kept as it is)."""
    value = obj.get(name)
    if value is None:
        return None
    try:
        text = (contracts.canonical_rule_set(value) if name.lower().endswith("ruleset")
                else contracts.canonical_metadata(value))
    except contracts.ContractError as exc:
        raise MalformedRecord(str(exc)) from None
    return contracts.stored(text)


def decode_config_value(data: bytes) -> SubjectConfig:
    """Any field may be absent (a config that sets only some)."""
    obj = _object(data)
    level, normalize, group = obj.get("compatibilityLevel"), obj.get("normalize"), obj.get("compatibilityGroup")
    if level is not None and not isinstance(level, str):
        raise MalformedRecord("compatibilityLevel is not a string")
    return SubjectConfig(level, normalize if isinstance(normalize, bool) else None,
                         group if isinstance(group, str) else None,
                         *(_contract(obj, name) for _, name, contract in CONFIG_FIELDS if contract))


def decode_mode_value(data: bytes) -> str:
    return _str(_object(data), "mode")


def decode_delete_subject_value(data: bytes) -> int:
    return _int(_object(data), "version")
