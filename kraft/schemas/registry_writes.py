"""What a write request does to the registry: the records to append to `_schemas` and
the answer to give once they are applied, or the error to answer instead. Decided on the
one node that writes, against a state that has applied the whole topic. Pure.

Confluent's rules: a schema already live in the subject keeps its version and id; one
registered in another subject (or soft-deleted here) keeps its id; otherwise the next id.
A new version is one above every version the subject has had, soft-deleted ones too.
READONLY (and READONLY_OVERRIDE) refuses writes; IMPORT takes explicit ids and versions
and skips compatibility; READWRITE refuses them. A version others reference cannot be
deleted. Metadata and rule sets are filled in as Confluent's registration fills them in."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from kraft.schemas import registry_codec as codec
from kraft.schemas import registry_contracts as contracts
from kraft.schemas.compatibility import compared, incompatibilities, too_large
from kraft.schemas.formats import ParsedSchema, SchemaReference
from kraft.schemas.registry_codec import RecordKey, SchemaRecord, SubjectConfig
from kraft.schemas.registry_errors import (ID_DOES_NOT_MATCH, INCOMPATIBLE_SCHEMA, REFERENCE_EXISTS,
                                           SUBJECT_LEVEL_MODE_NOT_CONFIGURED, SUBJECT_NOT_SOFT_DELETED,
                                           SUBJECT_SOFT_DELETED, VERSION_NOT_SOFT_DELETED, VERSION_SOFT_DELETED,
                                           RegistryError, invalid_schema, not_permitted, subject_not_found,
                                           version_not_found)
from kraft.schemas.registry_parsing import Parser, resolved_texts
from kraft.schemas.registry_requests import (LATEST, DeleteConfig, DeleteMode, DeleteSubject, DeleteVersion,
                                             Register, SetConfig, SetMode, WriteRequest)
from kraft.schemas.registry_state import (GLOBAL, IMPORT, READ_ONLY_MODES, RegistryState, SchemaIdentity,
                                          identity_of)

Record = tuple[bytes, bytes | None]
MAX_RECORD_BYTES = 4 * 1024 * 1024  # a stored schema's record (its text JSON-escaped), below the topic's limit


@dataclass(frozen=True)
class Decision:
    records: list[Record]  # appended as one batch; none when nothing changes
    answer: Any  # the JSON answer, given once the records are applied


def decide(state: RegistryState, parser: Parser, request: WriteRequest) -> Decision:
    if isinstance(request, Register):
        return _register(state, parser, request)
    if isinstance(request, DeleteVersion):
        return _delete_version(state, request)
    if isinstance(request, DeleteSubject):
        return _delete_subject(state, request)
    if isinstance(request, SetConfig):
        return _set_config(state, request)
    if isinstance(request, DeleteConfig):
        return _delete_config(state, request)
    if isinstance(request, SetMode):
        return _set_mode(state, request)
    return _delete_mode(state, request)


def _refuse_read_only(state: RegistryState, subject: str | None) -> None:
    if state.mode(subject) in READ_ONLY_MODES:
        raise not_permitted(f"Subject {subject} is in read-only mode" if subject is not None
                            else "The registry is in read-only mode")


def concrete_references(state: RegistryState, refs: tuple[SchemaReference, ...]) -> tuple[SchemaReference, ...]:
    """References as stored: a "latest" (-1) one names the version that is latest now."""
    out = []
    for ref in refs:
        if ref.version == LATEST:
            latest = state.latest(ref.subject)
            if latest is None:
                raise invalid_schema(f"reference {ref.name!r} names subject {ref.subject!r}, which has no versions")
            ref = replace(ref, version=latest.version)
        out.append(ref)
    return tuple(out)


def contracts_for(state: RegistryState, req: Register, mode: str) -> tuple[str | None, str | None]:
    """(metadata, rule set) a registration stores, as Confluent fills them in: what it
    carries, else the latest live version's; under the config's defaults, below its
    overrides. IMPORT stores what it carries, as it is."""
    if mode == IMPORT:
        return contracts.stored(req.metadata), contracts.stored(req.rule_set)
    previous, config = state.latest(req.subject), state.contracts_config(req.subject)
    metadata = req.metadata if req.metadata is not None else (previous.metadata if previous else None)
    rule_set = req.rule_set if req.rule_set is not None else (previous.rule_set if previous else None)
    metadata = contracts.merge_metadata(contracts.merge_metadata(config.default_metadata, metadata),
                                        config.override_metadata)
    rule_set = contracts.merge_rule_sets(contracts.merge_rule_sets(config.default_rule_set, rule_set),
                                         config.override_rule_set)
    return contracts.stored(metadata), contracts.stored(rule_set)


def _order_free(text: str) -> str | None:
    try:
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return None


def same_schema(record: SchemaRecord, identity: SchemaIdentity, texts: set[str]) -> bool:
    """Whether the version holds this schema (one of `texts`, its forms as sent): the same
    type, references and contracts, and text; a JSON Schema whatever its objects' key order
    (Confluent compares the parsed schemas, and Jackson's objects are equal in any order)."""
    schema_type, _, refs, metadata, rule_set = identity
    if (record.schema_type, record.references, record.metadata, record.rule_set) != (schema_type, refs, metadata,
                                                                                      rule_set):
        return False
    if record.schema in texts:
        return True
    # stored texts are compact, so one reordered is as long: parse only those
    same_length = [t for t in texts if len(t) == len(record.schema)]
    return schema_type == "JSON" and bool(same_length) and _order_free(record.schema) in {
        _order_free(t) for t in same_length}


def in_group(state: RegistryState, subject: str, metadata: str | None,
             earlier: list[SchemaRecord]) -> list[SchemaRecord]:
    """The versions a schema with this metadata is checked against: with a config's
    `compatibilityGroup`, those whose metadata gives that property the same value (or
    none, as the new one)."""
    group = state.compatibility_group(subject)
    if group is None:
        return earlier
    value = contracts.property_of(metadata, group)
    return [r for r in earlier if contracts.property_of(r.metadata, group) == value]


def _register(state: RegistryState, parser: Parser, req: Register) -> Decision:
    subject, mode = req.subject, state.mode(req.subject)
    _refuse_read_only(state, subject)
    if (req.id is not None or req.version is not None) and mode != IMPORT:
        raise not_permitted(f"Subject {subject} is not in import mode: a schema id or version may be "
                            "given only in IMPORT mode")
    refs = concrete_references(state, req.references)
    parsed = parser.parse(state, req.schema_type, req.schema, refs, deleted=False)
    normalize = req.normalize if req.normalize is not None else state.normalize_by_default(subject)
    if normalize:
        parsed = parsed.normalized()
    metadata, rule_set = contracts_for(state, req, mode)
    identity = (req.schema_type, parsed.canonical(), refs, metadata, rule_set)
    every_version = state.versions(subject, deleted=True)
    for record in every_version:
        if not record.deleted and same_schema(record, identity, {identity[1]}) and req.id in (None, record.id):
            return Decision([], _register_answer(req, record))
    schema_id = _schema_id(state, req, identity)
    if mode != IMPORT and not req.force:
        earlier = in_group(state, subject, metadata, state.versions(subject))
        problems = check_compatibility(state, parser, parsed, earlier, state.level(subject), refs)
        if problems:
            raise RegistryError(INCOMPATIBLE_SCHEMA, "Schema being registered is incompatible with an earlier "
                                f"schema for subject \"{subject}\", details: [{'; '.join(problems)}]")
    version = req.version if req.version is not None else (every_version[-1].version + 1 if every_version else 1)
    if req.version is not None and any(r.version == version for r in every_version):
        raise not_permitted(f"Version {version} of subject {subject} already exists")
    record = SchemaRecord(subject, version, schema_id, req.schema_type, identity[1], refs, False, metadata, rule_set)
    value = codec.encode_schema_value(record)
    if len(value) > MAX_RECORD_BYTES:
        raise invalid_schema(f"the schema takes {len(value)} bytes stored; the limit is {MAX_RECORD_BYTES}")
    return Decision([(codec.encode_key(codec.schema_key(subject, version)), value)], _register_answer(req, record))


def _register_answer(req: Register, record: SchemaRecord) -> dict[str, Any]:
    """{"id","version"}; the whole version too when the registry filled in its metadata or
    rules (Confluent answers the schema it stored when it differs from the one sent)."""
    if (record.metadata, record.rule_set) == (contracts.stored(req.metadata), contracts.stored(req.rule_set)):
        return {"id": record.id, "version": record.version}
    return codec.api_json(record)


def check_compatibility(state: RegistryState, parser: Parser, new: ParsedSchema, earlier: list[SchemaRecord],
                        level: str, new_references: tuple[SchemaReference, ...] = ()) -> list[str]:
    """Why `new` may not follow the versions `earlier` at `level`; refused unread when the
    check would read too much (compatibility.MAX_CHECKED_CHARS)."""
    against = compared(earlier, level)
    # a schema is read with what it references: their text counts as its own
    refused = too_large(len(new.canonical()) + _referenced_chars(state, new_references),
                        [len(r.schema) + _referenced_chars(state, r.references) for r in against], level)
    return refused or incompatibilities(new, [parser.parse_record(state, r) for r in against], level)


def _referenced_chars(state: RegistryState, refs: tuple[SchemaReference, ...]) -> int:
    return sum(len(text) for text in resolved_texts(state, refs).values()) if refs else 0


def _schema_id(state: RegistryState, req: Register, identity: SchemaIdentity) -> int:
    if req.id is None:
        existing = state.id_of(identity)
        return existing if existing is not None else state.max_id + 1
    holder = state.schema_by_id(req.id)
    if holder is not None and identity_of(holder) != identity:
        raise RegistryError(ID_DOES_NOT_MATCH, f"Overwrite new schema with id {req.id} is not permitted: "
                            "the id holds another schema")
    return req.id


def _target_version(state: RegistryState, subject: str, version: int, permanent: bool) -> SchemaRecord:
    every_version = state.versions(subject, deleted=True)
    if not every_version:
        raise subject_not_found(subject)
    if version == LATEST:
        candidates = every_version if permanent else state.versions(subject)
        if not candidates:
            raise subject_not_found(subject)
        return candidates[-1]
    for record in every_version:
        if record.version == version:
            return record
    raise version_not_found(version)


def _refuse_referenced(state: RegistryState, subject: str, version: int, deleted: bool) -> None:
    if ids := state.referenced_by(subject, version, deleted):
        raise RegistryError(REFERENCE_EXISTS, f"One or more references exist to the schema "
                            f"{{subject={subject}, version={version}}}: schemas {ids}")


def _delete_version(state: RegistryState, req: DeleteVersion) -> Decision:
    _refuse_read_only(state, req.subject)
    record = _target_version(state, req.subject, req.version, req.permanent)
    key = codec.encode_key(codec.schema_key(req.subject, record.version))
    if req.permanent:
        if not record.deleted:
            raise RegistryError(VERSION_NOT_SOFT_DELETED, f"Subject '{req.subject}' Version {record.version} was "
                                "not deleted first before being permanently deleted")
        _refuse_referenced(state, req.subject, record.version, deleted=True)
        return Decision([(key, None)], record.version)
    if record.deleted:
        raise RegistryError(VERSION_SOFT_DELETED, f"Subject '{req.subject}' Version {record.version} was soft "
                            "deleted. Set permanent=true to delete permanently")
    _refuse_referenced(state, req.subject, record.version, deleted=False)
    return Decision([(key, codec.encode_schema_value(replace(record, deleted=True)))], record.version)


def _delete_subject(state: RegistryState, req: DeleteSubject) -> Decision:
    subject = req.subject
    _refuse_read_only(state, subject)
    every_version, live = state.versions(subject, deleted=True), state.versions(subject)
    if not every_version:
        raise subject_not_found(subject)
    if not req.permanent:
        if not live:
            raise RegistryError(SUBJECT_SOFT_DELETED, f"Subject '{subject}' was soft deleted. Set permanent=true "
                                "to delete permanently")
        for record in live:
            _refuse_referenced(state, subject, record.version, deleted=False)
        value = codec.encode_delete_subject_value(subject, live[-1].version)
        return Decision([(codec.encode_key(RecordKey("DELETE_SUBJECT", subject)), value)],
                        [r.version for r in live])
    if live:
        raise RegistryError(SUBJECT_NOT_SOFT_DELETED, f"Subject '{subject}' was not deleted first before being "
                            "permanently deleted")
    for record in every_version:
        _refuse_referenced(state, subject, record.version, deleted=True)
    records: list[Record] = [(codec.encode_key(codec.schema_key(subject, r.version)), None) for r in every_version]
    if subject in state.configs:
        records.append((codec.encode_key(RecordKey("CONFIG", subject)), None))
    if subject in state.modes:
        records.append((codec.encode_key(RecordKey("MODE", subject)), None))
    return Decision(records, [r.version for r in every_version])


def _set_config(state: RegistryState, req: SetConfig) -> Decision:
    """What the request leaves unset stays as this config had it (Confluent's partial
    update); a field sent as null is cleared. Refused in a read-only mode, as Confluent's."""
    _refuse_read_only(state, req.subject)
    current = state.configs.get(req.subject) or SubjectConfig()
    changes = {name: getattr(req, name) for name in _CONFIG_ATTRS if getattr(req, name) is not None}
    changes |= {name: None for name in req.cleared}
    config = replace(current, **changes)
    return Decision([(codec.encode_key(RecordKey("CONFIG", req.subject)), codec.encode_config_value(config))],
                    config_answer(config))


_CONFIG_ATTRS = tuple(attr for attr, _, _ in codec.CONFIG_FIELDS)


def config_answer(config: SubjectConfig) -> dict[str, Any]:
    """A config as PUT /config answers it (Confluent's ConfigUpdateRequest names)."""
    answer = json.loads(codec.encode_config_value(config))
    if "compatibilityLevel" in answer:
        answer["compatibility"] = answer.pop("compatibilityLevel")
    return {k: answer[k] for k in sorted(answer, key=_ANSWER_ORDER.index)}


_ANSWER_ORDER = ["compatibility", "normalize", "compatibilityGroup", "defaultMetadata", "overrideMetadata",
                 "defaultRuleSet", "overrideRuleSet"]


def _delete_config(state: RegistryState, req: DeleteConfig) -> Decision:
    _refuse_read_only(state, req.subject)
    if req.subject is not None and req.subject not in state.configs and not state.versions(req.subject, True):
        raise subject_not_found(req.subject)
    previous = state.level(req.subject)
    return Decision([(codec.encode_key(RecordKey("CONFIG", req.subject)), None)], {"compatibilityLevel": previous})


def _set_mode(state: RegistryState, req: SetMode) -> Decision:
    if req.mode == IMPORT and not req.force:
        has_schemas = bool(state.versions(req.subject, True)) if req.subject is not None else bool(state.subjects)
        if has_schemas:
            raise not_permitted("Cannot import since found existing subjects"
                                + (f" ({req.subject})" if req.subject is not None else "")
                                + "; set force=true to import into them anyway")
    subject = req.subject if req.subject is not None else GLOBAL
    return Decision([(codec.encode_key(RecordKey("MODE", subject)), codec.encode_mode_value(req.mode))],
                    {"mode": req.mode})


def _delete_mode(state: RegistryState, req: DeleteMode) -> Decision:
    previous = state.modes.get(req.subject)
    if req.subject is None:  # Confluent answers the mode the registry had, set or default
        previous = state.mode(None)
    if previous is None:
        raise RegistryError(SUBJECT_LEVEL_MODE_NOT_CONFIGURED, f"Subject '{req.subject}' does not have "
                            "subject-level mode configured")
    return Decision([(codec.encode_key(RecordKey("MODE", req.subject)), None)], {"mode": previous})
