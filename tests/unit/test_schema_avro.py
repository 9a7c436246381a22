"""The AVRO schema format as Confluent's registry knows it: parsing by Java Avro's rules
(namespaces, aliases, defaults, logical types, references), the text the registry stores
(canonical) and registers with normalize=true, the Avro specification's schema
resolution rules with Confluent's verbose messages, and Confluent's seven compatibility
levels on top of them."""

from __future__ import annotations

import json

import pytest
from avro import compatibility as apache_compatibility  # Apache Avro's Python port: a second opinion in tests
from avro import schema as apache_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraft.schemas.avro.schema import AVRO, MAX_DEPTH, MAX_SCHEMA_CHARS, UNFORESEEN, AvroSchema
from kraft.schemas.compatibility import LEVELS, incompatibilities
from kraft.schemas.formats import InvalidSchema, SchemaFormat


def avro(schema: object, references: dict[str, object] | None = None) -> AvroSchema:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    refs = {name: s if isinstance(s, str) else json.dumps(s) for name, s in (references or {}).items()}
    return AVRO.parse(text, refs)


def record(name: str, *fields: dict[str, object], **extra: object) -> dict[str, object]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def field(name: str, type_: object, **extra: object) -> dict[str, object]:
    return {"name": name, "type": type_, **extra}


def errors(reader: object, writer: object) -> list[str]:
    return avro(reader).read_errors(avro(writer))


def error_types(reader: object, writer: object) -> list[str]:
    return [m.split("'")[1] for m in errors(reader, writer)]


# --- the format object --------------------------------------------------------------

def test_the_format_is_named_avro_and_satisfies_the_interface():
    fmt: SchemaFormat = AVRO
    assert fmt.name == "AVRO"
    assert fmt.parse('"string"', {}).schema_type == "AVRO"


# --- parsing ---------------------------------------------------------------------------

def test_every_kind_of_type_parses():
    schema = record("com.acme.Order",
                    field("id", "long"),
                    field("flag", {"type": "boolean"}),
                    field("amount", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}),
                    field("day", {"type": "int", "logicalType": "date"}),
                    field("status", {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"], "default": "NEW"}),
                    field("hash", {"type": "fixed", "name": "Md5", "size": 16}),
                    field("tags", {"type": "array", "items": "string"}, default=[]),
                    field("attrs", {"type": "map", "values": ["null", "double"]}, default={}),
                    field("note", ["null", "string"], default=None),
                    field("again", "Status", default="DONE"))
    parsed = avro(schema)
    assert parsed.record_name == "com.acme.Order"
    assert json.loads(parsed.canonical())["fields"][4]["type"]["name"] == "Status"


def test_a_nested_type_takes_the_enclosing_namespace_and_is_used_by_its_short_name():
    schema = record("Outer", field("inner", record("Inner", field("x", "int"))), field("again", "Inner"),
                    field("full", "a.b.Inner"), namespace="a.b")
    parsed = json.loads(avro(schema).canonical())
    assert parsed["fields"][1]["type"] == "Inner"
    assert parsed["fields"][2]["type"] == "Inner"


def test_a_short_name_falls_back_to_the_null_namespace_as_java_avro_does():
    schema = record("Outer", field("plain", {"type": "fixed", "name": "Plain", "namespace": "", "size": 2}),
                    field("again", "Plain"), namespace="a.b")
    canonical = json.loads(avro(schema).canonical())
    assert canonical["fields"][0]["type"]["namespace"] == ""  # null namespace inside a.b
    assert canonical["fields"][1]["type"] == "Plain"


def test_a_recursive_type_parses():
    linked = record("Node", field("value", "int"), field("next", ["null", "Node"], default=None))
    assert json.loads(avro(linked).canonical())["fields"][1]["type"] == ["null", "Node"]


@pytest.mark.parametrize("default, type_", [
    (None, "null"), (True, "boolean"), (2**31 - 1, "int"), (-2**63, "long"), (1, "double"), (1.5, "float"),
    ("NaN", "double"), ("\u00ff", "bytes"), ("x", "string"), ([1, 2], {"type": "array", "items": "int"}),
    ({"k": "v"}, {"type": "map", "values": "string"}), ("x", ["null", "string"]), (None, ["null", "string"]),
    ({"a": 1}, record("Inner", field("a", "int"), field("b", "string", default="z"))),
    ("B", {"type": "enum", "name": "E", "symbols": ["A", "B"]}),
])
def test_a_default_of_its_type_is_accepted(default, type_):
    avro(record("R", field("f", type_, default=default)))


@pytest.mark.parametrize("default, type_", [
    ("x", "int"), (2**31, "int"), (1.5, "long"), (2**63, "long"), ("x", "boolean"), (0, "boolean"),
    (1, "null"), (1, "string"), (True, "double"), ("one", "double"), (["x"], {"type": "array", "items": "int"}),
    ({"k": 1}, {"type": "map", "values": "string"}), (1, ["null", "string"]),
    ({}, record("Inner", field("a", "int"))), ({"a": "x"}, record("Inner", field("a", "int"))),
    (1, {"type": "fixed", "name": "F", "size": 1}),
])
def test_a_default_not_of_its_type_is_refused(default, type_):
    with pytest.raises(InvalidSchema, match="Invalid default for field f"):
        avro(record("R", field("f", type_, default=default)))


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ('{"type": "record", "name": "R", "fields": [{"name": "f", "type": "double", "default": NaN}]}',
     "not valid JSON"),
    ('{"type": "strin"}', 'unknown type "strin"'),
    ('"Missing"', 'unknown type "Missing"'),
    ('{"type": "record", "name": "R", "fields": [{"name": "f", "type": "Other"}]}', 'unknown type "Other"'),
    ('{"type": "record", "name": "R"}', 'no "fields"'),
    ('{"type": "record", "fields": []}', 'needs a "name"'),
    ('{"type": "record", "name": "1R", "fields": []}', "not a valid name"),
    ('{"type": "record", "name": "a-b", "fields": []}', "not a valid name"),
    ('{"type": "record", "name": "R", "fields": [{"name": "a b", "type": "int"}]}', 'no valid "name"'),
    ('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}',
     "two fields"),
    ('{"type": "record", "name": "R", "fields": [{"name": "a"}]}', 'has no "type"'),
    ('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", "order": "up"}]}', '"order"'),
    ('["int", "int"]', "holds int twice"),
    ('[["int"], "null"]', "may not hold a union"),
    ('{"type": "enum", "name": "E", "symbols": "AB"}', '"symbols"'),
    ('{"type": "enum", "name": "E", "symbols": ["A", "A"]}', "symbol twice"),
    ('{"type": "enum", "name": "E", "symbols": ["A"], "default": "B"}', "not one of its symbols"),
    ('{"type": "fixed", "name": "F", "size": -1}', '"size"'),
    ('{"type": "fixed", "name": "F", "size": "3"}', '"size"'),
    ('{"type": "array"}', 'needs "items"'),
    ('{"type": "map"}', 'needs "values"'),
    ('{"type": "record", "name": "int", "fields": []}', "primitive type"),
    ('{"type": {"type": "int"}}', 'no "type"'),
    ("5", "not an Avro schema"),
    ("null", "not an Avro schema"),
    ('{"type": "record", "name": "R", "fields": [{"name": "a", "type": {"type": "fixed", "name": "X", "size": 1}},'
     ' {"name": "b", "type": {"type": "fixed", "name": "X", "size": 2}}]}', "defined twice"),
])
def test_bad_input_is_refused_with_a_clear_message(text, message):
    with pytest.raises(InvalidSchema, match=message):
        AVRO.parse(text, {})


def test_a_text_that_is_not_a_string_is_refused():
    with pytest.raises(InvalidSchema):
        AVRO.parse(b'"int"', {})  # type: ignore[arg-type]


def test_a_huge_text_is_refused_before_it_is_read():
    with pytest.raises(InvalidSchema, match="too large"):
        AVRO.parse('"' + "x" * MAX_SCHEMA_CHARS + '"', {})


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 50_000])
def test_deep_nesting_is_refused_not_a_crash(depth):
    with pytest.raises(InvalidSchema, match="nested too deeply"):
        AVRO.parse("[" * depth + "]" * depth, {})
    arrays = '{"type": "array", "items": ' * depth + '"int"' + "}" * depth
    with pytest.raises(InvalidSchema, match="nested too deeply"):
        AVRO.parse(arrays, {})


def test_a_union_of_many_records_is_compared_branch_by_branch():
    def version(field_type: str) -> str:
        branches = [record(f"R{i}", field("a", field_type)) for i in range(3000)]
        return json.dumps(record("Top", field("u", branches)))
    reader, writer = AVRO.parse(version("int"), {}), AVRO.parse(version("string"), {})
    assert len(reader.read_errors(writer)) == 3000  # every branch: MISSING_UNION_BRANCH


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_defaults_that_would_take_long_to_check_are_refused():
    branches = [record(f"R{i}", field(f"a{i}", "int")) for i in range(2000)]
    schema = record("Top", field("u", {"type": "array", "items": branches}, default=[{"a1999": 1}] * 20000))
    with pytest.raises(InvalidSchema, match="too large to check"):
        avro(schema)


def test_attributes_java_avro_ignores_are_dropped_not_refused():
    schema = record("R", field("e", {"type": "enum", "name": "E", "symbols": ["A"], "default": 5}),
                    namespace=7, doc=3)
    assert avro(schema).canonical() == \
        '{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]}'


def test_an_error_is_a_record_stored_as_an_error():
    assert avro({"type": "error", "name": "Oops", "fields": []}).canonical() == \
        '{"type":"error","name":"Oops","fields":[]}'
    assert errors({"type": "error", "name": "Oops", "fields": []}, record("Oops")) == []


def test_unicode_names_are_valid_as_in_java_avro():
    assert json.loads(avro(record("Größe", field("maß", "int"))).canonical())["name"] == "Größe"


def test_nesting_within_the_bound_parses():
    nested: object = "int"
    for _ in range(MAX_DEPTH // 2 - 1):
        nested = {"type": "array", "items": nested}
    avro(nested)


_ATTRIBUTES = ["type", "name", "namespace", "fields", "items", "values", "symbols", "size", "default", "aliases",
               "doc", "order", "logicalType", "precision", "scale"]
_WORDS = st.sampled_from(["record", "enum", "fixed", "array", "map", "int", "string", "null", "R", "a.b.R", "A",
                          "", "error", "ascending", "decimal", "x-y"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | _WORDS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_ATTRIBUTES), inner, max_size=6),
    max_leaves=30)


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON)
def test_random_json_is_a_schema_or_invalid_never_another_error(document):
    try:
        parsed = AVRO.parse(json.dumps(document), {})
    except InvalidSchema as e:
        assert not str(e).startswith(UNFORESEEN), e  # refused by a rule, not by the last-resort guard
        return
    again = AVRO.parse(parsed.canonical(), {})  # what is stored parses back to itself
    assert again.canonical() == parsed.canonical()
    assert AVRO.parse(parsed.normalized().canonical(), {}).canonical() == parsed.normalized().canonical()
    assert parsed.read_errors(again) == []


# --- the stored text (canonical) ---------------------------------------------------------

def test_two_registrations_differing_in_whitespace_and_attribute_order_are_one_schema():
    a = '{"type": "record", "name": "R", "fields": [{"name": "f", "type": "string"}]}'
    b = '{\n  "fields": [ {"type" : "string",\n "name": "f"} ],\n  "name": "R", "type": "record"\n}'
    assert avro(a).canonical() == avro(b).canonical() == \
        '{"type":"record","name":"R","fields":[{"name":"f","type":"string"}]}'


def test_the_stored_text_keeps_docs_defaults_aliases_and_properties_in_java_avros_layout():
    schema = {"fields": [{"default": 0, "doc": "how many", "aliases": ["n"], "order": "descending",
                          "type": {"type": "long", "connect.name": "count"}, "name": "count", "x-tag": [1]},
                         {"name": "up", "type": "int", "order": "ascending"}],
              "aliases": ["Old"], "name": "Counter", "doc": "a \"counter\"", "namespace": "m", "type": "record",
              "connect.version": 2}
    assert avro(schema).canonical() == (
        '{"type":"record","name":"Counter","namespace":"m","doc":"a \\"counter\\"","fields":['
        '{"name":"count","type":{"type":"long","connect.name":"count"},"doc":"how many","default":0,'
        '"order":"descending","aliases":["n"],"x-tag":[1]},{"name":"up","type":"int"}],'
        '"connect.version":2,"aliases":["Old"]}')


def test_a_primitive_without_properties_is_stored_as_its_bare_name():
    assert avro({"type": "string"}).canonical() == '"string"'
    assert avro({"type": "int", "doc": "dropped"}).canonical() == '"int"'  # doc is no property of a primitive


def test_a_full_name_is_stored_as_name_and_namespace_and_the_namespace_only_where_it_changes():
    schema = record("a.b.Outer", field("same", record("Inner", field("x", "int"), namespace="a.b")),
                    field("other", record("c.Other", field("y", "int"))))
    stored = json.loads(avro(schema).canonical())
    assert (stored["name"], stored["namespace"]) == ("Outer", "a.b")
    assert "namespace" not in stored["fields"][0]["type"]
    assert (stored["fields"][1]["type"]["name"], stored["fields"][1]["type"]["namespace"]) == ("Other", "c")


def test_numbers_are_stored_as_java_writes_them():
    schema = record("R", field("a", "double", default=1e20), field("b", "double", default=0.001),
                    field("c", "double", default=1e-5), field("d", "float", default="Infinity"),
                    field("e", "double", default=2.5))
    stored = avro(schema).canonical()
    assert '"default":1.0E20' in stored and '"default":0.001' in stored and '"default":1.0E-5' in stored
    assert '"default":"Infinity"' in stored and '"default":2.5' in stored


# --- references ---------------------------------------------------------------------------

ADDRESS = {"type": "record", "name": "Address", "namespace": "com.acme",
           "fields": [{"name": "street", "type": "string"}]}
CUSTOMER = {"type": "record", "name": "Customer", "namespace": "com.acme",
            "fields": [{"name": "name", "type": "string"}, {"name": "home", "type": "Address"}]}


def test_a_referenced_type_is_used_by_name_and_stored_by_name():
    parsed = avro(CUSTOMER, {"com.acme.Address": ADDRESS})
    assert json.loads(parsed.canonical())["fields"][1]["type"] == "Address"
    assert avro(parsed.canonical(), {"com.acme.Address": ADDRESS}).canonical() == parsed.canonical()


def test_references_may_use_each_other_in_any_order():
    order = {"type": "record", "name": "com.acme.Order", "fields": [{"name": "by", "type": "Customer"}]}
    refs = {"com.acme.Customer": CUSTOMER, "com.acme.Address": ADDRESS}
    assert json.loads(avro(order, refs).canonical())["fields"][0]["type"] == "Customer"


def test_a_missing_reference_is_an_invalid_schema():
    with pytest.raises(InvalidSchema, match='unknown type "Address"'):
        avro(CUSTOMER)
    with pytest.raises(InvalidSchema, match='referenced schema "com.acme.Customer"'):
        avro({"type": "record", "name": "O", "fields": [{"name": "c", "type": "com.acme.Customer"}]},
             {"com.acme.Customer": CUSTOMER})


def test_an_invalid_referenced_schema_is_an_invalid_schema():
    with pytest.raises(InvalidSchema, match="referenced schema"):
        avro(CUSTOMER, {"com.acme.Address": "{not json"})


def test_a_schema_may_not_redefine_a_referenced_type():
    with pytest.raises(InvalidSchema, match="defined twice"):
        avro(record("com.acme.Address", field("x", "int")), {"com.acme.Address": ADDRESS})


def test_referenced_types_take_part_in_compatibility():
    v1 = avro(CUSTOMER, {"com.acme.Address": ADDRESS})
    address2 = {**ADDRESS, "fields": ADDRESS["fields"] + [{"name": "zip", "type": "string"}]}
    v2 = avro(CUSTOMER, {"com.acme.Address": address2})
    assert [m.split("'")[1] for m in v2.read_errors(v1)] == ["READER_FIELD_MISSING_DEFAULT_VALUE"]
    assert v1.read_errors(v2) == []


# --- normalize=true ---------------------------------------------------------------------

def test_normalized_sorts_properties_and_aliases_and_puts_the_logical_type_first():
    schema = record("R", field("amount", {"type": "bytes", "scale": 2, "x": {"b": 1, "a": 2}, "precision": 6,
                                          "logicalType": "decimal"}, aliases=["z", "a"], zz=1, aa=2),
                    aliases=["Q", "P"], doc="", ymeta=1, bmeta=2)
    assert avro(schema).normalized().canonical() == (
        '{"type":"record","name":"R","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal",'
        '"precision":6,"scale":2,"x":{"a":2,"b":1}},"aliases":["a","z"],"aa":2,"zz":1}],"bmeta":2,"ymeta":1,'
        '"aliases":["P","Q"]}')


def test_normalized_writes_a_floating_default_as_a_floating_number():
    schema = record("R", field("ratio", "double", default=1), field("maybe", ["null", "float"], default=None),
                    field("list", {"type": "array", "items": "double"}, default=[1, 2]))
    assert '"default":1.0' in avro(schema).normalized().canonical()
    assert '"default":[1.0,2.0]' in avro(schema).normalized().canonical()
    assert '"default":1}' in avro(schema).canonical()  # as given when not normalized


def test_normalized_makes_two_orderings_of_properties_one_schema():
    a = avro(record("R", field("f", "int"), p=1, q=2))
    b = avro(record("R", field("f", "int"), q=2, p=1))
    assert a.canonical() != b.canonical()
    assert a.normalized().canonical() == b.normalized().canonical()


def test_normalized_is_stable_and_parses_back_to_itself():
    parsed = avro(CUSTOMER, {"com.acme.Address": ADDRESS})
    text = parsed.normalized().canonical()
    assert parsed.normalized().normalized().canonical() == text
    assert avro(text, {"com.acme.Address": ADDRESS}).canonical() == text


def test_normalized_keeps_defaults_docs_and_field_order():
    schema = record("R", field("b", "string", default="x", doc="d"), field("a", "int", order="ignore"))
    assert avro(schema).normalized().canonical() == (
        '{"type":"record","name":"R","fields":[{"name":"b","type":"string","doc":"d","default":"x"},'
        '{"name":"a","type":"int","order":"ignore"}]}')


# --- schema resolution: one rule at a time --------------------------------------------------

@pytest.mark.parametrize("writer, reader", [
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"),
    ("float", "double"), ("string", "bytes"), ("bytes", "string"), ("int", "int"),
])
def test_a_promotable_writer_type_is_readable(writer, reader):
    assert errors(record("R", field("f", reader)), record("R", field("f", writer))) == []


@pytest.mark.parametrize("writer, reader", [
    ("long", "int"), ("double", "float"), ("float", "long"), ("string", "int"), ("boolean", "null"),
])
def test_a_narrowing_type_change_is_a_type_mismatch(writer, reader):
    assert errors(record("R", field("f", reader)), record("R", field("f", writer))) == [
        "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the reader schema "
        "does not match with the writer schema', additionalInfo:'reader type: "
        f"{reader.upper()} not compatible with writer type: {writer.upper()}'}}"]


def test_a_reader_field_missing_in_the_writer_needs_a_default():
    old = record("R", field("f1", "string"))
    assert errors(record("R", field("f1", "string"), field("f2", "string", default="x")), old) == []
    assert errors(record("R", field("f1", "string"), field("f2", "string")), old) == [
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'f2' at path '/fields/1' in the "
        "reader schema has no default value and is missing in the writer schema', additionalInfo:'f2'}"]


def test_a_writer_field_missing_in_the_reader_is_skipped():
    assert errors(record("R", field("f1", "string")), record("R", field("f1", "string"), field("f2", "int"))) == []


def test_record_fields_are_matched_by_name_or_by_a_reader_alias():
    old = record("R", field("f1", "string"))
    assert errors(record("R", field("renamed", "string", aliases=["f1"])), old) == []
    assert error_types(record("R", field("renamed", "string")), old) == ["READER_FIELD_MISSING_DEFAULT_VALUE"]


def test_enum_symbols_missing_in_the_reader_need_the_readers_enum_default():
    def enum(*symbols: str, **extra: object) -> dict[str, object]:
        return record("R", field("e", {"type": "enum", "name": "E", "symbols": list(symbols), **extra}))
    assert errors(enum("A", "B", "C"), enum("A", "B")) == []
    assert errors(enum("A", "B"), enum("A", "B", "D", "C")) == [
        "{errorType:'MISSING_ENUM_SYMBOLS', description:'The reader schema is missing enum symbols '[C, D]' at "
        "path '/fields/0/type/symbols' in the writer schema', additionalInfo:'[C, D]'}"]
    assert errors(enum("A", "B", default="A"), enum("A", "B", "C")) == []


def test_a_writer_union_needs_every_branch_readable():
    old = record("R", field("f", ["null", "string", "int"]))
    assert errors(record("R", field("f", ["null", "string", "int", "long"])), old) == []
    assert errors(record("R", field("f", ["null", "string"])), old) == [
        "{errorType:'MISSING_UNION_BRANCH', description:'The reader schema is missing a type inside a union field "
        "at path '/fields/0/type/2' in the writer schema', additionalInfo:'reader union lacking writer type: INT'}"]
    assert error_types(record("R", field("f", "string")), record("R", field("f", ["null", "string"]))) == [
        "TYPE_MISMATCH"]


def test_a_reader_union_needs_a_branch_that_reads_the_writers_type():
    assert errors(record("R", field("f", ["null", "string"])), record("R", field("f", "string"))) == []
    assert errors(record("R", field("f", ["null", "long"])), record("R", field("f", "int"))) == []  # promoted
    assert error_types(record("R", field("f", ["null", "string"])), record("R", field("f", "int"))) == [
        "MISSING_UNION_BRANCH"]


def test_fixed_types_need_one_size():
    def fixed(size: int) -> dict[str, object]:
        return record("R", field("h", {"type": "fixed", "name": "H", "size": size}))
    assert errors(fixed(16), fixed(16)) == []
    assert errors(fixed(16), fixed(8)) == [
        "{errorType:'FIXED_SIZE_MISMATCH', description:'The size of FIXED type field at path '/fields/0/type/size' "
        "in the reader schema does not match with the writer schema', additionalInfo:'expected: 8, found: 16'}"]


def test_named_types_are_matched_by_name_or_a_reader_alias():
    assert errors(record("New", field("f", "int")), record("Old", field("f", "int"))) == [
        "{errorType:'NAME_MISMATCH', description:'The name of the schema has changed (path '/name')', "
        "additionalInfo:'expected: Old'}"]
    assert errors(record("New", field("f", "int"), aliases=["Old"]), record("Old", field("f", "int"))) == []
    # as Java Avro: the unqualified names are compared, so a new namespace alone reads the old data
    assert errors(record("b.R", field("f", "int")), record("a.R", field("f", "int"))) == []


def test_arrays_and_maps_are_read_by_their_items_and_values():
    assert errors({"type": "array", "items": "long"}, {"type": "array", "items": "int"}) == []
    assert "'/items'" in errors({"type": "array", "items": "int"}, {"type": "array", "items": "long"})[0]
    assert "'/values'" in errors({"type": "map", "values": "int"}, {"type": "map", "values": "string"})[0]
    assert error_types({"type": "map", "values": "int"}, {"type": "array", "items": "int"}) == ["TYPE_MISMATCH"]


def test_recursive_types_are_compared_without_end():
    v1 = record("Node", field("value", "int"), field("next", ["null", "Node"], default=None))
    v2 = record("Node", field("value", "long"), field("next", ["null", "Node"], default=None))
    assert errors(v2, v1) == []
    assert error_types(v1, v2) == ["TYPE_MISMATCH"]


def test_every_incompatibility_is_reported_once():
    old = record("R", field("a", "string"), field("b", "long"))
    new = record("R", field("a", "int"), field("b", "int"), field("c", "int"))
    assert error_types(new, old) == ["TYPE_MISMATCH", "TYPE_MISMATCH", "READER_FIELD_MISSING_DEFAULT_VALUE"]


# --- Confluent's seven levels, through kraft.schemas.compatibility ----------------------------

V1 = avro(record("myrecord", field("f1", "string")))
V2_WITH_DEFAULT = avro(record("myrecord", field("f1", "string"), field("f2", "string", default="foo")))
V3_NO_DEFAULT = avro(record("myrecord", field("f1", "string"), field("f2", "string")))


@pytest.mark.parametrize("level, new, earlier, compatible", [
    ("BACKWARD", V2_WITH_DEFAULT, [V1], True),       # a field added with a default
    ("BACKWARD", V3_NO_DEFAULT, [V1], False),        # a field added without one
    ("FORWARD", V3_NO_DEFAULT, [V1], True),          # the old reader skips the new field
    ("FORWARD", V1, [V3_NO_DEFAULT], False),         # a field without default removed
    ("FULL", V2_WITH_DEFAULT, [V1], True),
    ("FULL", V3_NO_DEFAULT, [V1], False),
    ("NONE", avro('"int"'), [V1], True),             # no check at all
    # three versions: the latest alone passes, the first does not
    ("BACKWARD", V3_NO_DEFAULT, [V1, V2_WITH_DEFAULT], True),
    ("BACKWARD_TRANSITIVE", V3_NO_DEFAULT, [V1, V2_WITH_DEFAULT], False),
    ("BACKWARD_TRANSITIVE", avro(record("myrecord", field("f1", "string"), field("f2", "string", default="foo"),
                                        field("f3", "string", default="bar"))), [V1, V2_WITH_DEFAULT], True),
    ("FORWARD", V1, [V3_NO_DEFAULT, V2_WITH_DEFAULT], True),
    ("FORWARD_TRANSITIVE", V1, [V3_NO_DEFAULT, V2_WITH_DEFAULT], False),
    ("FORWARD_TRANSITIVE", V1, [V2_WITH_DEFAULT, V2_WITH_DEFAULT], True),
    ("FULL", V3_NO_DEFAULT, [V1, V2_WITH_DEFAULT], True),
    ("FULL_TRANSITIVE", V3_NO_DEFAULT, [V1, V2_WITH_DEFAULT], False),
    ("FULL_TRANSITIVE", V2_WITH_DEFAULT, [V1, V1], True),
])
def test_each_compatibility_level(level, new, earlier, compatible):
    found = incompatibilities(new, earlier, level)
    assert (found == []) is compatible, found


def test_every_level_is_covered():
    assert set(LEVELS) == {"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
                           "FULL_TRANSITIVE", "NONE"}


def test_a_different_schema_type_is_incompatible():
    class Other:
        schema_type = "JSON"

    assert V1.read_errors(Other()) == ["the schema type changed from JSON to AVRO"]  # type: ignore[arg-type]


# --- generated schemas: round trips, and Apache Avro's own checker as a second opinion ------

_PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]


@st.composite
def _avro_types(draw, path: str, depth: int) -> object:
    """Schemas whose named types are named by their place, so that two drawn versions
    share the names of the types they both have."""
    kinds = _PRIMITIVES + ["enum", "fixed", "union"] + (["array", "map", "record"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "enum":
        symbols = draw(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4, unique=True))
        return {"type": "enum", "name": f"E{path}", "symbols": symbols}
    if kind == "fixed":
        return {"type": "fixed", "name": f"F{path}", "size": draw(st.sampled_from([1, 2, 4]))}
    if kind == "union":
        return draw(st.lists(st.sampled_from(_PRIMITIVES), min_size=1, max_size=3, unique=True))
    if kind == "array":
        return {"type": "array", "items": draw(_avro_types(path + "_i", depth + 1))}
    if kind == "map":
        return {"type": "map", "values": draw(_avro_types(path + "_v", depth + 1))}
    if kind == "record":
        fields = []
        for name in draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True)):
            type_ = draw(_avro_types(f"{path}_{name}", depth + 1))
            with_default = isinstance(type_, list) and type_[0] == "null" and draw(st.booleans())
            fields.append({"name": name, "type": type_, **({"default": None} if with_default else {})})
        return {"type": "record", "name": f"R{path}", "fields": fields}
    return kind


_SCHEMAS = _avro_types("0", 0)
_FIELD_TYPES = st.sampled_from([
    "int", "long", "float", "double", "string", "bytes", ["null", "int"], ["null", "string"], ["int", "string"],
    {"type": "array", "items": "int"}, {"type": "array", "items": "long"}, {"type": "map", "values": "double"},
    {"type": "enum", "name": "E", "symbols": ["A", "B"]}, {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]},
    {"type": "fixed", "name": "F", "size": 2}, {"type": "fixed", "name": "F", "size": 4},
    {"type": "record", "name": "In", "fields": [{"name": "x", "type": "int"}]},
    {"type": "record", "name": "In", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "int"}]},
])


@st.composite
def _versions(draw) -> object:
    """A record of a few fields from a small set: two drawn versions differ as versions do."""
    fields = []
    for name in draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True)):
        type_ = draw(_FIELD_TYPES)
        if isinstance(type_, dict) and "name" in type_:
            type_ = {**type_, "name": f"{type_['name']}_{name}"}  # one definition per field
        default = draw(st.sampled_from([None, "none"])) if isinstance(type_, list) and type_[0] == "null" else "none"
        fields.append({"name": name, "type": type_, **({} if default == "none" else {"default": default})})
    return {"type": "record", "name": "V", "fields": fields}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SCHEMAS)
def test_a_generated_schema_round_trips_through_its_stored_and_normalized_texts(document):
    parsed = avro(json.dumps(document))
    assert avro(parsed.canonical()).canonical() == parsed.canonical()
    assert avro(parsed.normalized().canonical()).canonical() == parsed.normalized().canonical()
    assert parsed.read_errors(parsed) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SCHEMAS | _versions(), _SCHEMAS | _versions())
def test_resolution_agrees_with_apache_avros_checker(reader, writer):
    """Apache Avro's Python checker (a port of Java's) is an independent implementation of
    the same rules; on these schemas (no aliases, no enum defaults) the verdicts agree."""
    ours = avro(json.dumps(reader)).read_errors(avro(json.dumps(writer)))
    theirs = apache_compatibility.ReaderWriterCompatibilityChecker().get_compatibility(
        apache_schema.parse(json.dumps(reader)), apache_schema.parse(json.dumps(writer)))
    assert (ours == []) == (theirs.compatibility is apache_compatibility.SchemaCompatibilityType.compatible), ours


def _places(document: object) -> list[tuple[object, object]]:
    """Every (container, key) in a JSON document, to put something else there."""
    found: list[tuple[object, object]] = []
    stack = [document]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            found.append((node, key))
            stack.append(value)
    return found


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_versions() | _SCHEMAS, st.data())
def test_a_schema_with_one_part_replaced_by_random_json_is_valid_or_invalid_never_a_crash(document, data):
    document = json.loads(json.dumps(document))  # a copy: the strategies share their values
    places = _places(document)
    if places:
        container, key = data.draw(st.sampled_from(places))
        container[key] = data.draw(_JSON)  # type: ignore[index]
    try:
        parsed = AVRO.parse(json.dumps(document), {})
    except InvalidSchema as e:
        assert not str(e).startswith(UNFORESEEN), e  # refused by a rule, not by the last-resort guard
        return
    assert AVRO.parse(parsed.canonical(), {}).canonical() == parsed.canonical()
    assert isinstance(parsed.read_errors(avro(json.dumps(document))), list)
