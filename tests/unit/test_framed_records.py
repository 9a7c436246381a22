"""Framed records (Confluent's wire format: magic byte 0, a 4-byte big-endian schema id,
the payload) read back with the registry's schemas by the record codecs both the REST
door's consumers and the console's message browser use: Avro written by fastavro (the
Avro library confluent-kafka's AvroSerializer writes with) comes back in Avro's JSON
encoding, JSON Schema payloads as their JSON, Protobuf through its message indexes; bytes
that are not framed, or not data of their schema, are told apart and never crash the
reader."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

fastavro = pytest.importorskip("fastavro", reason="fastavro writes the Avro test data (the test extra)")

from registry_fixtures import Registry  # noqa: E402
from kraft.schemas.format_table import FORMATS  # noqa: E402
from kraft.schemas.framed_lookup import describe  # noqa: E402
from kraft.schemas.record_codec_table import codec_for  # noqa: E402
from kraft.schemas.record_codecs import Undecodable  # noqa: E402
from kraft.schemas.wire_format import frame  # noqa: E402
from kraft.schemas.protobuf.indexes import encode as encode_indexes  # noqa: E402

ORDER = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "price", "type": ["null", "double"]},
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["NEW", "PAID"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "extra", "type": {"type": "map", "values": "int"}},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 2}},
        {"name": "blob", "type": "bytes"},
        {"name": "ok", "type": "boolean"},
        {"name": "ratio", "type": "float"},
    ],
}
PROTO = """syntax = "proto3";
package shop;
message Order { int64 id = 1; string note = 2; message Line { string sku = 1; int32 count = 2; } repeated Line lines = 3; }
message Refund { int64 order_id = 1; }
"""


def avro_bytes(schema: dict, datum: dict) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), datum)
    return out.getvalue()


def parsed(schema_type: str, text: str):
    return FORMATS[schema_type].parse(text, {})


def decode(schema, payload: bytes):
    return codec_for(schema.schema_type, schema, {}).decode(payload)


def test_avro_data_reads_back_in_avros_json_encoding():
    datum = {"id": -7, "note": "hi", "price": None, "state": "PAID", "tags": ["a", "b"], "extra": {"k": 3},
             "digest": b"\x00\xff", "blob": b"\x01A", "ok": True, "ratio": 0.5}
    got = decode(parsed("AVRO", json.dumps(ORDER)), avro_bytes(ORDER, datum))
    assert got == {"id": -7, "note": {"string": "hi"}, "price": None, "state": "PAID", "tags": ["a", "b"],
                   "extra": {"k": 3}, "digest": "\u0000\u00ff", "blob": "\u0001A", "ok": True, "ratio": 0.5}


def test_avro_data_of_another_schema_is_not_decodable():
    schema = parsed("AVRO", json.dumps(ORDER))
    with pytest.raises(Undecodable, match="ends early"):
        decode(schema, avro_bytes({"type": "record", "name": "X", "fields": [{"name": "id", "type": "long"}]}, {"id": 1}))
    with pytest.raises(Undecodable, match="left after"):
        decode(parsed("AVRO", '"long"'), b"\x02\x02")


def test_a_huge_array_of_nulls_is_refused_before_it_is_read():
    schema = parsed("AVRO", '{"type": "array", "items": "null"}')
    huge = b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"  # zig-zag 2**62-1 items of zero bytes each
    with pytest.raises(Undecodable, match="more than"):  # counted before any is read
        decode(schema, huge + b"\x00")


def test_numbers_wider_than_64_bits_never_reach_the_answer_as_integers():
    with pytest.raises(Undecodable, match="64 bits"):
        decode(parsed("AVRO", '"long"'), b"\xff" * 9 + b"\x7f")  # 70 bits
    schema = parsed("JSON", '{"type": "object"}')
    assert decode(schema, b'{"n": 123456789012345678901234567890}') == {"n": 1.2345678901234568e29}


def test_json_schema_payloads_are_their_json_text():
    schema = parsed("JSON", '{"type": "object", "properties": {"n": {"type": "integer"}}}')
    assert decode(schema, b'{"n": 3}') == {"n": 3}
    with pytest.raises(Undecodable, match="not JSON"):
        decode(schema, b"\xff{")


def test_protobuf_message_indexes_name_the_message_read():
    registry = Registry(FORMATS)
    schema_id = registry.register("p-value", PROTO, "PROTOBUF")["id"]
    schema = parsed("PROTOBUF", PROTO)

    def shown(payload: bytes):
        found = describe(registry.state, registry.parser, frame(schema_id, payload))
        return found.get("message"), found.get("data", found.get("error"))

    line = schema.message_class("shop.Order.Line")(sku="x", count=2)
    assert shown(encode_indexes([0, 0]) + line.SerializeToString()) == ("shop.Order.Line", {"sku": "x", "count": 2})
    refund = schema.message_class("shop.Refund")(order_id=9)
    # JSON names; int64 as a string
    assert shown(encode_indexes([1]) + refund.SerializeToString()) == ("shop.Refund", {"orderId": "9"})
    order = b"\x00" + schema.message_class("shop.Order")(id=1).SerializeToString()
    assert shown(order) == ("shop.Order", {"id": "1", "note": "", "lines": []})  # defaults shown too
    with pytest.raises(Undecodable):
        decode(schema, encode_indexes([5]))


def test_only_magic_byte_0_with_a_positive_id_is_framed():
    registry = Registry(FORMATS)
    for data in (None, b"", b"\x00\x00\x00\x01", b"\x01\x00\x00\x00\x01x", b"\x00\x00\x00\x00\x00x",
                 b"\x00\xff\xff\xff\xffx", b'{"a":1}'):
        assert describe(registry.state, registry.parser, data) is None, data


def test_describe_names_the_subjects_holding_the_id_and_says_why_it_cannot_decode():
    registry = Registry(FORMATS)
    schema_id = registry.register("orders-value", json.dumps(ORDER))["id"]
    datum = {"id": 1, "note": None, "price": 2.5, "state": "NEW", "tags": [], "extra": {}, "digest": b"ab",
             "blob": b"", "ok": False, "ratio": 1.0}
    state, parser = registry.state, registry.parser
    found = describe(state, parser, frame(schema_id, avro_bytes(ORDER, datum)))
    assert found["schema_type"] == "AVRO" and found["data"]["price"] == {"double": 2.5}
    assert found["subjects"] == [{"subject": "orders-value", "version": 1, "deleted": False}]
    assert describe(state, parser, b"plain") is None
    assert describe(state, parser, frame(99, b"")) == {"schema_id": 99, "error": "schema id 99 is not in the registry"}
    assert "not Avro written" in describe(state, parser, frame(schema_id, b"\x01"))["error"]


@pytest.fixture(scope="module")
def three_formats():
    registry = Registry(FORMATS)
    ids = [registry.register("a-value", json.dumps(ORDER))["id"],
           registry.register("j-value", '{"type": "object"}', "JSON")["id"],
           registry.register("p-value", PROTO, "PROTOBUF")["id"]]
    return registry, ids


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2), payload=st.binary(max_size=64))
def test_any_bytes_under_a_registered_id_are_described_and_fit_in_json(three_formats, which, payload):
    registry, ids = three_formats
    found = describe(registry.state, registry.parser, frame(ids[which], payload))
    assert found is not None and ("data" in found) != ("error" in found)
    orjson.dumps(found)  # what the HTTP answer does with it: never a 500
