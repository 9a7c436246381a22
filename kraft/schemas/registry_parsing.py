"""Schemas of the registry parsed with the texts of the schemas they reference, resolved
from the state (references of references first), and kept parsed: a compatibility check
reads every earlier version, which need not be parsed again each time. Pure (the cache
is shared by the threads that parse)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from kraft.schemas.formats import InvalidSchema, ParsedSchema, SchemaFormat, SchemaReference
from kraft.schemas.registry_errors import INVALID_SCHEMA, RegistryError, invalid_schema
from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_state import RegistryState

MAX_REFERENCE_DEPTH = 32
CACHE_SIZE = 1024


def referenced_record(state: RegistryState, ref: SchemaReference, deleted: bool = True) -> SchemaRecord:
    """The version a reference names; 42201 when it is not there (or is soft-deleted
    and `deleted` is False)."""
    record = state.subjects.get(ref.subject, {}).get(ref.version)
    if record is None or (record.deleted and not deleted):
        raise invalid_schema(f"reference {ref.name!r} names subject {ref.subject!r} version {ref.version}, "
                             "which does not exist")
    return record


def resolved_texts(state: RegistryState, refs: tuple[SchemaReference, ...], deleted: bool = True) -> dict[str, str]:
    """Every name the schema needs -> its text: references of references first."""
    texts: dict[str, str] = {}

    def visit(items: tuple[SchemaReference, ...], depth: int) -> None:
        if depth > MAX_REFERENCE_DEPTH:
            raise invalid_schema(f"references nest deeper than {MAX_REFERENCE_DEPTH}")
        for ref in items:
            if ref.name in texts:
                continue
            record = referenced_record(state, ref, deleted)
            visit(record.references, depth + 1)
            texts[ref.name] = record.schema

    visit(refs, 0)
    return texts


class Parser:
    def __init__(self, formats: Mapping[str, SchemaFormat]) -> None:
        self.formats = formats
        self._cache: OrderedDict[tuple[str, str, tuple[tuple[str, str], ...]], ParsedSchema] = OrderedDict()
        self._lock = threading.Lock()  # parses run in worker threads too (beside the event loop)

    def format(self, schema_type: str) -> SchemaFormat:
        found = self.formats.get(schema_type)
        if found is None:
            raise RegistryError(INVALID_SCHEMA, f"Invalid schema type {schema_type!r}: this registry knows "
                                f"{', '.join(sorted(self.formats)) or 'none'}")
        return found

    def parse(self, state: RegistryState, schema_type: str, text: str,
              refs: tuple[SchemaReference, ...], deleted: bool = True) -> ParsedSchema:
        """The schema parsed (42201 when it is not one)."""
        fmt = self.format(schema_type)
        texts = resolved_texts(state, refs, deleted)
        key = (schema_type, text, tuple(texts.items()))
        with self._lock:
            if (parsed := self._cache.get(key)) is not None:
                self._cache.move_to_end(key)
                return parsed
        try:
            parsed = fmt.parse(text, texts)
        except InvalidSchema as exc:
            raise invalid_schema(str(exc) or "not a schema") from None
        except RecursionError:
            raise invalid_schema("the schema nests too deeply") from None
        with self._lock:
            self._cache[key] = parsed
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return parsed

    def parse_record(self, state: RegistryState, record: SchemaRecord) -> ParsedSchema:
        return self.parse(state, record.schema_type, record.schema, record.references)
