"""The registry's answers to reads, in Confluent's JSON shapes, from the state. Pure."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from kraft.schemas import registry_contracts as contracts
from kraft.schemas.formats import SchemaReference
from kraft.schemas.registry_codec import SchemaRecord, schema_fields
from kraft.schemas.registry_errors import (INVALID_SCHEMA, SCHEMA_NOT_FOUND,
                                           SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED,
                                           SUBJECT_LEVEL_MODE_NOT_CONFIGURED, RegistryError, schema_not_found,
                                           subject_not_found, version_not_found)
from kraft.schemas.registry_guids import guid_of
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import LATEST, Register, schema_of
from kraft.schemas.registry_state import RegistryState
from kraft.schemas.registry_writes import (check_compatibility, concrete_references, config_answer, contracts_for,
                                           in_group, same_schema)

T = TypeVar("T")
BAD_FORMAT = 400  # a ?format= this registry does not produce
MAX_LISTED = 1000  # Confluent's schema.search.max.limit: what GET /schemas answers at most


def version_json(record: SchemaRecord) -> dict[str, Any]:
    """A version as GET /subjects/{s}/versions/{v} answers it, with Confluent's guid."""
    return {"subject": record.subject, "version": record.version, "id": record.id, "guid": guid_of(record),
            **schema_fields(record)}


def schema_json(record: SchemaRecord) -> dict[str, Any]:
    """A schema as GET /schemas/ids/{id} and /schemas/guids/{guid} answer it."""
    return {"guid": guid_of(record), **schema_fields(record)}


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


def latest_with_metadata(state: RegistryState, subject: str, wanted: dict[str, str], deleted: bool) -> SchemaRecord:
    """GET /subjects/{s}/metadata: the latest version whose metadata properties hold every
    pair asked (Confluent's `use.latest.with.metadata`); 40401 / 40403."""
    versions = state.versions(subject, deleted)
    if not versions:
        raise subject_not_found(subject)
    for record in reversed(versions):
        if record.metadata is not None:
            properties = json.loads(record.metadata).get("properties", {})
            if all(properties.get(key) == value for key, value in wanted.items()):
                return record
    raise schema_not_found()


def page(items: list[T], offset: int, limit: int) -> list[T]:
    """Confluent's ?offset and ?limit on a list (a limit of 0 or less: no limit)."""
    items = items[max(offset, 0):]
    return items[:limit] if limit > 0 else items


def versions_list(state: RegistryState, subject: str, deleted: bool, deleted_only: bool = False,
                  negative: bool = False) -> list[int]:
    """GET /subjects/{s}/versions: live versions; with `deleted` the soft-deleted too, with
    `deleted_only` those alone, with `negative` all of them, soft-deleted ones as -version."""
    every = state.versions(subject, deleted=True)
    if not (every if deleted or deleted_only or negative else state.versions(subject)):
        raise subject_not_found(subject)
    if negative:
        return [-r.version if r.deleted else r.version for r in every]
    if deleted_only:
        return [r.version for r in every if r.deleted]
    return [r.version for r in state.versions(subject, deleted)]


def subjects_list(state: RegistryState, prefix: str, deleted: bool, deleted_only: bool) -> list[str]:
    """GET /subjects: subjects with a live version (with `deleted`, any version; with
    `deleted_only`, a soft-deleted one), named with `prefix`."""
    if deleted_only:
        names = sorted(s for s in state.subjects if any(r.deleted for r in state.versions(s, deleted=True)))
    else:
        names = state.subject_names(deleted)
    return [n for n in names if n.startswith(prefix)]


def in_format(state: RegistryState, parser: Parser | None, record: SchemaRecord, fmt: str | None) -> SchemaRecord:
    """The version with its text in the `?format=` asked: the stored text by default; a
    Protobuf schema `serialized` as a base64 FileDescriptorProto (what confluent-kafka's
    Protobuf serdes ask for referenced schemas). Any other format is refused (400), not
    answered in the default one."""
    if not fmt or fmt.lower() == "default":
        return record
    if record.schema_type == "PROTOBUF" and fmt.lower() == "serialized" and parser is not None:
        serialized = getattr(parser.parse_record(state, record), "serialized")
        return replace(record, schema=serialized())
    raise RegistryError(BAD_FORMAT, f"format={fmt!r} is not served for {record.schema_type} schemas (only the "
                        "default, and `serialized` for PROTOBUF)")


def schema_by_id(state: RegistryState, schema_id: int, parser: Parser | None = None,
                 fmt: str | None = None) -> dict[str, Any]:
    record = state.schema_by_id(schema_id)
    if record is None:
        raise schema_not_found(schema_id)
    return schema_json(in_format(state, parser, record, fmt))


def schema_by_guid(state: RegistryState, guid: str, parser: Parser | None = None,
                   fmt: str | None = None) -> dict[str, Any]:
    """GET /schemas/guids/{guid}: the schema (its lowest id's, as Confluent's look-up)."""
    ids = state.ids_of_guid(guid.lower())
    record = state.schema_by_id(ids[0]) if ids else None
    if record is None:
        raise RegistryError(SCHEMA_NOT_FOUND, f"Schema {guid} not found")
    return schema_json(in_format(state, parser, record, fmt))


def ids_of_guid(state: RegistryState, guid: str) -> list[dict[str, Any]]:
    """GET /schemas/guids/{guid}/ids: the ids holding it, in Confluent's {context, id}."""
    ids = state.ids_of_guid(guid.lower())
    if not ids:
        raise RegistryError(SCHEMA_NOT_FOUND, f"Schema {guid} not found")
    return [{"context": ".", "id": schema_id} for schema_id in ids]


def schemas_list(state: RegistryState, prefix: str, deleted: bool, latest_only: bool, offset: int,
                 limit: int, readable: Callable[[str], bool] = lambda subject: True) -> list[dict[str, Any]]:
    """GET /schemas: every version of the subjects named with `prefix` (subjects in order,
    versions oldest first; only each subject's latest with `latest_only`), then
    Confluent's offset and limit (a limit of 0 or less, or over MAX_LISTED: MAX_LISTED);
    only subjects `readable` (the caller's ACLs)."""
    found: list[SchemaRecord] = []
    for subject in state.subject_names(deleted):
        if subject.startswith(prefix) and readable(subject):  # before the page: full pages of what is seen
            versions = state.versions(subject, deleted)
            found.extend(versions[-1:] if latest_only else versions)
    limit = MAX_LISTED if limit <= 0 or limit > MAX_LISTED else limit
    return [version_json(r) for r in page(found, offset, limit)]


def subjects_of_id(state: RegistryState, schema_id: int, deleted: bool) -> list[str]:
    if state.schema_by_id(schema_id) is None:
        raise schema_not_found(schema_id)
    return sorted({r.subject for r in state.records_with_id(schema_id, deleted)})


def versions_of_id(state: RegistryState, schema_id: int, deleted: bool) -> list[dict[str, Any]]:
    if state.schema_by_id(schema_id) is None:
        raise schema_not_found(schema_id)
    return [{"subject": r.subject, "version": r.version} for r in state.records_with_id(schema_id, deleted)]


def _as_registration(subject: str, body: object, schema_type: str, text: str,
                     refs: tuple[SchemaReference, ...]) -> Register:
    """The request as a registration of it would be (its metadata and rules checked)."""
    assert isinstance(body, dict)  # schema_of checked it
    return Register(subject, schema_type, text, refs,
                    metadata=contracts.metadata_from_request(body.get("metadata"), INVALID_SCHEMA),
                    rule_set=contracts.rule_set_from_request(body.get("ruleSet")))


def lookup(state: RegistryState, parser: Parser, subject: str, body: object, normalize: bool,
           deleted: bool) -> dict[str, Any]:
    """POST /subjects/{subject}: the version of the subject holding this schema, with the
    metadata and rules it carries, or else with those a registration would fill in."""
    if not state.versions(subject, deleted):
        raise subject_not_found(subject)
    schema_type, text, refs = schema_of(body)
    refs = concrete_references(state, refs)
    parsed = parser.parse(state, schema_type, text, refs)
    texts = {parsed.canonical()}
    if normalize or state.normalize_by_default(subject):
        texts.add(parsed.normalized().canonical())
    req = _as_registration(subject, body, schema_type, text, refs)
    wanted = [(contracts.stored(req.metadata), contracts.stored(req.rule_set)),
              contracts_for(state, req, state.mode(subject))]
    for metadata, rule_set in wanted:
        for record in state.versions(subject, deleted):
            if same_schema(record, (schema_type, text, refs, metadata, rule_set), texts):
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
        # the versions a registration would be checked against: its compatibility group as filled in
        registration = _as_registration(subject, body, schema_type, text, refs)
        metadata, _ = contracts_for(state, registration, state.mode(subject))
        against = in_group(state, subject, metadata, state.versions(subject))
    else:
        against = [find_version(state, subject, version)]
        level = level.removesuffix("_TRANSITIVE")
    problems = check_compatibility(state, parser, parsed, against, level, concrete)
    answer: dict[str, Any] = {"is_compatible": not problems}
    if verbose:
        answer["messages"] = problems
    return answer


def subject_config(state: RegistryState, subject: str | None, default_to_global: bool) -> dict[str, Any]:
    """GET /config[/{subject}]: what applies (the subject's own, the rest from the global;
    the contracts as registrations take them: the subject's config when it has one)."""
    if subject is not None and subject not in state.configs and not default_to_global:
        raise RegistryError(SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED, f"Subject '{subject}' does not have "
                            "subject-level compatibility configured")
    answer: dict[str, Any] = {"compatibilityLevel": state.level(subject)}
    if any(c.normalize is not None for c in (state.configs.get(subject), state.configs.get(None)) if c):
        answer["normalize"] = state.normalize_by_default(subject)
    if (group := state.compatibility_group(subject)) is not None:
        answer["compatibilityGroup"] = group
    contracts_of = config_answer(state.contracts_config(subject))
    return answer | {k: v for k, v in contracts_of.items() if k.endswith(("Metadata", "RuleSet"))}


def subject_mode(state: RegistryState, subject: str | None, default_to_global: bool) -> dict[str, Any]:
    if subject is not None and subject not in state.modes and not default_to_global:
        raise RegistryError(SUBJECT_LEVEL_MODE_NOT_CONFIGURED, f"Subject '{subject}' does not have "
                            "subject-level mode configured")
    return {"mode": state.mode(subject)}
