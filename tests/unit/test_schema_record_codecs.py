"""The REST door's schema formats, pure: data written with a registered schema and framed
as Confluent's serializers frame it (magic byte 0, the 4-byte big-endian schema id, the
payload; Protobuf's message indexes first), read back to JSON; data that does not fit is
refused, never written unframed."""

from __future__ import annotations

import io
import json

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.schemas.format_table import FORMATS
from kraft.schemas.record_codec_table import codec_for
from kraft.schemas.record_codecs import DataMismatch, Undecodable
from kraft.schemas.wire_format import NotFramed, frame, unframe

USER = {"type": "record", "name": "User", "namespace": "shop",
        "fields": [{"name": "id", "type": "long"}, {"name": "email", "type": ["null", "string"], "default": None}]}
PROTO = 'syntax = "proto3"; package shop; message User { int64 id = 1; string email_address = 2; ' \
        'message Inner { int32 n = 1; } }'
JSON_USER = {"type": "object", "properties": {"id": {"type": "integer"}, "email": {"type": "string"}},
             "required": ["id"], "additionalProperties": False}


def codec(schema_type: str, text: str, references: dict[str, str] | None = None):
    parsed = FORMATS[schema_type].parse(text, references or {})
    return codec_for(schema_type, parsed, references or {})


def test_framing_is_magic_byte_then_big_endian_id_then_payload():
    assert frame(258, b"xy") == b"\x00\x00\x00\x01\x02xy"
    assert unframe(b"\x00\x00\x00\x01\x02xy") == (258, b"xy")


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x01", b"\x01\x00\x00\x00\x01payload", b'{"a":1}'])
def test_bytes_without_the_framing_are_refused(data):
    with pytest.raises(NotFramed):
        unframe(data)


def test_avro_is_written_as_avro_binary_that_fastavro_reads_with_the_schema():
    payload = codec("AVRO", json.dumps(USER)).encode({"id": 7, "email": {"string": "a@b"}})
    assert fastavro.schemaless_reader(io.BytesIO(payload), fastavro.parse_schema(USER), None) == \
        {"id": 7, "email": "a@b"}


def test_avro_reads_back_in_avros_json_encoding_unions_wrapped():
    c = codec("AVRO", json.dumps(USER))
    assert c.decode(c.encode({"id": 7, "email": {"string": "a@b"}})) == {"id": 7, "email": {"string": "a@b"}}
    assert c.decode(c.encode({"id": 8, "email": None})) == {"id": 8, "email": None}


@pytest.mark.parametrize("data", [{"id": "seven"}, {"email": {"string": "x"}}, [1, 2], "text",
                                  {"id": 1, "email": {"int": 3}}])
def test_avro_data_that_does_not_fit_is_refused(data):
    with pytest.raises(DataMismatch):
        codec("AVRO", json.dumps(USER)).encode(data)


def test_avro_with_a_referenced_record_writes_it_by_name():
    address = {"type": "record", "name": "Address", "namespace": "shop", "fields": [{"name": "city", "type": "string"}]}
    order = {"type": "record", "name": "Order", "namespace": "shop",
             "fields": [{"name": "to", "type": "shop.Address"}]}
    c = codec("AVRO", json.dumps(order), {"shop.Address": json.dumps(address)})
    assert c.decode(c.encode({"to": {"city": "Oslo"}})) == {"to": {"city": "Oslo"}}


def test_avro_payload_that_is_not_the_schemas_is_undecodable():
    with pytest.raises(Undecodable):
        codec("AVRO", json.dumps(USER)).decode(b"\x0e\x02")  # id 7, then a union branch with no string


def test_json_schema_data_is_validated_then_written_as_json_text():
    c = codec("JSON", json.dumps(JSON_USER))
    payload = c.encode({"id": 1, "email": "é@x"})
    assert json.loads(payload.decode("utf-8")) == {"id": 1, "email": "é@x"}
    assert c.decode(payload) == {"id": 1, "email": "é@x"}


@pytest.mark.parametrize("data", [{"email": "x"}, {"id": "1"}, {"id": 1, "other": True}, 5])
def test_json_schema_data_that_does_not_validate_is_refused(data):
    with pytest.raises(DataMismatch):
        codec("JSON", json.dumps(JSON_USER)).encode(data)


def test_json_schema_resolves_references_when_validating():
    c = codec("JSON", json.dumps({"type": "object", "properties": {"who": {"$ref": "user.json"}}}),
              {"user.json": json.dumps(JSON_USER)})
    assert c.encode({"who": {"id": 3}}) == b'{"who":{"id":3}}'
    with pytest.raises(DataMismatch):
        c.encode({"who": {"id": "3"}})


def test_json_schema_payload_that_is_not_json_is_undecodable():
    with pytest.raises(Undecodable):
        codec("JSON", json.dumps(JSON_USER)).decode(b"\xff{")


def test_protobuf_writes_the_first_message_after_its_index_path():
    c = codec("PROTOBUF", PROTO)
    payload = c.encode({"id": "5", "emailAddress": "a@b"})
    assert payload[0] == 0  # message indexes [0]: the single byte 0
    assert c.decode(payload) == {"id": "5", "emailAddress": "a@b"}


def test_protobuf_reads_a_nested_message_by_its_indexes():
    c = codec("PROTOBUF", PROTO)
    # indexes [0, 0] (count 2, then 0, 0 as zig-zag varints), then Inner{n: 3}
    assert c.decode(b"\x04\x00\x00" + b"\x08\x03") == {"n": 3}


def test_protobuf_prints_fields_left_at_their_defaults():
    c = codec("PROTOBUF", PROTO)
    assert c.decode(c.encode({})) == {"id": "0", "emailAddress": ""}


@pytest.mark.parametrize("data", [{"nope": 1}, {"id": "x"}, [1], "text"])
def test_protobuf_data_that_does_not_fit_the_message_is_refused(data):
    with pytest.raises(DataMismatch):
        codec("PROTOBUF", PROTO).encode(data)


@pytest.mark.parametrize("payload", [b"\x06\x00\x00\x00", b"\x02\x09" + b"\x08\x01", b"\x00\xff\xff"])
def test_protobuf_payload_with_bad_indexes_or_body_is_undecodable(payload):
    with pytest.raises(Undecodable):
        codec("PROTOBUF", PROTO).decode(payload)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4),
                           max_leaves=12)
CODECS = {"AVRO": json.dumps(USER), "JSON": json.dumps(JSON_USER), "PROTOBUF": PROTO}


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@pytest.mark.parametrize("schema_type", sorted(CODECS))
@settings(max_examples=150, deadline=None)
@given(data=JSON_VALUES)
def test_any_json_data_is_written_or_refused_as_not_fitting_never_a_crash(schema_type, data):
    c = codec(schema_type, CODECS[schema_type])
    try:
        payload = c.encode(data)
    except DataMismatch:
        return
    c.decode(payload)  # what was written reads back


@pytest.mark.parametrize("schema_type", sorted(CODECS))
@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=40))
def test_any_bytes_decode_or_are_undecodable_never_a_crash(schema_type, payload):
    try:
        codec(schema_type, CODECS[schema_type]).decode(payload)
    except Undecodable:
        pass


RICH = {"type": "record", "name": "Rich", "namespace": "t", "fields": [
    {"name": "n", "type": ["int", "long"]},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
    {"name": "raw", "type": "bytes"},
    {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 2}},
    {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "double"}}},
    {"name": "inner", "type": ["null", {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "long"}]}]},
    {"name": "note", "type": "string", "default": "none"}]}


def test_avro_writes_the_union_branch_the_data_names_as_java_avro_does():
    c = codec("AVRO", json.dumps(RICH))
    data = {"n": {"long": 5}, "kind": "B", "raw": "\u00ff\u0001", "hash": "ab", "tags": {"k": [1, 2.5]},
            "inner": {"t.Inner": {"x": 9}}}
    payload = c.encode(data)
    assert payload[0] == 2  # branch 1 ("long") as a zig-zag varint
    back = c.decode(payload)
    assert list(back.pop("n").values()) == [5]  # read back: the value (int and long print alike)
    expected = {**data, "tags": {"k": [1.0, 2.5]}, "note": "none"}  # the default filled in
    del expected["n"]
    assert back == expected


@pytest.mark.parametrize("data", [
    {"n": {"int": 2**31}, "kind": "A", "raw": "", "hash": "ab", "tags": {}, "inner": None},  # int out of range
    {"n": {"short": 1}, "kind": "A", "raw": "", "hash": "ab", "tags": {}, "inner": None},  # no such branch
    {"n": 1, "kind": "A", "raw": "", "hash": "ab", "tags": {}, "inner": None},  # a union value untagged
    {"n": {"int": 1}, "kind": "C", "raw": "", "hash": "ab", "tags": {}, "inner": None},  # no such symbol
    {"n": {"int": 1}, "kind": "A", "raw": "\u0100", "hash": "ab", "tags": {}, "inner": None},  # not a byte
    {"n": {"int": 1}, "kind": "A", "raw": "", "hash": "abc", "tags": {}, "inner": None},  # fixed of 2
    {"n": {"int": 1}, "kind": "A", "raw": "", "hash": "ab", "tags": {"k": [True]}, "inner": None},
    {"n": {"int": 1}, "kind": "A", "raw": "", "hash": "ab", "tags": {}},  # inner has no default
])
def test_avro_json_that_avros_decoder_refuses_is_refused(data):
    with pytest.raises(DataMismatch):
        codec("AVRO", json.dumps(RICH)).encode(data)


def test_avro_schemas_with_logical_types_or_recursion_still_take_avros_json():
    stamped = {"type": "record", "name": "S", "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}
    c = codec("AVRO", json.dumps(stamped))
    assert c.decode(c.encode({"at": 1700000000000}))["at"] in (1700000000000, "2023-11-14T22:13:20+00:00")
    linked = {"type": "record", "name": "Node", "fields": [
        {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"], "default": None}]}
    c = codec("AVRO", json.dumps(linked))
    assert c.decode(c.encode({"v": 1, "next": {"Node": {"v": 2, "next": None}}})) == \
        {"v": 1, "next": {"Node": {"v": 2, "next": None}}}


@settings(max_examples=200, deadline=None)
@given(data=JSON_VALUES | st.fixed_dictionaries({"id": JSON_VALUES}, optional={"email": JSON_VALUES}))
def test_avro_direct_path_agrees_with_fastavros_json_decoder(data):
    direct = codec("AVRO", json.dumps(USER))
    through_decoder = codec("AVRO", json.dumps(USER))
    through_decoder._direct = False
    outcomes = []
    for c in (direct, through_decoder):
        try:
            outcomes.append(c.encode(data))
        except DataMismatch:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1], (data, outcomes)
