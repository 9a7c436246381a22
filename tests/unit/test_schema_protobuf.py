"""PROTOBUF schemas as Confluent's Schema Registry knows them: parsing (.proto text and the
base64 descriptors confluent-kafka registers), canonical and normalized text, Confluent's
Protobuf compatibility rules and levels, and the message indexes of its wire framing."""

from __future__ import annotations

import io

import pytest
from confluent_kafka.schema_registry.common.protobuf import _create_index_array, _schema_to_str
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from google.protobuf.descriptor_pb2 import FileDescriptorProto
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass

from kraft.schemas.protobuf import indexes as protobuf_indexes
from kraft.schemas.compatibility import incompatibilities
from kraft.schemas.formats import InvalidSchema
from kraft.schemas.protobuf.schema import PROTOBUF, ProtobufSchema

ORDER = '''
syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

// an order, as the shop sends it
message Order {
  string id = 1;
  repeated Line lines = 2;
  map<string, string> labels = 3;
  google.protobuf.Timestamp placed = 4;
  oneof payment {
    string card = 5;
    string voucher = 6;
  }
  optional Status status = 7;
  message Line { string sku = 1; int32 quantity = 2; }
  enum Status { NEW = 0; PAID = 1; }
}
'''


def parse(text: str, references: dict[str, str] | None = None) -> ProtobufSchema:
    return PROTOBUF.parse(text, references or {})


def proto3(body: str, package: str = "p") -> str:
    return f'syntax = "proto3";\npackage {package};\n{body}\n'


def proto2(body: str) -> str:
    return f'syntax = "proto2";\npackage p;\n{body}\n'


def error_types(writer: str, reader: str, refs_w: dict[str, str] | None = None,
                refs_r: dict[str, str] | None = None) -> list[str]:
    messages = parse(reader, refs_r).read_errors(parse(writer, refs_w))
    return [m.split('"')[1] for m in messages]


# --- parsing -------------------------------------------------------------------------

def test_proto3_messages_nested_types_enums_oneofs_and_maps_parse():
    schema = parse(ORDER)
    assert schema.schema_type == "PROTOBUF"
    assert schema.file.package == "shop.v1"
    assert schema.message_names() == ["shop.v1.Order", "shop.v1.Order.Line"]
    order = schema.message_class("shop.v1.Order")
    message = order(id="o1", card="4111", labels={"a": "b"}, lines=[{"sku": "x", "quantity": 2}])
    again = order.FromString(message.SerializeToString())
    assert again.WhichOneof("payment") == "card" and again.lines[0].quantity == 2


def test_proto2_required_fields_defaults_groups_and_extensions_parse_and_render_back():
    text = proto2('''
message Item {
  required string name = 1 [default = "a \\"quoted\\" name"];
  optional int32 count = 2 [default = -5];
  optional bytes blob = 3 [default = "\\001\\377"];
  optional group Extra = 4 { optional string note = 1; }
  extensions 100 to 199;
}
extend Item { optional int64 weight = 100; }''')
    schema = parse(text)
    assert "required string name = 1 [default = \"a \\\"quoted\\\" name\"];" in schema.canonical()
    assert "optional group Extra = 4 {" in schema.canonical()
    assert parse(schema.canonical()).canonical() == schema.canonical()
    item = schema.message_class("p.Item")()
    assert item.name == 'a "quoted" name' and item.count == -5 and item.blob == b"\x01\xff"


def test_imports_resolve_from_references_by_import_path():
    common = proto3("message Money { int64 units = 1; string currency = 2; }", package="common")
    text = proto3('import "common/money.proto";\nmessage Price { common.Money amount = 1; }')
    schema = parse(text, {"common/money.proto": common})
    assert ".common.Money amount = 1;" in schema.canonical()
    assert "common/money.proto" in schema.files
    assert schema.message_class("p.Price")(amount={"units": 3}).amount.units == 3


def test_an_import_without_its_reference_is_an_invalid_schema():
    with pytest.raises(InvalidSchema, match="common/money.proto"):
        parse(proto3('import "common/money.proto";\nmessage Price { common.Money amount = 1; }'))


@pytest.mark.parametrize("path, type_name", [
    ("google/protobuf/timestamp.proto", "google.protobuf.Timestamp"),
    ("google/protobuf/any.proto", "google.protobuf.Any"),
    ("google/protobuf/wrappers.proto", "google.protobuf.StringValue"),
    ("google/protobuf/struct.proto", "google.protobuf.Struct"),
    ("google/type/date.proto", "google.type.Date"),
])
def test_well_known_types_resolve_without_references(path, type_name):
    schema = parse(proto3(f'import "{path}";\nmessage M {{ {type_name} value = 1; }}'))
    assert f".{type_name} value = 1;" in schema.canonical()


def test_whitespace_comments_and_type_spelling_make_one_canonical_schema():
    other = '''syntax="proto3";package shop.v1;import "google/protobuf/timestamp.proto";
    /* block */ message Order{string id=1;repeated .shop.v1.Order.Line lines=2;map<string,string> labels=3;
    .google.protobuf.Timestamp placed=4;oneof payment{string card=5;string voucher=6;}
    optional Order.Status status=7;message Line{string sku=1;int32 quantity=2;}enum Status{NEW=0;PAID=1;}}'''
    assert parse(other).canonical() == parse(ORDER).canonical()


def test_canonical_text_parses_back_to_the_same_schema():
    schema = parse(ORDER)
    assert parse(schema.canonical()).canonical() == schema.canonical()
    assert "// an order" not in schema.canonical()


def test_the_canonical_text_keeps_the_order_of_nested_types_that_message_indexes_count():
    text = proto3("message A { message First {} map<string, int32> m = 1; message Second {} int32 x = 2; }")
    again = parse(parse(text).canonical())
    assert [n.name for n in again.file.message_type[0].nested_type] == ["First", "MEntry", "Second"]


def test_custom_options_keep_their_names_in_the_canonical_text():
    text = proto3('''import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions { string pii = 50001; }
message User { string email = 1 [(pii) = "mask", deprecated = true]; }''')
    canonical = parse(text).canonical()
    assert 'string email = 1 [deprecated = true, (p.pii) = "mask"];' in canonical
    assert parse(canonical).canonical() == canonical


def test_editions_and_message_valued_custom_options_render_back_to_the_same_schema():
    text = '''edition = "2023";
package e;
import "google/protobuf/descriptor.proto";
message Rule { string name = 1; repeated int32 ids = 2; }
extend google.protobuf.MessageOptions { Rule rule = 50002; }
message M {
  option (rule) = { name: "r" ids: [1, 2] };
  int32 a = 1 [features.field_presence = IMPLICIT];
  reserved c, d;
}
service S { rpc Do(M) returns (stream M) { option idempotency_level = NO_SIDE_EFFECTS; } }'''
    schema = parse(text)
    assert 'option (e.rule) = { name: "r" ids: 1 ids: 2 };' in schema.canonical()
    assert parse(schema.canonical()).canonical() == schema.canonical()
    assert parse(schema.serialized()).canonical() == schema.canonical()


def test_the_serialized_form_is_the_schemas_descriptor_in_base64():
    import base64
    schema = parse(ORDER)
    assert FileDescriptorProto.FromString(base64.b64decode(schema.serialized())) == schema.file


def test_normalize_orders_fields_oneofs_enum_values_and_imports_but_keeps_message_order():
    a = proto3('''import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
message B { int32 y = 2; int32 x = 1; oneof o { int32 k = 5; int32 j = 4; } }
message A { google.protobuf.Timestamp t = 1; google.protobuf.Duration d = 2; }
enum E { Z = 0; Q = 2; R = 1; }''')
    b = proto3('''import "google/protobuf/duration.proto";
import "google/protobuf/timestamp.proto";
message B { int32 x = 1; oneof o { int32 j = 4; int32 k = 5; } int32 y = 2; }
message A { google.protobuf.Timestamp t = 1; google.protobuf.Duration d = 2; }
enum E { Z = 0; R = 1; Q = 2; }''')
    assert parse(a).canonical() != parse(b).canonical()
    normalized = parse(a).normalized()
    assert normalized.canonical() == parse(b).normalized().canonical()
    assert normalized.canonical().index("message B") < normalized.canonical().index("message A")


@pytest.mark.parametrize("text, words", [
    ("message {", "line 1"),
    (proto3("message M { Missing m = 1; }"), '"Missing" is not defined'),
    (proto3("message M { int32 a = 1; int32 b = 1; }"), "Field number 1 has already been used"),
    (proto3("message M { int32 a = 0; }"), "Field numbers must be positive"),
    (proto3("message M { reserved 2; int32 a = 2; }"), "reserved"),
    ("", "empty"),
    ("bm90IGEgZGVzY3JpcHRvcg==", "base64"),
])
def test_bad_schemas_are_invalid_with_a_message_that_says_why(text, words):
    with pytest.raises(InvalidSchema, match=words):
        parse(text)


def test_hostile_input_is_an_invalid_schema_and_nothing_else():
    deep = 'syntax = "proto3";' + "message A { " * 5000 + "}" * 5000
    with pytest.raises(InvalidSchema, match="recursion limit"):
        parse(deep)
    with pytest.raises(InvalidSchema, match="longer than"):
        parse(proto3("message M { int32 a = 1; }") + "//" + "x" * 2_000_000)
    with pytest.raises(InvalidSchema, match="import path"):
        parse(proto3('import "../escape.proto";'), {"../escape.proto": proto3("")})
    with pytest.raises(InvalidSchema):
        parse(proto3('message M { string s = 1 [default = "\ud800"]; }'))
    with pytest.raises(InvalidSchema, match="not a name"):  # a descriptor whose names would forge text
        forged = FileDescriptorProto(name="x.proto", syntax="proto3")
        forged.message_type.add(name="M { } message N")
        parse(_base64(forged))


def _base64(file: FileDescriptorProto) -> str:
    import base64
    return base64.standard_b64encode(file.SerializeToString()).decode()


# --- what confluent-kafka's ProtobufSerializer registers ------------------------------

def _client_classes(texts: dict[str, str], main: str) -> DescriptorPool:
    """The descriptors a client's generated code holds: protoc's, in a pool of their own."""
    pool = DescriptorPool()
    schema = parse(texts[main], {k: v for k, v in texts.items() if k != main})
    for name in ["google/protobuf/timestamp.proto", *[n for n in texts if n != main]]:
        if name in schema.files:
            pool.Add(schema.files[name])
    file = FileDescriptorProto()
    file.CopyFrom(schema.file)
    file.name = main
    pool.Add(file)
    return pool


def test_the_descriptor_confluent_kafkas_serializer_registers_parses_as_the_same_schema():
    common = proto3("message Money { int64 units = 1; }", package="common")
    text = ORDER.replace("string id = 1;", "string id = 1;\n  common.Money total = 8;").replace(
        'import "google', 'import "common/money.proto";\nimport "google')
    pool = _client_classes({"order.proto": text, "common/money.proto": common}, "order.proto")
    order = GetMessageClass(pool.FindMessageTypeByName("shop.v1.Order"))
    registered = _schema_to_str(order.DESCRIPTOR.file)            # the schema text it sends
    dependency = _schema_to_str(order.DESCRIPTOR.file.dependencies[0])  # and each reference's
    from_client = parse(registered, {"common/money.proto": dependency})
    assert from_client.canonical() == parse(text, {"common/money.proto": common}).canonical()
    # with skip.known.types off it registers the well-known files too: they are the bundled ones
    timestamp = _schema_to_str(order.DESCRIPTOR.file.dependencies[1])
    with_known = parse(registered, {"common/money.proto": dependency, "google/protobuf/timestamp.proto": timestamp})
    assert with_known.canonical() == from_client.canonical()


def test_message_indexes_match_those_confluent_kafkas_serializer_writes():
    pool = _client_classes({"order.proto": ORDER}, "order.proto")
    line = pool.FindMessageTypeByName("shop.v1.Order.Line")
    schema = parse(ORDER)
    # the entry type of map field 3 is nested type 0: Line is the second
    assert schema.message_indexes("shop.v1.Order.Line") == _create_index_array(line) == [0, 1]
    for path in ([0], [0, 0], [3, 1, 4]):
        written = io.BytesIO()
        ProtobufSerializer._encode_varints(written, path)
        assert protobuf_indexes.encode(path) == written.getvalue()


# --- Confluent's Protobuf compatibility rules (reader reads what writer wrote) --------

M = "message M {{ {} }}"


@pytest.mark.parametrize("writer, reader", [
    ("int32 a = 1;", "int64 a = 1;"),
    ("uint32 a = 1;", "bool a = 1;"),
    ("sint32 a = 1;", "sint64 a = 1;"),
    ("fixed32 a = 1;", "sfixed32 a = 1;"),
    ("fixed64 a = 1;", "sfixed64 a = 1;"),
    ("string a = 1;", "bytes a = 1;"),
])
def test_wire_compatible_scalar_kinds_are_compatible(writer, reader):
    assert error_types(proto3(M.format(writer)), proto3(M.format(reader))) == []


def test_an_enum_reads_as_a_general_number():
    enum = "enum E { A = 0; } "
    assert error_types(proto3(enum + M.format("E a = 1;")), proto3(enum + M.format("int32 a = 1;"))) == []


@pytest.mark.parametrize("writer, reader", [
    ("int32 a = 1;", "sint32 a = 1;"),
    ("fixed32 a = 1;", "fixed64 a = 1;"),
    ("float a = 1;", "double a = 1;"),
    ("string a = 1;", "int32 a = 1;"),
])
def test_field_scalar_kind_changed_is_incompatible(writer, reader):
    assert error_types(proto3(M.format(writer)), proto3(M.format(reader))) == ["FIELD_SCALAR_KIND_CHANGED"]


def test_field_kind_changed_is_incompatible():
    other = "message O { int32 x = 1; } "
    assert error_types(proto3(other + M.format("int32 a = 1;")),
                       proto3(other + M.format("O a = 1;"))) == ["FIELD_KIND_CHANGED"]
    assert error_types(proto3(other + M.format("map<string, O> a = 1;")),
                       proto3(other + M.format("repeated O a = 1;"))) == ["FIELD_KIND_CHANGED"]


def test_field_named_type_changed_is_incompatible_and_a_same_named_type_is_not():
    two = "message O { int32 x = 1; } message P { int32 x = 1; } "
    assert error_types(proto3(two + M.format("O a = 1;")),
                       proto3(two + M.format("P a = 1;"))) == ["FIELD_NAMED_TYPE_CHANGED"]
    assert error_types(proto3(two + M.format("O a = 1;")), proto3(two + M.format("O a = 1;"))) == []


def test_a_referenced_message_changed_incompatibly_is_a_named_type_change():
    text = proto3('import "o.proto";\n' + M.format("q.O a = 1;"))
    old = {"o.proto": proto3("message O { int32 x = 1; }", package="q")}
    new = {"o.proto": proto3("message O { string x = 1; }", package="q")}
    assert error_types(text, text, old, new) == ["FIELD_SCALAR_KIND_CHANGED", "FIELD_NAMED_TYPE_CHANGED"]
    compatible = {"o.proto": proto3("message O { int32 x = 1; int32 y = 2; }", package="q")}
    assert error_types(text, text, old, compatible) == []


def test_adding_removing_and_renaming_fields_are_compatible():
    assert error_types(proto3(M.format("int32 a = 1;")), proto3(M.format("int32 a = 1; string b = 2;"))) == []
    assert error_types(proto3(M.format("int32 a = 1; string b = 2;")), proto3(M.format("int32 a = 1;"))) == []
    assert error_types(proto3(M.format("int32 a = 1;")), proto3(M.format("int32 renamed = 1;"))) == []


def test_message_removed_is_incompatible_and_message_added_is_not():
    one, two = proto3("message A {} "), proto3("message A {} message B {}")
    assert error_types(two, one) == ["MESSAGE_REMOVED"]
    assert error_types(one, two) == []


def test_package_changed_is_incompatible():
    assert error_types(proto3("message A {}", package="a"), proto3("message A {}", package="b")) == \
        ["PACKAGE_CHANGED"]


def test_numeric_label_changed_is_incompatible_and_string_label_changed_is_not():
    assert error_types(proto2(M.format("optional int32 a = 1;")), proto2(M.format("repeated int32 a = 1;"))) == \
        ["FIELD_NUMERIC_LABEL_CHANGED"]
    assert error_types(proto2(M.format("optional string a = 1;")), proto2(M.format("repeated string a = 1;"))) == []


def test_required_field_added_or_removed_is_incompatible():
    assert error_types(proto2(M.format("optional int32 a = 1;")),
                       proto2(M.format("optional int32 a = 1; required int32 b = 2;"))) == ["REQUIRED_FIELD_ADDED"]
    assert error_types(proto2(M.format("optional int32 a = 1; required int32 b = 2;")),
                       proto2(M.format("optional int32 a = 1;"))) == ["REQUIRED_FIELD_REMOVED"]


def test_oneof_field_removed_is_incompatible_but_a_whole_oneof_removed_is_not():
    both = M.format("oneof o { int32 a = 1; string b = 2; }")
    assert error_types(proto3(both), proto3(M.format("oneof o { int32 a = 1; }"))) == ["ONEOF_FIELD_REMOVED"]
    assert error_types(proto3(both), proto3(M.format(""))) == []


def test_fields_moved_into_a_oneof():
    plain = M.format("int32 a = 1; string b = 2; int32 c = 3;")
    assert error_types(proto3(plain), proto3(M.format("oneof o { int32 a = 1; } string b = 2; int32 c = 3;"))) == []
    assert error_types(proto3(plain), proto3(M.format("oneof o { int32 a = 1; string b = 2; } int32 c = 3;"))) == \
        ["MULTIPLE_FIELDS_MOVED_TO_ONEOF"]
    old = M.format("oneof o { int32 a = 1; } string b = 2;")
    assert error_types(proto3(old), proto3(M.format("oneof o { int32 a = 1; string b = 2; }"))) == \
        ["FIELD_MOVED_TO_EXISTING_ONEOF"]
    assert error_types(proto3(old), proto3(M.format("int32 a = 1; string b = 2;"))) == []  # moved to top level


def test_nested_message_changes_report_their_path_in_confluents_verbose_form():
    writer = proto3("message Outer { message Inner { int32 x = 1; } oneof o { int32 a = 2; string b = 3; } }")
    reader = proto3("message Outer { message Inner { string x = 1; } oneof o { int32 a = 2; } }")
    assert parse(reader).read_errors(parse(writer)) == [
        '{errorType:"ONEOF_FIELD_REMOVED", description:"The reader schema is missing a oneof field at path '
        "'#/Outer/o/3' in the writer schema\"}",
        '{errorType:"FIELD_SCALAR_KIND_CHANGED", description:"The kind of a SCALAR field at path '
        "'#/Outer/Inner/1' in the reader schema does not match its kind in the writer schema\"}",
    ]


def test_recursive_messages_compare_without_end():
    tree = proto3("message Node { repeated Node children = 1; int32 v = 2; }")
    assert error_types(tree, tree) == []
    assert error_types(tree, tree.replace("int32 v", "string v")) == ["FIELD_SCALAR_KIND_CHANGED"]


def test_a_recursive_message_from_a_reference_compares_without_end():
    text = proto3('import "tree.proto";\n' + M.format("t.Node a = 1; t.Node b = 2;"))
    old = {"tree.proto": proto3("message Node { repeated Node children = 1; int32 v = 2; }", package="t")}
    new = {"tree.proto": proto3("message Node { repeated Node children = 1; string v = 2; }", package="t")}
    assert error_types(text, text, old, new) == ["FIELD_SCALAR_KIND_CHANGED", "FIELD_NAMED_TYPE_CHANGED"] * 2


# --- Confluent's seven levels, through kraft/schemas/compatibility.py ---------------

V_A = proto3("message A { int32 a = 1; }")
V_AB = proto3("message A { int32 a = 1; } message B { int32 b = 1; }")


@pytest.mark.parametrize("level, earlier, new, compatible", [
    ("BACKWARD", [V_A], V_AB, True),        # a new reader knows every old message
    ("BACKWARD", [V_AB], V_A, False),       # ... and misses a removed one
    ("FORWARD", [V_AB], V_A, True),
    ("FORWARD", [V_A], V_AB, False),        # an old reader misses the added message
    ("FULL", [V_A], proto3("message A { int32 a = 1; string s = 2; }"), True),
    ("FULL", [V_A], V_AB, False),
    ("NONE", [V_A], proto3("message Z { string z = 1; }"), True),
])
def test_each_level_admits_a_compatible_change_and_refuses_an_incompatible_one(level, earlier, new, compatible):
    errors = incompatibilities(parse(new), [parse(t) for t in earlier], level)
    assert (errors == []) is compatible


HISTORY = [proto3("message A { int32 a = 1; }"), proto3("message A { }")]


@pytest.mark.parametrize("level", ["BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE"])
def test_transitive_levels_check_every_earlier_version(level):
    history = [parse(t) for t in HISTORY]
    retyped = parse(proto3("message A { string a = 1; }"))   # fine after v2, not after v1
    assert incompatibilities(retyped, history[-1:], level.removesuffix("_TRANSITIVE")) == []
    assert incompatibilities(retyped, history, level) != []
    assert incompatibilities(parse(proto3("message A { int32 b = 2; }")), history, level) == []


# --- message indexes -----------------------------------------------------------------

@pytest.mark.parametrize("path", [[0], [1], [0, 0], [2, 5, 1], [300, 70000]])
def test_message_indexes_round_trip_and_report_the_bytes_they_used(path):
    encoded = protobuf_indexes.encode(path)
    assert protobuf_indexes.decode(encoded + b"payload") == (path, len(encoded))


def test_the_first_message_is_written_as_a_single_zero_byte():
    assert protobuf_indexes.encode([0]) == b"\x00"


@pytest.mark.parametrize("raw", [
    b"", b"\x04\x02", b"\xff\xff\xff\xff\xff\x01", b"\x01", b"\x02\x01", b"\x7e",
    protobuf_indexes.encode([1] * 64)[:1].replace(b"\x80", b"") + b"\x82\x01",
])
def test_hostile_message_indexes_are_refused(raw):
    with pytest.raises(ValueError):
        protobuf_indexes.decode(raw)


def test_message_indexes_name_the_message_of_a_schema_and_back():
    schema = parse(proto3('''message First { map<string, int32> m = 1; message Skip {} message Deep { message Er {} } }
message Second { }'''))
    assert schema.message_name([0, 2, 0]) == "p.First.Deep.Er"  # the map entry counts, as clients count it
    assert schema.message_indexes("p.First.Deep.Er") == [0, 2, 0]
    assert schema.message_indexes(".p.Second") == [1]
    with pytest.raises(InvalidSchema):
        schema.message_name([2])
    with pytest.raises(InvalidSchema):
        schema.message_indexes("p.Nope")
