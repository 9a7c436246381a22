"""The registry's look-up and validation traps, as Confluent answers them: a JSON Schema
found whatever its key order, an Avro namespace Avro's parser refuses, and the Accept
header's content negotiation."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf.descriptor_pb2 import FileDescriptorProto

from registry_fixtures import Registry
from kraft.registry.media import negotiate
from kraft.schemas.format_table import FORMATS
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_reads import in_format, lookup
from kraft.schemas.registry_requests import plain_subject, register_request

OBJ = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
REORDERED = {"properties": {"b": {"type": "integer"}, "a": {"type": "string"}}, "type": "object"}


def real() -> Registry:
    return Registry(FORMATS)


def test_a_json_schema_in_another_key_order_is_found_and_not_registered_again():
    r = real()
    r.register("j", json.dumps(OBJ), "JSON")
    found = lookup(r.state, r.parser, "j", {"schema": json.dumps(REORDERED), "schemaType": "JSON"}, False, False)
    assert (found["id"], found["version"]) == (1, 1)
    before = len(r.log)
    assert r.register("j", json.dumps(REORDERED), "JSON") == {"id": 1, "version": 1}
    assert len(r.log) == before


def test_key_order_does_not_hide_a_real_difference():
    r = real()
    r.register("j", json.dumps(OBJ), "JSON")
    other = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}
    with pytest.raises(RegistryError) as caught:
        lookup(r.state, r.parser, "j", {"schema": json.dumps(other), "schemaType": "JSON"}, False, False)
    assert caught.value.error_code == 40403


@pytest.mark.parametrize("namespace", ["foo-bar-baz", "a..b", "x.1y", "ok.then-"])
def test_an_avro_namespace_avros_parser_refuses_is_42201(namespace):
    text = json.dumps({"type": "record", "name": "R", "namespace": namespace, "fields": []})
    with pytest.raises(RegistryError) as caught:
        real().register("a", text)
    assert caught.value.error_code == 42201 and namespace in caught.value.message


def test_a_dotted_namespace_and_the_null_namespace_are_taken():
    r = real()
    for i, namespace in enumerate(("com.example.v1", "")):
        r.register(f"a{i}", json.dumps({"type": "record", "name": "R", "namespace": namespace, "fields": []}))


@pytest.mark.parametrize("accept, answered", [
    (None, "application/vnd.schemaregistry.v1+json"),
    ("*/*", "application/vnd.schemaregistry.v1+json"),
    ("application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json",
     "application/vnd.schemaregistry.v1+json"),
    ("application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json"),
    ("application/json", "application/json"),
    ("text/html, */*;q=0.1", "application/vnd.schemaregistry.v1+json"),
    ("text/html", None),
    ("application/xml, text/plain", None),
    ("application/json;q=0", None),
])
def test_the_accept_header_picks_the_answers_type_or_refuses(accept, answered):
    assert negotiate(accept) == answered


def test_a_subject_of_another_context_is_42208_and_the_default_contexts_is_the_plain_name():
    assert plain_subject(":.:orders-value") == "orders-value"
    assert plain_subject("orders:.x") == "orders:.x"  # a colon inside a name qualifies nothing
    for name in (":.ctx:orders-value", ":.ctx:", ":.__GLOBAL:x"):
        with pytest.raises(RegistryError) as caught:
            plain_subject(name)
        assert caught.value.error_code == 42208


def test_a_reference_to_a_subject_of_another_context_is_42208():
    body = {"schema": "{}", "references": [{"name": "n", "subject": ":.ctx:other", "version": 1}]}
    with pytest.raises(RegistryError) as caught:
        register_request("s", body, None)
    assert caught.value.error_code == 42208


def test_format_serialized_answers_a_protobuf_schema_as_a_base64_descriptor_and_others_are_refused():
    r = real()
    r.register("p", 'syntax = "proto3";\npackage t;\nmessage M { string a = 1; }\n', "PROTOBUF")
    record = r.state.versions("p")[0]
    assert in_format(r.state, r.parser, record, None) == record
    served = in_format(r.state, r.parser, record, "serialized")
    assert [m.name for m in FileDescriptorProto.FromString(base64.b64decode(served.schema)).message_type] == ["M"]
    r.register("a", json.dumps({"type": "record", "name": "R", "fields": []}))
    for fmt in ("resolved", "serialized"):
        with pytest.raises(RegistryError) as caught:
            in_format(r.state, r.parser, r.state.versions("a")[0], fmt)
        assert caught.value.error_code == 400
