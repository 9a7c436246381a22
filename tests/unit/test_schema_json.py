"""The registry's JSON format (JSON Schema) behaves as Confluent's: what it accepts, the text
it stores (canonical, and with normalize=true), references, and its compatibility rules
(Confluent's "JSON Schema compatibility rules" and the Difference types its verbose
messages name), through each of the seven levels."""

from __future__ import annotations

import json
import re

import pytest

from kraft.schemas.compatibility import incompatibilities
from kraft.schemas.formats import InvalidSchema
from kraft.schemas.json_schema.schema import JSON_SCHEMA, JsonSchema


def parse(schema: object, references: dict[str, str] | None = None) -> JsonSchema:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return JSON_SCHEMA.parse(text, references or {})


def error_types(reader: object, writer: object) -> list[str]:
    """The Difference types a reader with `reader` reports for data written with `writer`."""
    messages = parse(reader).read_errors(parse(writer))
    return [re.match(r'\{errorType:"(\w+)"', m).group(1) for m in messages]  # type: ignore[union-attr]


def closed(properties: dict[str, object], required: list[str] | None = None) -> dict[str, object]:
    return {"type": "object", "properties": properties, "required": required or [],
            "additionalProperties": False}


def opened(properties: dict[str, object], required: list[str] | None = None) -> dict[str, object]:
    return {"type": "object", "properties": properties, "required": required or []}


STRING, NUMBER, INTEGER = {"type": "string"}, {"type": "number"}, {"type": "integer"}

# (rule, writer, reader, the incompatible Difference types the reader reports: none = compatible)
RULES = [
    # content models: which properties an object's data may carry
    ("property_removed_from_closed_content_model",
     closed({"a": STRING, "b": STRING}), closed({"a": STRING}), ["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"]),
    ("property_removed_from_open_content_model",
     opened({"a": STRING, "b": STRING}), opened({"a": STRING}), []),
    ("optional_property_added_to_open_content_model",
     opened({"a": STRING}), opened({"a": STRING, "b": STRING}), ["OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"]),
    ("optional_property_added_to_closed_content_model",
     closed({"a": STRING}), closed({"a": STRING, "b": STRING}), []),
    ("property_with_empty_schema_added_to_open_content_model",
     opened({"a": STRING}), opened({"a": STRING, "b": {}}), []),
    ("required_property_added_to_closed_content_model",
     closed({"a": STRING}), closed({"a": STRING, "b": STRING}, ["b"]),
     ["REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"]),
    ("required_property_with_default_added_to_closed_content_model",
     closed({"a": STRING}), closed({"a": STRING, "b": {"type": "string", "default": "x"}}, ["b"]), []),
    ("required_property_added_to_open_content_model",
     opened({"a": STRING}), opened({"a": STRING, "b": STRING}, ["b"]),
     ["REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"]),
    ("property_with_false_removed_from_closed_content_model",
     closed({"a": STRING, "b": False}), closed({"a": STRING}), []),
    ("property_removed_is_covered_by_partially_open_content_model",
     closed({"a": STRING, "b": STRING}), {**opened({"a": STRING}), "additionalProperties": STRING}, []),
    ("property_removed_not_covered_by_partially_open_content_model",
     closed({"a": STRING, "b": STRING}), {**opened({"a": STRING}), "additionalProperties": NUMBER},
     ["TYPE_CHANGED", "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"]),
    ("property_added_is_covered_by_pattern_properties",
     {**closed({}), "patternProperties": {"^i_": INTEGER}},
     {**closed({"i_1": NUMBER}), "patternProperties": {"^i_": INTEGER}}, []),
    ("property_added_not_covered_by_pattern_properties",
     {**closed({}), "patternProperties": {"^i_": NUMBER}},
     {**closed({"i_1": INTEGER}), "patternProperties": {"^i_": NUMBER}},
     ["TYPE_NARROWED", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"]),
    ("additional_properties_opened", closed({"a": STRING}), opened({"a": STRING}), []),
    ("additional_properties_closed", opened({"a": STRING}), closed({"a": STRING}), ["ADDITIONAL_PROPERTIES_REMOVED"]),
    ("additional_properties_narrowed", opened({}), {**opened({}), "additionalProperties": STRING},
     ["ADDITIONAL_PROPERTIES_NARROWED"]),
    ("additional_properties_extended", {**opened({}), "additionalProperties": STRING}, opened({}), []),
    # required
    ("required_attribute_added", opened({"a": STRING}), opened({"a": STRING}, ["a"]), ["REQUIRED_ATTRIBUTE_ADDED"]),
    ("required_attribute_with_default_added",
     opened({"a": STRING}), opened({"a": {"type": "string", "default": ""}}, ["a"]), []),
    ("required_attribute_removed", opened({"a": STRING}, ["a"]), opened({"a": STRING}), []),
    # types
    ("type_changed", STRING, NUMBER, ["TYPE_CHANGED"]),
    ("type_extended_integer_to_number", INTEGER, NUMBER, []),
    ("type_narrowed_number_to_integer", NUMBER, INTEGER, ["TYPE_NARROWED"]),
    ("type_changed_in_a_property", opened({"a": STRING}), opened({"a": INTEGER}), ["TYPE_CHANGED"]),
    ("null_added_to_type_array", STRING, {"type": ["string", "null"]}, []),
    ("null_removed_from_type_array", {"type": ["string", "null"]}, STRING, ["TYPE_CHANGED"]),
    ("anything_read_by_empty_schema", closed({"a": STRING}), {}, []),
    ("empty_schema_narrowed_to_a_type", {}, STRING, ["TYPE_CHANGED"]),
    ("connect_bytes_types_alike", {"type": "string", "connect.type": "bytes"},
     {"type": "number", "connect.type": "bytes"}, []),
    ("annotations_changed", {"type": "string", "title": "a", "description": "a", "default": "a"},
     {"type": "string", "title": "b", "description": "b", "default": "b"}, []),
    # enum and const
    ("enum_array_extended", {"enum": ["red"]}, {"enum": ["red", "blue"]}, []),
    ("enum_array_narrowed", {"enum": ["red", "blue"]}, {"enum": ["red"]}, ["ENUM_ARRAY_NARROWED"]),
    ("enum_array_changed", {"enum": ["red"]}, {"enum": ["blue"]}, ["ENUM_ARRAY_CHANGED"]),
    ("typed_enum_extended", {"type": "string", "enum": ["a"]}, {"type": "string", "enum": ["a", "b"]}, []),
    ("typed_enum_narrowed", {"type": "string", "enum": ["a", "b"]}, {"type": "string", "enum": ["a"]},
     ["COMBINED_TYPE_SUBSCHEMAS_CHANGED"]),
    ("enum_removed", {"type": "string", "enum": ["a"]}, STRING, []),
    ("const_changed", {"const": 1}, {"const": 2}, ["ENUM_ARRAY_CHANGED"]),
    ("const_true_is_not_one", {"const": 1}, {"const": True}, ["ENUM_ARRAY_CHANGED"]),
    # string constraints
    ("max_length_increased", {"type": "string", "maxLength": 5}, {"type": "string", "maxLength": 9}, []),
    ("max_length_decreased", {"type": "string", "maxLength": 9}, {"type": "string", "maxLength": 5},
     ["MAX_LENGTH_DECREASED"]),
    ("max_length_added", STRING, {"type": "string", "maxLength": 5}, ["MAX_LENGTH_ADDED"]),
    ("min_length_increased", {"type": "string", "minLength": 1}, {"type": "string", "minLength": 2},
     ["MIN_LENGTH_INCREASED"]),
    ("min_length_removed", {"type": "string", "minLength": 1}, STRING, []),
    ("pattern_added", STRING, {"type": "string", "pattern": "^a"}, ["PATTERN_ADDED"]),
    ("pattern_changed", {"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, ["PATTERN_CHANGED"]),
    ("pattern_removed", {"type": "string", "pattern": "^a"}, STRING, []),
    # number constraints
    ("maximum_increased", {"type": "number", "maximum": 5}, {"type": "number", "maximum": 9}, []),
    ("maximum_decreased", {"type": "number", "maximum": 9}, {"type": "number", "maximum": 5}, ["MAXIMUM_DECREASED"]),
    ("minimum_decreased", {"type": "number", "minimum": 5}, {"type": "number", "minimum": 1}, []),
    ("minimum_increased", {"type": "number", "minimum": 1}, {"type": "number", "minimum": 5}, ["MINIMUM_INCREASED"]),
    ("exclusive_minimum_added", NUMBER, {"type": "number", "exclusiveMinimum": 0}, ["EXCLUSIVE_MINIMUM_ADDED"]),
    ("exclusive_maximum_removed", {"type": "number", "exclusiveMaximum": 10}, NUMBER, []),
    ("multiple_of_reduced", {"type": "number", "multipleOf": 10}, {"type": "number", "multipleOf": 5}, []),
    ("multiple_of_expanded", {"type": "number", "multipleOf": 5}, {"type": "number", "multipleOf": 10},
     ["MULTIPLE_OF_EXPANDED"]),
    ("multiple_of_reduced_exactly", {"type": "number", "multipleOf": 0.3}, {"type": "number", "multipleOf": 0.1}, []),
    ("multiple_of_changed", {"type": "number", "multipleOf": 3}, {"type": "number", "multipleOf": 5},
     ["MULTIPLE_OF_CHANGED"]),
    # object size and dependencies
    ("max_properties_decreased", {**opened({}), "maxProperties": 5}, {**opened({}), "maxProperties": 2},
     ["MAX_PROPERTIES_DECREASED"]),
    ("min_properties_removed", {**opened({}), "minProperties": 1}, opened({}), []),
    ("dependency_array_added", opened({"a": STRING, "b": STRING}),
     {**opened({"a": STRING, "b": STRING}), "dependencies": {"a": ["b"]}}, ["DEPENDENCY_ARRAY_ADDED"]),
    ("dependency_array_narrowed", {**opened({}), "dependencies": {"a": ["b", "c"]}},
     {**opened({}), "dependencies": {"a": ["b"]}}, []),
    ("dependency_schema_removed", {**opened({}), "dependencies": {"a": {"required": ["b"]}}}, opened({}), []),
    # combined schemas
    ("sum_type_extended", {"oneOf": [STRING]}, {"oneOf": [STRING, NUMBER]}, []),
    ("sum_type_narrowed", {"oneOf": [STRING, NUMBER]}, {"oneOf": [STRING]}, ["SUM_TYPE_NARROWED"]),
    ("product_type_extended", {"allOf": [opened({"a": STRING})]},
     {"allOf": [opened({"a": STRING}), opened({}, ["a"])]}, ["PRODUCT_TYPE_EXTENDED"]),
    ("product_type_narrowed", {"allOf": [opened({"a": STRING}), opened({}, ["a"])]},
     {"allOf": [opened({"a": STRING})]}, []),
    ("combined_type_extended_one_of_to_any_of", {"oneOf": [STRING, NUMBER]}, {"anyOf": [STRING, NUMBER]}, []),
    ("combined_type_changed_any_of_to_all_of", {"anyOf": [STRING, NUMBER]}, {"allOf": [STRING, NUMBER]},
     ["COMBINED_TYPE_CHANGED"]),
    ("combined_type_subschemas_changed", {"oneOf": [STRING, INTEGER]}, {"oneOf": [STRING, {"type": "boolean"}]},
     ["COMBINED_TYPE_SUBSCHEMAS_CHANGED"]),
    ("plain_schema_into_a_one_of", STRING, {"oneOf": [NUMBER, STRING]}, []),
    ("plain_schema_into_a_one_of_without_it", STRING, {"oneOf": [NUMBER, {"type": "boolean"}]}, ["TYPE_CHANGED"]),
    ("not_type_narrowed", {"not": {"type": ["string", "number"]}}, {"not": STRING}, []),
    ("not_type_extended", {"not": STRING}, {"not": {"type": ["string", "number"]}}, ["NOT_TYPE_EXTENDED"]),
    # arrays
    ("items_type_changed", {"type": "array", "items": STRING}, {"type": "array", "items": NUMBER}, ["TYPE_CHANGED"]),
    ("items_schema_added", {"type": "array"}, {"type": "array", "items": STRING}, ["SCHEMA_ADDED"]),
    ("items_schema_removed", {"type": "array", "items": STRING}, {"type": "array"}, []),
    ("max_items_decreased", {"type": "array", "maxItems": 5}, {"type": "array", "maxItems": 2},
     ["MAX_ITEMS_DECREASED"]),
    ("min_items_increased", {"type": "array", "minItems": 1}, {"type": "array", "minItems": 2},
     ["MIN_ITEMS_INCREASED"]),
    ("min_items_removed", {"type": "array", "minItems": 1}, {"type": "array"}, []),
    ("unique_items_added", {"type": "array"}, {"type": "array", "uniqueItems": True}, ["UNIQUE_ITEMS_ADDED"]),
    ("unique_items_removed", {"type": "array", "uniqueItems": True}, {"type": "array"}, []),
    ("item_removed_from_closed_content_model",
     {"type": "array", "items": [STRING, NUMBER], "additionalItems": False},
     {"type": "array", "items": [STRING], "additionalItems": False}, ["ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"]),
    ("item_removed_from_open_content_model",
     {"type": "array", "items": [STRING, NUMBER]}, {"type": "array", "items": [STRING]}, []),
    ("item_added_to_open_content_model",
     {"type": "array", "items": [STRING]}, {"type": "array", "items": [STRING, NUMBER]},
     ["ITEM_ADDED_TO_OPEN_CONTENT_MODEL"]),
    ("item_added_to_closed_content_model",
     {"type": "array", "items": [STRING], "additionalItems": False},
     {"type": "array", "items": [STRING, NUMBER], "additionalItems": False}, []),
    ("additional_items_closed", {"type": "array", "items": [STRING]},
     {"type": "array", "items": [STRING], "additionalItems": False}, ["ADDITIONAL_ITEMS_REMOVED"]),
    # $ref: the referred schema is what counts
    ("moved_into_a_ref", STRING, {"$ref": "#/definitions/s", "definitions": {"s": STRING}}, []),
    ("type_changed_behind_a_ref", {"type": "array", "items": {"$ref": "#/definitions/s"}, "definitions": {"s": STRING}},
     {"type": "array", "items": {"$ref": "#/definitions/s"}, "definitions": {"s": NUMBER}}, ["TYPE_CHANGED"]),
    # 2020-12's keywords
    ("unevaluated_properties_closed",
     {"$schema": "https://json-schema.org/draft/2020-12/schema", **opened({"a": STRING})},
     {"$schema": "https://json-schema.org/draft/2020-12/schema", **opened({"a": STRING}),
      "unevaluatedProperties": False}, ["UNEVALUATED_PROPERTIES_REMOVED"]),
    ("prefix_item_added_to_closed_content_model",
     {"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [STRING], "items": False},
     {"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [STRING, NUMBER], "items": False}, []),
]


@pytest.mark.parametrize("writer, reader, incompatible", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_compatibility_rule(writer, reader, incompatible):
    assert sorted(error_types(reader, writer)) == sorted(incompatible)


def test_messages_are_confluents_verbose_lines_with_the_json_path():
    messages = parse(closed({"a": STRING})).read_errors(parse(closed({"a": STRING, "b": STRING})))
    assert messages == ['{errorType:"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", description:"The reader has a '
                        "closed content model and is missing a property or item present at path "
                        "'#/properties/b' in the writer schema'}"]


def test_nested_incompatibilities_are_reported_once_each_with_their_paths():
    writer = opened({"inner": opened({"x": STRING, "y": {"type": "string", "maxLength": 9}})})
    reader = opened({"inner": opened({"x": NUMBER, "y": {"type": "string", "maxLength": 5}})})
    messages = parse(reader).read_errors(parse(writer))
    assert len(messages) == 2
    assert "'#/properties/inner/properties/x'" in messages[0] or "'#/properties/inner/properties/x'" in messages[1]
    assert any("'#/properties/inner/properties/y/maxLength'" in m for m in messages)


def test_recursive_schema_compares_and_finds_a_change_once():
    def tree(value_type: str) -> dict[str, object]:
        return {"type": "object", "properties": {"value": {"type": value_type},
                                                 "children": {"type": "array", "items": {"$ref": "#"}}}}
    assert error_types(tree("string"), tree("string")) == []
    assert error_types(tree("number"), tree("string")) == ["TYPE_CHANGED"]


def catalog(kinds: int, id_type: str = "string") -> dict[str, object]:
    """2020-12 definitions that refer to one another in a cycle through oneOf."""
    defs: dict[str, object] = {
        "Ident": {"type": "object", "properties": {"id": {"type": id_type}}, "required": ["id"]},
        "Common": {"type": "object", "properties": {"label": STRING}},
        "ItemOrIdent": {"oneOf": [{"$ref": "#/$defs/Ident"}, {"$ref": "#/$defs/Item"}]},
        "Item": {"oneOf": [{"$ref": f"#/$defs/Kind{k}"} for k in range(kinds)]}}
    for k in range(kinds):
        links = {f"link{n}": {"$ref": "#/$defs/ItemOrIdent"} for n in range(5)}
        defs[f"Kind{k}"] = {"$ref": "#/$defs/Common", "type": "object",
                            "properties": {**links, "kind": {"const": f"k{k}"}}, "required": ["kind"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, "$ref": "#/$defs/Item"}


def test_definitions_in_a_cycle_through_one_of_compare_to_an_answer():
    assert error_types(catalog(12), catalog(12)) == []
    assert error_types(catalog(12, id_type="integer"), catalog(12)) == ["COMBINED_TYPE_SUBSCHEMAS_CHANGED"]


# Confluent's seven levels, each with a change it allows and one it refuses. An optional
# property added to a closed content model is backward compatible only (the old reader has
# no room for it); added to an open one it is forward compatible only (the new reader cannot
# know what type the old writers gave it).
V1 = closed({"a": STRING})
V2_ADDED_CLOSED = closed({"a": STRING, "b": STRING})
OPEN_AB, OPEN_A = opened({"a": STRING, "b": STRING}), opened({"a": STRING})


def check(new: object, earlier: list[object], level: str) -> list[str]:
    return incompatibilities(parse(new), [parse(s) for s in earlier], level)


@pytest.mark.parametrize("level, allowed, refused", [
    ("BACKWARD", (V2_ADDED_CLOSED, [V1]), (OPEN_AB, [OPEN_A])),
    ("FORWARD", (OPEN_AB, [OPEN_A]), (V2_ADDED_CLOSED, [V1])),
    ("FULL", ({**V1, "description": "now documented"}, [V1]), (V2_ADDED_CLOSED, [V1])),
    ("NONE", (NUMBER, [STRING]), None),
])
def test_each_level_allows_and_refuses_as_confluent(level, allowed, refused):
    assert check(allowed[0], allowed[1], level) == []
    if refused is not None:
        assert check(refused[0], refused[1], level) != []


@pytest.mark.parametrize("level, history, new", [
    # the new schema follows the latest version but not the first
    ("BACKWARD", [{"enum": ["a", "b"]}, {"enum": ["a"]}], {"enum": ["a", "c"]}),
    ("FORWARD", [{"enum": ["a"]}, {"enum": ["a", "b"]}], {"enum": ["b"]}),
    ("FULL", [{"enum": ["a"]}, {"enum": ["a", "b"]}], {"enum": ["a", "b"], "title": "letters"}),
])
def test_transitive_levels_check_every_earlier_version(level, history, new):
    assert check(new, history, level) == []
    refused = check(new, history, f"{level}_TRANSITIVE")
    assert refused and all("ENUM_ARRAY" in m for m in refused)


def test_transitive_levels_allow_a_change_every_version_accepts():
    history = [{"enum": ["a"]}, {"enum": ["a", "b"]}]
    assert check({"enum": ["a", "b", "c"]}, history, "BACKWARD_TRANSITIVE") == []
    assert check({"enum": ["a"]}, history, "FORWARD_TRANSITIVE") == []
    assert check({"enum": ["a", "b"], "title": "x"}, [{"enum": ["a", "b"]}] * 2, "FULL_TRANSITIVE") == []


# references: a $ref names another registered schema; it is resolved from what was given
ADDRESS = json.dumps(closed({"street": STRING}))
CUSTOMER = opened({"address": {"$ref": "address.json"}})


def test_reference_resolves_from_the_references_given():
    parse(CUSTOMER, {"address.json": ADDRESS})
    parse({"$ref": "address.json#/properties/street"}, {"address.json": ADDRESS})


def test_reference_by_its_absolute_url():
    url = "https://example.com/schemas/address.json"
    parse(opened({"address": {"$ref": url}}), {url: ADDRESS})


def test_reference_relative_to_the_schemas_own_id():
    parse({"$id": "https://example.com/schemas/customer.json", **CUSTOMER}, {"address.json": ADDRESS})


def test_referenced_schema_is_read_by_its_own_draft():
    def pair(second: object) -> str:
        return json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema",
                           "type": "array", "prefixItems": [STRING, second], "items": False})
    holder = {"type": "object", "properties": {"pair": {"$ref": "pair.json"}}}  # draft 7
    old, new = parse(holder, {"pair.json": pair(STRING)}), parse(holder, {"pair.json": pair(NUMBER)})
    errors = new.read_errors(old)
    assert len(errors) == 1 and "TYPE_CHANGED" in errors[0] and "#/properties/pair/items/1" in errors[0]


def test_missing_reference_is_an_invalid_schema():
    with pytest.raises(InvalidSchema, match="address.json"):
        parse(CUSTOMER)


def test_remote_reference_is_never_fetched():
    with pytest.raises(InvalidSchema, match="does not resolve"):
        parse({"$ref": "http://127.0.0.1:9/schema.json"})


def test_invalid_referenced_schema_is_an_invalid_schema():
    with pytest.raises(InvalidSchema, match="referenced schema 'address.json'"):
        parse(CUSTOMER, {"address.json": '{"type": 5}'})


def test_change_in_a_referenced_schema_is_seen_through_the_reference():
    old = parse(CUSTOMER, {"address.json": ADDRESS})
    new = parse(CUSTOMER, {"address.json": json.dumps(closed({"street": NUMBER}))})
    errors = new.read_errors(old)
    assert len(errors) == 1 and "TYPE_CHANGED" in errors[0] and "#/properties/address/properties/street" in errors[0]


# canonical and normalized texts
def test_canonical_is_compact_json_in_the_order_given():
    schema = parse('{ "type" : "object",\n  "properties": {"b": {"type": "string"}, "a": {"type": "number"}} }')
    assert schema.canonical() == '{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"number"}}}'


def test_canonical_ignores_whitespace_only():
    assert parse('{"type":"string"}').canonical() == parse('{\n  "type": "string"\n}').canonical()
    assert parse('{"type":"string","title":"x"}').canonical() != parse('{"title":"x","type":"string"}').canonical()


def test_canonical_keeps_numbers_exact_as_java_bigdecimal_prints_them():
    schema = parse('{"maximum": 1.50, "minimum": 1e3, "multipleOf": 0.0000001, "default": 12345678901234567890}')
    assert schema.canonical() == '{"maximum":1.50,"minimum":1E+3,"multipleOf":1E-7,"default":12345678901234567890}'


def test_canonical_keeps_non_ascii_text():
    assert parse({"title": "Straße ✓"}).canonical() == '{"title":"Straße ✓"}'


def test_normalized_sorts_every_objects_keys_and_keeps_array_order():
    a = parse({"type": "object", "required": ["b", "a"],
               "properties": {"b": STRING, "a": {"maxLength": 2, "type": "string"}}})
    b = parse({"properties": {"a": {"type": "string", "maxLength": 2}, "b": STRING},
               "required": ["b", "a"], "type": "object"})
    assert a.canonical() != b.canonical()
    assert a.normalized().canonical() == b.normalized().canonical()
    assert a.normalized().canonical() == ('{"properties":{"a":{"maxLength":2,"type":"string"},"b":{"type":"string"}},'
                                          '"required":["b","a"],"type":"object"}')


def test_normalized_keeps_references_resolvable():
    normal = parse(CUSTOMER, {"address.json": ADDRESS}).normalized()
    assert normal.schema_type == "JSON" and normal.read_errors(parse(CUSTOMER, {"address.json": ADDRESS})) == []


# drafts
def test_draft_is_chosen_by_dollar_schema_and_defaults_to_draft_7():
    draft4_boolean_exclusive = {"$schema": "http://json-schema.org/draft-04/schema#",
                                "type": "number", "maximum": 5, "exclusiveMaximum": True}
    parse(draft4_boolean_exclusive)
    with pytest.raises(InvalidSchema, match="exclusiveMaximum"):
        parse({"type": "number", "maximum": 5, "exclusiveMaximum": True})
    parse({"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object",
           "dependentRequired": {"a": ["b"]}})
    parse({"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [STRING]})


def test_patterns_are_read_as_ecma_and_java_read_them():
    parse({"type": "string", "pattern": "^\\p{L}+$"})
    parse({"patternProperties": {"^(?<prefix>x_)": STRING}})


def test_boolean_schemas_are_schemas():
    assert parse(True).canonical() == "true"
    assert error_types(True, False) == []


# bad input: always InvalidSchema with a message, never another exception
@pytest.mark.parametrize("text, says", [
    ("{", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "object or a boolean"),
    ('"string"', "object or a boolean"),
    ('{"type": "strin"}', "#/type"),
    ('{"minLength": "three"}', "#/minLength"),
    ('{"properties": {"a": {"type": 5}}}', "#/properties/a/type"),
    ('{"pattern": "(unclosed"}', "#/pattern"),
    ('{"$ref": "#/definitions/missing"}', "does not resolve"),
    ("[" * 100_000, "nests deeper"),
    ('{"a":' * 5_000 + "1" + "}" * 5_000, "nests deeper"),
])
def test_bad_input_is_an_invalid_schema(text, says):
    with pytest.raises(InvalidSchema, match=re.escape(says)):
        JSON_SCHEMA.parse(text, {})


def test_text_that_is_not_a_string_is_an_invalid_schema():
    with pytest.raises(InvalidSchema):
        JSON_SCHEMA.parse(None, {})  # type: ignore[arg-type]


def test_comparison_of_hostile_ref_chains_ends_with_an_error_not_a_crash():
    definitions = {f"d{i}": opened({"next": {"$ref": f"#/definitions/d{i + 1}"}}) for i in range(300)}
    definitions["d300"] = STRING
    writer = parse({"definitions": definitions, "$ref": "#/definitions/d0"})
    errors = parse({"definitions": {**definitions, "d300": NUMBER}, "$ref": "#/definitions/d0"}).read_errors(writer)
    assert errors and "too large" in errors[0]


def test_self_referencing_ref_is_accepted_as_anything():
    assert error_types({"$ref": "#"}, STRING) == []
