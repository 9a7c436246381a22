"""PROTOBUF schemas Confluent's registry accepts though protoc alone refuses them (issue 61):
a nested message of a referenced file (also when the schema imports it by another path
than the reference's name), and custom options that no file declares, kept in the
canonical and normalized text and ignored by compatibility. Real protoc compilations."""

from __future__ import annotations

import base64

import pytest
from google.protobuf.descriptor_pb2 import FileDescriptorProto

from kraft.schemas.compatibility import incompatibilities
from kraft.schemas.formats import InvalidSchema
from kraft.schemas.protobuf.schema import PROTOBUF, ProtobufSchema
from kraft.schemas.protobuf.lenient import without_unknown_options
from kraft.schemas.protobuf.options import STUB_NAME

NESTED = '''syntax = "proto3";
package io.confluent;

message NoReference {
  message NoReferenceNested {
    string nameNested = 1;
  }
  string name = 1;
  NoReferenceNested ref = 2;
}
'''


def parse(text: str, references: dict[str, str] | None = None) -> ProtobufSchema:
    return PROTOBUF.parse(text, references or {})


@pytest.mark.parametrize("package, type_name", [
    ("io.confluent", "NoReference.NoReferenceNested"),           # relative, in the same package
    ("io.confluent.v2", "NoReference.NoReferenceNested"),        # relative, from a package within
    ("other", "io.confluent.NoReference.NoReferenceNested"),     # package-qualified
    ("other", ".io.confluent.NoReference.NoReferenceNested"),    # fully qualified
    ("io", "confluent.NoReference.NoReferenceNested"),           # relative to an enclosing package
])
def test_a_nested_message_of_a_reference_resolves_by_protocs_scoping(package, type_name):
    text = f'syntax = "proto3";\npackage {package};\nimport "NoReference.proto";\n' \
           f'message WithReference {{ string name = 1; {type_name} ref = 2; }}\n'
    schema = parse(text, {"NoReference.proto": NESTED})
    assert ".io.confluent.NoReference.NoReferenceNested ref = 2;" in schema.canonical()
    message = schema.message_class(f"{package}.WithReference")(ref={"nameNested": "n"})
    assert message.ref.nameNested == "n"
    assert parse(schema.canonical(), {"NoReference.proto": NESTED}).canonical() == schema.canonical()


def test_a_nested_message_of_a_reference_imported_by_another_path_resolves():
    # the reference is named "NoReference.proto", the schema imports "NoReferenceNested.proto"
    text = ('syntax = "proto3";\nimport "NoReferenceNested.proto";\n'
            "message WithReference { string name = 1; NoReference.NoReferenceNested ref = 2; }\n")
    unpackaged = NESTED.replace("package io.confluent;\n", "")
    schema = parse(text, {"NoReference.proto": unpackaged})
    assert 'import "NoReferenceNested.proto";' in schema.canonical()
    assert ".NoReference.NoReferenceNested ref = 2;" in schema.canonical()
    assert schema.normalized().canonical() == schema.canonical()


def test_an_import_no_reference_holds_is_still_refused():
    text = 'syntax = "proto3";\nimport "Missing.proto";\nmessage M { NoReference.NoReferenceNested n = 1; }\n'
    with pytest.raises(InvalidSchema, match="Missing.proto"):
        parse(text)
    with pytest.raises(InvalidSchema, match="not defined"):  # the reference is imported: no stand-in
        parse(text.replace('"Missing.proto";', '"Missing.proto";\nimport "NoReference.proto";'),
              {"NoReference.proto": NESTED})


UNKNOWN_OPTIONS = '''syntax = "proto3";
package com.custom.example.v0;

option java_multiple_files = true;
option (confluent.file_meta).doc = "file meta; with a semicolon";
option (com.custom.map) = { subject: 'user-value' tags: ["a", "b"] };

message User {
  option (my.message) = true;
  string first_name = 1 [(my.opt) = 1, deprecated = true];
\tstring last_name = 2 [json_name = "ln", (confluent.field_meta).tags = "PII"];
  oneof contact { option (my.oneof) = 1; string email = 3; }
  enum Kind { option (my.enum) = X; KIND_UNSPECIFIED = 0 [(my.value) = "v"]; }
}

service Users {
  option (my.service) = 1;
  rpc Get (User) returns (User) { option (my.method) = -2.5e3; }
}
'''


def test_unknown_custom_options_are_kept_in_their_places():
    schema = parse(UNKNOWN_OPTIONS)
    text = schema.canonical()
    for line in ['option (confluent.file_meta).doc = "file meta; with a semicolon";',
                 "option (com.custom.map) = { subject: 'user-value' tags: [\"a\", \"b\"] };",
                 "option (my.message) = true;",
                 "string first_name = 1 [deprecated = true, (my.opt) = 1];",
                 'string last_name = 2 [json_name = "ln", (confluent.field_meta).tags = "PII"];',
                 "option (my.oneof) = 1;", "option (my.enum) = X;", 'KIND_UNSPECIFIED = 0 [(my.value) = "v"];',
                 "option (my.service) = 1;", "option (my.method) = -2.5e3;"]:
        assert line in text, line
    assert STUB_NAME not in text  # the placeholders' file is never shown
    assert parse(text).canonical() == text
    normalized = schema.normalized().canonical()
    assert normalized.index("option (com.custom.map)") < normalized.index("option (confluent.file_meta)")
    assert schema.message_class("com.custom.example.v0.User")(first_name="a").first_name == "a"


def test_several_unknown_options_on_one_element_are_all_kept():
    text = ('syntax = "proto3";\nmessage M {\n  option (y.a) = 1;\n  option (y.b) = 2;\n'
            '  int32 a = 1 [(x.a) = 1, (x.b) = 2, (x.c) = "s", (x.d).e = 4];\n}\n')
    assert parse(text).canonical() == text


def test_unknown_custom_options_survive_the_serialized_descriptor():
    schema = parse(UNKNOWN_OPTIONS)
    serialized = schema.serialized()
    assert STUB_NAME not in FileDescriptorProto.FromString(base64.b64decode(serialized)).dependency
    assert parse(serialized).canonical() == schema.canonical()


def test_compatibility_ignores_unknown_custom_options():
    writer = parse(UNKNOWN_OPTIONS)
    reader = parse(UNKNOWN_OPTIONS.replace("(my.opt) = 1", "(my.opt) = 2").replace(
        'option (confluent.file_meta).doc = "file meta; with a semicolon";\n', ""))
    assert incompatibilities(reader, [writer], "FULL_TRANSITIVE") == []
    dropped = parse(UNKNOWN_OPTIONS.replace("  string first_name = 1 [(my.opt) = 1, deprecated = true];\n", ""))
    assert incompatibilities(dropped, [writer], "FULL") == []  # a dropped field is compatible here too


def test_other_errors_beside_an_unknown_option_still_refuse_the_schema():
    with pytest.raises(InvalidSchema, match="Undefined"):
        parse('syntax = "proto3";\noption (my.opt) = 1;\nmessage M { Undefined u = 1; }\n')
    with pytest.raises(InvalidSchema):
        parse('syntax = "proto3";\nmessage M { int32 a = 1 [(my.opt) = 1]; int32 b = 1; }\n')


def _varint(n: int) -> bytes:
    out = b""
    while n > 0x7F:
        out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
    return out + bytes([n])


@pytest.mark.parametrize("held", ["(my.opt) = 1; } message Evil { int32 x = 1", "(my.opt) = 1 // x",
                                  "not an option", '(my.opt) = "open'])
def test_a_forged_placeholder_in_a_descriptor_is_refused(held):
    file = parse('syntax = "proto3";\nmessage M { int32 a = 1; }\n').file
    field = _varint(536_870_911 << 3 | 2) + _varint(len(held.encode())) + held.encode()
    file.options.MergeFromString(field)  # the placeholder of a file option, as a client could send it
    with pytest.raises(InvalidSchema, match="is not an option"):
        parse(base64.b64encode(file.SerializeToString()).decode())


def test_a_placeholder_is_only_made_at_an_options_name():
    text = 'syntax = "proto3";\noption (my.opt) = 1;\n'
    assert without_unknown_options(text, [(1, 7)]) is not None
    assert without_unknown_options(text, [(1, 0)]) is None  # protoc's position is no option's name
