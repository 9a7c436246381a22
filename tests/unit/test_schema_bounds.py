"""Registry and schema work bounded where users can make it huge: a JSON Schema pattern built
to backtrack makes the data not valid (a clear reason) instead of running for minutes; a
pattern too large to compile makes the schema invalid; a compatibility check that would
read too much schema text is refused as incompatible before it starts."""

from __future__ import annotations

import json

import pytest
from registry_fixtures import Registry, schema

from kraft.schemas.compatibility import MAX_CHECKED_CHARS
from kraft.schemas.formats import InvalidSchema, SchemaReference
from kraft.schemas.json_schema.schema import JSON_SCHEMA
from kraft.schemas.json_schema.records import JsonSchemaCodec
from kraft.schemas.record_codecs import DataMismatch
from kraft.schemas.registry_errors import INCOMPATIBLE_SCHEMA, RegistryError
from kraft.schemas.registry_requests import SetConfig

BACKTRACKS = "^(a|a)+$"  # 2^n paths to fail on n a's and a "!", in any backtracking engine
ATTACK = "a" * 26 + "!"
DRAFT_2019 = "https://json-schema.org/draft/2019-09/schema"
DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"


def codec(document: dict) -> JsonSchemaCodec:
    return JsonSchemaCodec(JSON_SCHEMA.parse(json.dumps(document), {}))


@pytest.mark.parametrize("document, data", [
    ({"type": "string", "pattern": BACKTRACKS}, ATTACK),
    ({"type": "object", "patternProperties": {BACKTRACKS: {"type": "integer"}}}, {ATTACK: 1}),
    ({"type": "object", "patternProperties": {BACKTRACKS: {}}, "additionalProperties": False}, {ATTACK: 1}),
    ({"$schema": DRAFT_2019, "patternProperties": {BACKTRACKS: {}}, "unevaluatedProperties": False}, {ATTACK: 1}),
    ({"$schema": DRAFT_2020, "patternProperties": {BACKTRACKS: {}}, "unevaluatedProperties": False}, {ATTACK: 1}),
], ids=["pattern", "patternProperties", "additionalProperties", "unevaluated-2019", "unevaluated-2020"])
def test_a_backtracking_pattern_makes_the_data_not_valid_saying_it_took_too_long(document, data):
    with pytest.raises(DataMismatch, match="took too long"):
        codec(document).encode(data)


def test_the_classic_nested_quantifier_answers_at_once_that_the_data_does_not_match():
    with pytest.raises(DataMismatch, match="does not match"):
        codec({"type": "string", "pattern": "^(a+)+$"}).encode("a" * 40 + "!")


def test_patterns_match_as_java_reads_them_and_ordinary_data_passes():
    assert codec({"type": "string", "pattern": r"^\p{L}+$"}).encode("héllo") == '"héllo"'.encode()
    assert codec({"type": "string", "pattern": BACKTRACKS}).encode("aaaa") == b'"aaaa"'


@pytest.mark.parametrize("document", [
    {"pattern": "((a{100}){100}){100}"},
    {"properties": {"x": {"format": "regex", "pattern": "(" * 500 + ")" * 500}}},
    {"$schema": "http://json-schema.org/draft-04/schema#", "patternProperties": {"(a{1000}){1000}": {}}},
], ids=["nested-counts", "nested-groups", "draft4-patternProperties"])
def test_a_pattern_too_large_to_compile_makes_the_schema_invalid(document):
    with pytest.raises(InvalidSchema, match="pattern"):
        JSON_SCHEMA.parse(json.dumps(document), {})


def test_a_compatibility_check_that_would_read_too_much_is_refused_as_incompatible():
    registry = Registry()
    registry.write(SetConfig(None, "FULL_TRANSITIVE"))
    field = "f" * (MAX_CHECKED_CHARS // 128)  # each version's text about 1/128 of the bound
    versions = 0
    with pytest.raises(RegistryError) as refused:
        for versions in range(1, 100):  # each compatible with every earlier one
            registry.register("s", schema(field, defaults=(f"x{versions}",)))
    assert refused.value.error_code == INCOMPATIBLE_SCHEMA
    assert "would read" in refused.value.message and 2 < versions < 64


def test_the_text_a_schema_references_counts_toward_what_a_check_would_read():
    """Small versions that each reference one large schema: reading them means reading it."""
    registry = Registry()
    registry.write(SetConfig(None, "FULL_TRANSITIVE"))
    registry.register("base", schema("f" * (MAX_CHECKED_CHARS // 128)))
    refs = (SchemaReference("Base", "base", 1),)
    versions = 0
    with pytest.raises(RegistryError) as refused:
        for versions in range(1, 100):
            registry.register("s", schema("a", defaults=(f"x{versions}",), uses=("Base",)), references=refs)
    assert refused.value.error_code == INCOMPATIBLE_SCHEMA
    assert "would read" in refused.value.message and 2 < versions < 64


def test_under_the_bound_every_version_is_still_checked():
    registry = Registry()
    registry.write(SetConfig(None, "BACKWARD_TRANSITIVE"))
    registry.register("s", schema("a"))
    for i in range(50):
        registry.register("s", schema("a", defaults=tuple(f"d{k}" for k in range(i + 1))))
    with pytest.raises(RegistryError) as refused:
        registry.register("s", schema("a", "b"))  # b without a default: the first version lacks it
    assert refused.value.error_code == INCOMPATIBLE_SCHEMA and "'b'" in refused.value.message


def test_records_are_validated_by_the_draft_the_registry_checked_the_schema_against():
    """A $schema jsonschema cannot read as a URL (the registry takes it as draft 7) still
    makes a codec; one named without its scheme is draft 4 for the registry and for records."""
    assert codec({"$schema": "https://json[-schema.org/x", "type": "object"}).encode({"a": 1}) == b'{"a":1}'
    draft_4 = codec({"$schema": "json-schema.org/draft-04/schema", "type": "number", "maximum": 5,
                     "exclusiveMaximum": True})
    assert draft_4.encode(3) == b"3"  # draft 7 would read exclusiveMaximum true as 1
    with pytest.raises(DataMismatch):
        draft_4.encode(5)
