"""The AVRO format of the registry: parse a schema (with the schemas it references),
its stored text, its normalized text, and which writers' data it can read.

Parsing follows Java Avro, which Confluent's registry runs (avro/model.py: structure and
names, avro/defaults.py: field defaults); the texts follow Confluent's AvroSchema
(avro/text.py); compatibility follows the Avro specification's schema resolution as Java
Avro's SchemaCompatibility applies it (avro/resolution.py).

References (Confluent's Avro schema references): each referenced schema's named types
can be used by name in the schema, and its stored text names them rather than repeating
them. Work on hostile input is bounded: a text over MAX_SCHEMA_CHARS or nested deeper than
MAX_DEPTH is refused as invalid before any walk over it."""

from __future__ import annotations

import json
from typing import Mapping

from kraft.schemas.avro.defaults import check_defaults
from kraft.schemas.avro.model import AvroType, Builder, Record
from kraft.schemas.avro.resolution import read_errors
from kraft.schemas.avro.text import schema_text
from kraft.schemas.formats import InvalidSchema, ParsedSchema

MAX_SCHEMA_CHARS = 2 * 1024 * 1024
MAX_DEPTH = 128  # JSON nesting: about 40 records one inside another, far beyond real schemas
UNFORESEEN = "not a valid Avro schema: "  # what the last-resort guard says (no rule named the fault)


class AvroSchema:
    schema_type = "AVRO"

    def __init__(self, root: AvroType, referenced: frozenset[str], text: str, normalized: bool = False) -> None:
        self.root = root
        self.referenced = referenced  # the full names the referenced schemas define
        self._text = text
        self._normalized = normalized

    @property
    def record_name(self) -> str | None:
        """The full name of the top-level record (Confluent's RecordNameStrategy subject)."""
        return self.root.fullname if isinstance(self.root, Record) else None

    def canonical(self) -> str:
        return self._text

    def normalized(self) -> "AvroSchema":
        if self._normalized:
            return self
        return AvroSchema(self.root, self.referenced, schema_text(self.root, set(self.referenced), normalize=True),
                          normalized=True)

    def read_errors(self, writer: ParsedSchema) -> list[str]:
        if not isinstance(writer, AvroSchema):
            return [f"the schema type changed from {writer.schema_type} to AVRO"]
        return read_errors(self.root, writer.root)

    def __repr__(self) -> str:
        return f"AvroSchema({self._text[:200]})"


class AvroFormat:
    name = "AVRO"

    def parse(self, text: str, references: Mapping[str, str]) -> AvroSchema:
        try:
            return _parse(text, references)
        except InvalidSchema:
            raise
        except RecursionError:
            raise InvalidSchema("the schema is nested too deeply") from None
        except Exception as e:  # noqa: BLE001 - whatever the input, the answer is "invalid", never a crash
            raise InvalidSchema(f"{UNFORESEEN}{type(e).__name__}: {e}") from None


AVRO = AvroFormat()


def _parse(text: str, references: Mapping[str, str]) -> AvroSchema:
    builder = Builder()
    _build_references(builder, references)
    referenced = frozenset(builder.names)
    root = builder.build(load_json(text, "the schema"))
    check_defaults([t for name, t in builder.names.items() if name not in referenced and isinstance(t, Record)])
    canonical = schema_text(root, set(referenced), normalize=False)
    try:
        canonical.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSchema("the schema holds a lone surrogate (\\ud800-\\udfff) that is not text") from None
    return AvroSchema(root, referenced, canonical)


def _build_references(builder: Builder, references: Mapping[str, str]) -> None:
    """Build the referenced schemas into `builder`, each after those it uses (in any
    order given: a pass builds what it can, until none is left or none can be built)."""
    pending = {name: load_json(text, f'the referenced schema "{name}"') for name, text in references.items()}
    while pending:
        waiting = len(pending)
        failures: dict[str, InvalidSchema] = {}
        for name, document in list(pending.items()):
            before = dict(builder.names)
            try:
                builder.build(document)
                check_defaults([t for n, t in builder.names.items() if n not in before and isinstance(t, Record)])
                del pending[name]
            except InvalidSchema as e:
                builder.names = before  # undo the names a failed build defined
                failures[name] = e
        if len(pending) == waiting:  # no progress: the first failure is the answer
            name, error = next(iter(failures.items()))
            raise InvalidSchema(f'the referenced schema "{name}" is not valid: {error}')


def load_json(text: object, what: str) -> object:
    if not isinstance(text, str):
        raise InvalidSchema(f"{what} is not text")
    if len(text) > MAX_SCHEMA_CHARS:
        raise InvalidSchema(f"{what} is too large ({len(text)} characters; at most {MAX_SCHEMA_CHARS})")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidSchema(f"{what} is nested too deeply") from None
    except ValueError as e:
        raise InvalidSchema(f"{what} is not valid JSON: {e}") from None
    if _depth(document) > MAX_DEPTH:
        raise InvalidSchema(f"{what} is nested too deeply (more than {MAX_DEPTH} levels)")
    return document


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _depth(document: object) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest
