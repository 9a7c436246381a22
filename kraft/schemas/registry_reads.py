"""The registry's answers to reads, in Confluent's JSON shapes, from the state. Pure."""

from __future__ import annotations

from typing import Any

from kraft.schemas import registry_codec as codec
from kraft.schemas.format_table import DEFAULT_TYPE
from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_errors import (SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED,
                                           SUBJECT_LEVEL_MODE_NOT_CONFIGURED, RegistryError, schema_not_found,
                                           subject_not_found, version_not_found)
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import LATEST, schema_of
from kraft.schemas.registry_state import RegistryState, identity_of
from kraft.schemas.registry_writes import check_compatibility, concrete_references


def _schema_fields(record: SchemaRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if record.schema_type != DEFAULT_TYPE:
        out["schemaType"] = record.schema_type
    if record.references:
        out["references"] = codec.references_json(record.references)
    out["schema"] = record.schema
    return out


def version_json(record: SchemaRecord) -> dict[str, Any]:
    return {"subject": record.subject, "version": record.version, "id": record.id, **_schema_fields(record)}


def find_version(state: RegistryState, subject: str, version: int, deleted: bool = False) -> SchemaRecord:
    """One version of a subject (LATEST: the latest live one); 40401 / 40402."""
    every_version = state.versions(subject, deleted=True)
    if not every_version or (not deleted and not state.versions(subject)):
        raise subject_not_found(subject)
    if version == LATEST:
        found = state.versions(subject, deleted)
        return found[-1]
    for record in every_version:
        if record.version == version and (deleted or not record.deleted):
            return record
    raise version_not_found(version)


def versions_list(state: RegistryState, subject: str, deleted: bool) -> list[int]:
    found = [r.version for r in state.versions(subject, deleted)]
    if not found:
        raise subject_not_found(subject)
    return found


def schema_by_id(state: RegistryState, schema_id: int) -> dict[str, Any]:
    record = state.schema_by_id(schema_id)
    if record is None:
        raise schema_not_found(schema_id)
    return _schema_fields(record)


def subjects_of_id(state: RegistryState, schema_id: int, deleted: bool) -> list[str]:
    if state.schema_by_id(schema_id) is None:
        raise schema_not_found(schema_id)
    return sorted({r.subject for r in state.records_with_id(schema_id, deleted)})


def versions_of_id(state: RegistryState, schema_id: int, deleted: bool) -> list[dict[str, Any]]:
    if state.schema_by_id(schema_id) is None:
        raise schema_not_found(schema_id)
    return [{"subject": r.subject, "version": r.version} for r in state.records_with_id(schema_id, deleted)]


def lookup(state: RegistryState, parser: Parser, subject: str, body: object, normalize: bool,
           deleted: bool) -> dict[str, Any]:
    """POST /subjects/{subject}: the version of the subject holding this schema."""
    if not state.versions(subject, deleted):
        raise subject_not_found(subject)
    schema_type, text, refs = schema_of(body)
    refs = concrete_references(state, refs)
    parsed = parser.parse(state, schema_type, text, refs)
    texts = {parsed.canonical()}
    if normalize or state.normalize_by_default(subject):
        texts.add(parsed.normalized().canonical())
    for record in state.versions(subject, deleted):
        if identity_of(record)[0] == schema_type and record.schema in texts and record.references == refs:
            return version_json(record)
    raise schema_not_found()


def compatibility(state: RegistryState, parser: Parser, subject: str, version: int | None, body: object,
                  normalize: bool, verbose: bool) -> dict[str, Any]:
    """POST /compatibility/subjects/{subject}/versions[/{version}]: with a version, the new
    schema against that one in the level's direction; without, as registering would check."""
    schema_type, text, refs = schema_of(body)
    concrete = concrete_references(state, refs)
    parsed = parser.parse(state, schema_type, text, concrete)
    if normalize or state.normalize_by_default(subject):
        parsed = parsed.normalized()
    level = state.level(subject)
    if version is None or (version == LATEST and not state.versions(subject)):
        against = state.versions(subject)
    else:
        against = [find_version(state, subject, version)]
        level = level.removesuffix("_TRANSITIVE")
    problems = check_compatibility(state, parser, parsed, against, level, concrete)
    answer: dict[str, Any] = {"is_compatible": not problems}
    if verbose:
        answer["messages"] = problems
    return answer


def subject_config(state: RegistryState, subject: str | None, default_to_global: bool) -> dict[str, Any]:
    """GET /config[/{subject}]: what applies (the subject's own, the rest from the global)."""
    if subject is not None and subject not in state.configs and not default_to_global:
        raise RegistryError(SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED, f"Subject '{subject}' does not have "
                            "subject-level compatibility configured")
    answer: dict[str, Any] = {"compatibilityLevel": state.level(subject)}
    if any(c.normalize is not None for c in (state.configs.get(subject), state.configs.get(None)) if c):
        answer["normalize"] = state.normalize_by_default(subject)
    return answer


def subject_mode(state: RegistryState, subject: str | None, default_to_global: bool) -> dict[str, Any]:
    if subject is not None and subject not in state.modes and not default_to_global:
        raise RegistryError(SUBJECT_LEVEL_MODE_NOT_CONFIGURED, f"Subject '{subject}' does not have "
                            "subject-level mode configured")
    return {"mode": state.mode(subject)}
