"""JSON Schema text to a checked document: bounded JSON parsing, the draft its `$schema`
names (draft 7 when it names none or one unknown, as Confluent), the check against that
draft's metaschema (the jsonschema library), and the registry that resolves `$ref`s to the
referenced schemas' texts (the referencing library). Remote `$ref`s are never fetched: a
reference the registry was not given does not resolve."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import urljoin

import regex
from jsonschema import FormatChecker, validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource, Specification
from referencing import jsonschema as referencing_drafts

from kraft.schemas.formats import InvalidSchema
from kraft.schemas.patterns import PatternTooLarge, check_pattern, install_into_jsonschema

MAX_DEPTH = 64  # nesting of arrays and objects; real schemas stay far below
BASE_URI = "mem://input"  # where Confluent roots a schema with no $id of its own

DRAFT_4, DRAFT_6, DRAFT_7, DRAFT_2019_09, DRAFT_2020_12 = 4, 6, 7, 2019, 2020
VALIDATORS: dict[int, type[Validator]] = {
    DRAFT_4: validators.Draft4Validator, DRAFT_6: validators.Draft6Validator,
    DRAFT_7: validators.Draft7Validator, DRAFT_2019_09: validators.Draft201909Validator,
    DRAFT_2020_12: validators.Draft202012Validator}
_SPECIFICATIONS: dict[int, Specification[Any]] = {
    DRAFT_4: referencing_drafts.DRAFT4, DRAFT_6: referencing_drafts.DRAFT6,
    DRAFT_7: referencing_drafts.DRAFT7, DRAFT_2019_09: referencing_drafts.DRAFT201909,
    DRAFT_2020_12: referencing_drafts.DRAFT202012}
_DRAFT_PATHS = {"json-schema.org/draft-04/schema": DRAFT_4, "json-schema.org/draft-06/schema": DRAFT_6,
                "json-schema.org/draft-07/schema": DRAFT_7,
                "json-schema.org/draft/2019-09/schema": DRAFT_2019_09,
                "json-schema.org/draft/2020-12/schema": DRAFT_2020_12}


class WrittenNumber(float):
    """A JSON number with a fraction or an exponent, which keeps how it was written: Confluent
    stores such numbers exactly (Java's BigDecimal), so 1.50 stays 1.50 and 1e3 is 1E+3."""
    text: str

    def __new__(cls, text: str) -> "WrittenNumber":
        number = super().__new__(cls, text)
        number.text = str(Decimal(text))  # Python's Decimal prints as BigDecimal.toString
        return number


@dataclass(frozen=True)
class LoadedSchema:
    document: Any  # the schema as JSON (a dict or a bool)
    draft: int
    registry: Registry[Any]  # the document and its references, by URI
    drafts: dict[int, int]  # id() of each schema object in a referenced document -> its draft


def draft_of(document: Any) -> int:
    """The draft a document's $schema names (http or https, with or without '#')."""
    named = document.get("$schema") if isinstance(document, dict) else None
    if not isinstance(named, str):
        return DRAFT_7
    path = named.split("://", 1)[-1].rstrip("#")
    return _DRAFT_PATHS.get(path, DRAFT_7)


def parse_json(text: str, what: str = "the schema") -> Any:
    """JSON text to a value, refusing nesting deeper than MAX_DEPTH before the parser
    recurses into it."""
    if not isinstance(text, str):
        raise InvalidSchema(f"{what} must be a string of JSON, not {type(text).__name__}")
    depth = _deepest_nesting(text)
    if depth > MAX_DEPTH:
        raise InvalidSchema(f"{what} nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_float=WrittenNumber)
    except (ValueError, RecursionError) as e:
        raise InvalidSchema(f"{what} is not valid JSON: {e}") from None


def _deepest_nesting(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_against_metaschema(document: Any, draft: int, what: str = "the schema") -> None:
    if not isinstance(document, (dict, bool)):
        raise InvalidSchema(f"{what} must be a JSON object or a boolean, not {type(document).__name__}")
    if isinstance(document, bool):
        return  # true and false are whole schemas
    validator = VALIDATORS[draft]
    try:
        error = best_match(validator(validator.META_SCHEMA, format_checker=_FORMAT_CHECKERS[draft])
                           .iter_errors(document))
    except RecursionError:
        raise InvalidSchema(f"{what} is too deeply nested") from None
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path)
        why = f": {error.cause}" if error.cause is not None else ""  # e.g. why a pattern is refused
        raise InvalidSchema(f"{what} is not a valid JSON Schema (at '#/{where}'): {error.message}{why}")


def _is_regex(pattern: object) -> bool:
    """ECMA-262 patterns as Java reads them (\\p{L}, (?<name>..)), which Python's re refuses,
    and cheap enough to compile (kraft/schemas/patterns.py)."""
    if isinstance(pattern, str):
        check_pattern(pattern)
    return True


def _format_checker(validator: type[Validator]) -> FormatChecker:
    checker = FormatChecker(validator.FORMAT_CHECKER.checkers)
    checker.checks("regex", raises=(regex.error, PatternTooLarge))(_is_regex)
    return checker


install_into_jsonschema()  # every draft's pattern keywords match with a bound


_FORMAT_CHECKERS = {draft: _format_checker(validator) for draft, validator in VALIDATORS.items()}


def _metaschemas() -> Registry[Any]:
    """The drafts' metaschemas by their URIs, so a $ref to one resolves offline."""
    resources = [(str(validator.META_SCHEMA["$schema"]).rstrip("#"),
                  _SPECIFICATIONS[draft].create_resource(validator.META_SCHEMA))
                 for draft, validator in VALIDATORS.items()]
    return Registry().with_resources(resources).crawl()


_METASCHEMAS = _metaschemas()  # crawled once: each schema's registry adds only its own


def load(text: str, references: Mapping[str, str]) -> LoadedSchema:
    document = parse_json(text)
    draft = draft_of(document)
    check_against_metaschema(document, draft)
    resources: list[tuple[str, Resource[Any]]] = []
    drafts: dict[int, int] = {}
    root_id = _id_of(document, draft)
    bases = [BASE_URI + "/"] + ([root_id] if isinstance(root_id, str) else [])
    for name, reference_text in references.items():
        what = f"the referenced schema {name!r}"
        referenced = parse_json(reference_text, what)
        referenced_draft = draft_of(referenced)
        check_against_metaschema(referenced, referenced_draft, what)
        resource = _SPECIFICATIONS[referenced_draft].create_resource(referenced)
        drafts.update(dict.fromkeys(_objects_in(referenced), referenced_draft))
        # by its name as given, and that name resolved against the root's base (Confluent's,
        # or the root's own $id: a relative $ref resolves against it)
        for uri in {name} | {urljoin(base, name) for base in bases}:
            resources.append((uri, resource))
    resources.append((BASE_URI, _SPECIFICATIONS[draft].create_resource(document)))
    try:
        registry: Registry[Any] = _METASCHEMAS.with_resources(resources).crawl()
    except Exception as e:  # e.g. a nested $schema whose subschemas its own draft refuses
        raise InvalidSchema(f"the schema's $id / $schema keywords do not make a usable schema: "
                            f"{type(e).__name__}: {e}") from None
    return LoadedSchema(document, draft, registry, drafts)


def _objects_in(document: Any) -> list[int]:
    """id() of every JSON object in a document."""
    found, waiting = [], [document]
    while waiting:
        value = waiting.pop()
        if isinstance(value, dict):
            found.append(id(value))
            waiting.extend(value.values())
        elif isinstance(value, list):
            waiting.extend(value)
    return found


def _id_of(document: Any, draft: int) -> Any:
    return document.get("id" if draft == DRAFT_4 else "$id") if isinstance(document, dict) else None


def specification(draft: int) -> Specification[Any]:
    return _SPECIFICATIONS[draft]
