"""The registry's state, built only from the records of `_schemas` (registry_codec.py):
subjects and their versions, schemas by id, compatibility levels and modes, per subject
and global. Every node applies the same records in log order and so holds the same state;
`applied` is the offset after the last record applied. Pure: no I/O, no parsing of schema
texts (the texts stored are canonical already, so equal texts are one schema)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from kraft.schemas import registry_codec as codec
from kraft.schemas.compatibility import DEFAULT_LEVEL
from kraft.schemas.formats import SchemaReference
from kraft.schemas.registry_codec import SchemaRecord, SubjectConfig
from kraft.schemas.registry_guids import guid_of

READWRITE, READONLY, IMPORT = "READWRITE", "READONLY", "IMPORT"
READONLY_OVERRIDE = "READONLY_OVERRIDE"  # Confluent's: read-only as READONLY is
MODES = (READWRITE, READONLY, READONLY_OVERRIDE, IMPORT)
READ_ONLY_MODES = (READONLY, READONLY_OVERRIDE)
DEFAULT_MODE = READWRITE
GLOBAL = None  # the subject of the global config and mode

# A schema as the registry compares them: its type, canonical text, references, and its
# metadata and rule set (Confluent gives a schema with other metadata or rules its own id).
SchemaIdentity = tuple[str, str, tuple[SchemaReference, ...], str | None, str | None]


def identity_of(record: SchemaRecord) -> SchemaIdentity:
    return record.schema_type, record.schema, record.references, record.metadata, record.rule_set


def _discard(index: dict[Any, set[int]], key: Any, schema_id: int) -> None:
    ids = index[key]
    ids.discard(schema_id)
    if not ids:
        del index[key]


@dataclass
class RegistryState:
    subjects: dict[str, dict[int, SchemaRecord]] = field(default_factory=dict)
    configs: dict[str | None, SubjectConfig] = field(default_factory=dict)
    modes: dict[str | None, str] = field(default_factory=dict)
    max_id: int = 0  # the largest id any applied record carried: the next is above it
    applied: int = 0  # the offset after the last record applied
    skipped: int = 0  # records that were not in Confluent's formats
    # indexes of `subjects` (look-ups by id are what every deserializer asks)
    _by_id: dict[int, dict[tuple[str, int], SchemaRecord]] = field(default_factory=dict)
    _ids_of: dict[SchemaIdentity, set[int]] = field(default_factory=dict)
    _ids_of_guid: dict[str, set[int]] = field(default_factory=dict)

    # -- applying records --------------------------------------------------------------
    def apply(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        """Apply the record at `offset` (records before `applied` are applied already)."""
        if offset < self.applied:
            return
        self.applied = offset + 1
        if key is None:
            self.skipped += 1
            return
        try:
            self._apply(codec.decode_key(key), value)
        except codec.MalformedRecord:
            self.skipped += 1

    def _apply(self, key: codec.RecordKey, value: bytes | None) -> None:
        if key.keytype == "SCHEMA":
            assert key.subject is not None and key.version is not None  # decode_key checks
            self._apply_schema(key.subject, key.version, value)
        elif key.keytype == "CONFIG":
            if value is None:
                self.configs.pop(key.subject, None)
            else:
                self.configs[key.subject] = codec.decode_config_value(value)
        elif key.keytype == "MODE":
            if value is None:
                self.modes.pop(key.subject, None)
            else:
                self.modes[key.subject] = codec.decode_mode_value(value)
        elif key.keytype == "DELETE_SUBJECT" and value is not None:
            assert key.subject is not None
            self._soft_delete_up_to(key.subject, codec.decode_delete_subject_value(value))
        elif key.keytype == "CLEAR_SUBJECT" and value is not None:
            assert key.subject is not None
            self._clear(key.subject)
        # NOOP, and key types of later versions: nothing to apply

    def _apply_schema(self, subject: str, version: int, value: bytes | None) -> None:
        if value is None:
            self._drop(subject, version)
        else:
            record = codec.decode_schema_value(value)
            self._put(replace(record, subject=subject, version=version))
            self.max_id = max(self.max_id, record.id)

    def _put(self, record: SchemaRecord) -> None:
        self._drop(record.subject, record.version)
        self.subjects.setdefault(record.subject, {})[record.version] = record
        self._by_id.setdefault(record.id, {})[(record.subject, record.version)] = record
        self._ids_of.setdefault(identity_of(record), set()).add(record.id)
        self._ids_of_guid.setdefault(guid_of(record), set()).add(record.id)

    def _drop(self, subject: str, version: int) -> None:
        versions = self.subjects.get(subject, {})
        record = versions.pop(version, None)
        if not versions:
            self.subjects.pop(subject, None)
        if record is None:
            return
        holders = self._by_id[record.id]
        del holders[(subject, version)]
        if not holders:
            del self._by_id[record.id]
        if not any(identity_of(r) == identity_of(record) for r in holders.values()):
            _discard(self._ids_of, identity_of(record), record.id)
            _discard(self._ids_of_guid, guid_of(record), record.id)

    def _soft_delete_up_to(self, subject: str, version: int) -> None:
        for record in list(self.subjects.get(subject, {}).values()):
            if record.version <= version and not record.deleted:
                self._put(replace(record, deleted=True))

    def _clear(self, subject: str) -> None:
        for record in list(self.subjects.get(subject, {}).values()):
            if record.deleted:
                self._drop(subject, record.version)

    # -- questions -------------------------------------------------------------------------
    def versions(self, subject: str, deleted: bool = False) -> list[SchemaRecord]:
        """The subject's versions, oldest first; soft-deleted ones only when `deleted`."""
        found = self.subjects.get(subject, {})
        return [found[v] for v in sorted(found) if deleted or not found[v].deleted]

    def subject_names(self, deleted: bool = False) -> list[str]:
        return sorted(s for s in self.subjects if self.versions(s, deleted))

    def latest(self, subject: str) -> SchemaRecord | None:
        live = self.versions(subject)
        return live[-1] if live else None

    def records_with_id(self, schema_id: int, deleted: bool = True) -> list[SchemaRecord]:
        holders = self._by_id.get(schema_id, {})
        return [holders[key] for key in sorted(holders) if deleted or not holders[key].deleted]

    def schema_by_id(self, schema_id: int) -> SchemaRecord | None:
        """A version holding the id (soft-deleted ones too: old data still names it)."""
        holders = self._by_id.get(schema_id)
        return next(iter(holders.values())) if holders else None

    def id_of(self, identity: SchemaIdentity) -> int | None:
        """The id of this schema in any subject (soft-deleted versions included); the
        lowest when IMPORT gave it several."""
        ids = self._ids_of.get(identity)
        return min(ids) if ids else None

    def ids_of_guid(self, guid: str) -> list[int]:
        return sorted(self._ids_of_guid.get(guid, ()))

    def referenced_by(self, subject: str, version: int, deleted: bool = False) -> list[int]:
        """Ids of the live schemas (and soft-deleted ones when `deleted`) whose references
        name this subject and version."""
        ids = {r.id for s in self.subjects for r in self.versions(s, deleted)
               if any(ref.subject == subject and ref.version == version for ref in r.references)}
        return sorted(ids)

    def _configs_for(self, subject: str | None) -> list[SubjectConfig]:
        """The configs that apply, the subject's first."""
        found = [self.configs.get(subject) if subject is not None else None, self.configs.get(GLOBAL)]
        return [c for c in found if c is not None]

    def level(self, subject: str | None) -> str:
        """The compatibility level that applies: the subject's, else the global one."""
        return next((c.level for c in self._configs_for(subject) if c.level is not None), DEFAULT_LEVEL)

    def normalize_by_default(self, subject: str | None) -> bool:
        return next((c.normalize for c in self._configs_for(subject) if c.normalize is not None), False)

    def compatibility_group(self, subject: str | None) -> str | None:
        return next((c.compatibility_group for c in self._configs_for(subject)
                     if c.compatibility_group is not None), None)

    def contracts_config(self, subject: str | None) -> SubjectConfig:
        """Whose default and override metadata and rules apply: the subject's config when
        it has one, else the global (Confluent takes them from the subject's config alone
        once it has one)."""
        return next(iter(self._configs_for(subject)), SubjectConfig())

    def mode(self, subject: str | None) -> str:
        """The mode that applies: the subject's, else the global one."""
        if subject is not None and subject in self.modes:
            return self.modes[subject]
        return self.modes.get(GLOBAL, DEFAULT_MODE)
